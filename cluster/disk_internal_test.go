package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

var logOptions = &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}

// writeLog makes a Raft log as a node keeps it: entries first..last of
// about size bytes each (some far larger, on overflow pages), the oldest
// half deleted again as after a snapshot, so that the file has free pages
// and a tree of several levels.
func writeLog(t testing.TB, path string, opts *bbolt.Options, entries, size int) {
	t.Helper()
	store, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: opts, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rng := rand.New(rand.NewPCG(uint64(entries), uint64(size)))
	var batch []*raft.Log
	for i := 1; i <= entries; i++ {
		n := size/2 + rng.IntN(size)
		if i%97 == 0 {
			n *= 8
		}
		data := make([]byte, n)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		batch = append(batch, &raft.Log{Index: uint64(i), Term: 1, Type: raft.LogCommand, Data: data})
		if len(batch) == 512 || i == entries {
			if err := store.StoreLogs(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := store.DeleteRange(1, uint64(entries/2)); err != nil {
		t.Fatal(err)
	}
	if err := store.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		t.Fatal(err)
	}
}

func TestTheCheckPassesEveryLogBoltWrites(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    *bbolt.Options
		entries int
		size    int
	}{
		{"empty", logOptions, 0, 0},
		{"a few entries, inline", logOptions, 3, 20},
		{"many small entries", logOptions, 3000, 200},
		{"large entries on overflow pages", logOptions, 300, 6000},
		{"with its free list kept on disk", &bbolt.Options{Timeout: time.Second}, 3000, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "raft.db")
			writeLog(t, path, tc.opts, tc.entries, tc.size)
			if err := checkBolt(path); err != nil {
				t.Fatalf("a log bolt wrote does not pass: %v", err)
			}
			store, err := openLog(path, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			store.Close()
		})
	}
}

// logRoot returns the page the log bucket's tree starts on.
func logRoot(t testing.TB, path string) int64 {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var root int64
	db.View(func(tx *bbolt.Tx) error {
		root = int64(tx.Bucket([]byte("logs")).Root())
		return nil
	})
	if root == 0 {
		t.Fatal("the log bucket is inline: write more entries")
	}
	return root
}

func overwrite(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func garbage(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestADamagedLogIsAnErrorNamingTheFile(t *testing.T) {
	page := int64(os.Getpagesize())
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"both meta pages overwritten", func(t *testing.T, path string) { overwrite(t, path, 0, garbage(int(2*page), 1)) }},
		{"the log's root page overwritten", func(t *testing.T, path string) {
			overwrite(t, path, logRoot(t, path)*page, garbage(int(page), 2))
		}},
		{"the log's root page zeroed", func(t *testing.T, path string) {
			overwrite(t, path, logRoot(t, path)*page, make([]byte, page))
		}},
		{"the log's root page claiming more elements than it holds", func(t *testing.T, path string) {
			overwrite(t, path, logRoot(t, path)*page+10, []byte{0xff, 0x7f})
		}},
		{"cut in half", func(t *testing.T, path string) {
			info, _ := os.Stat(path)
			if err := os.Truncate(path, info.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"shorter than its meta pages", func(t *testing.T, path string) {
			if err := os.Truncate(path, page+100); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "raft.db")
			writeLog(t, path, logOptions, 3000, 200)
			tc.damage(t, path)
			store, err := openLog(path, logOptions)
			var corrupt *CorruptFileError
			if !errors.As(err, &corrupt) || corrupt.Path != path {
				if store != nil {
					store.Close()
				}
				t.Fatalf("opening the damaged log gave %v, want a *CorruptFileError naming %s", err, path)
			}
			t.Log(err)
		})
	}
}

func TestADamagedOutboxIsAnErrorNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	o, err := openOutbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := o.put(garbage(300, uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	o.db.Close()
	path := filepath.Join(dir, "outbox.db")
	overwrite(t, path, 0, garbage(2*os.Getpagesize(), 3))
	_, err = openOutbox(dir)
	var corrupt *CorruptFileError
	if !errors.As(err, &corrupt) || corrupt.Path != path {
		t.Fatalf("opening the damaged outbox gave %v, want a *CorruptFileError naming %s", err, path)
	}
}

// TestNoDamageToALogMakesOpeningItPanic overwrites random stretches of a
// log, anywhere in it, and opens it: each is an error, or a log that
// opens, reads whole and takes new entries. A panic would end the test
// binary.
func TestNoDamageToALogMakesOpeningItPanic(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.db")
	writeLog(t, good, logOptions, 2000, 300)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	page := os.Getpagesize()
	const tries = 200
	refused := 0
	for i := range tries {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("damaged-%d.db", i))
		b := append([]byte(nil), orig...)
		// Half anywhere, half in the first bytes of a page, where its
		// header and first elements are.
		off := rng.IntN(len(b))
		if i%2 == 1 {
			off = rng.IntN(len(b)/page)*page + rng.IntN(64)
		}
		n := 1 + rng.IntN(min(64, len(b)-off))
		for j := off; j < off+n; j++ {
			b[j] = byte(rng.Uint32())
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		store, err := openLog(path, logOptions)
		if err != nil {
			var corrupt *CorruptFileError
			if !errors.As(err, &corrupt) {
				t.Fatalf("bytes %d to %d overwritten: %v, not a *CorruptFileError", off, off+n, err)
			}
			refused++
			continue
		}
		last, _ := store.LastIndex()
		if err := store.StoreLogs([]*raft.Log{{Index: last + 1, Term: 1, Type: raft.LogCommand, Data: []byte("more")}}); err != nil {
			t.Logf("bytes %d to %d overwritten: the log opened but takes no entry: %v", off, off+n, err)
		}
		store.Close()
	}
	t.Logf("%d of %d damaged logs refused as corrupt; the others were damaged in free pages or inside entries' data, which bolt keeps no checksum of", refused, tries)
}

// BenchmarkOpenLog opens a log of a realistic size, the most a node keeps
// with the default settings (a snapshot every 8192 entries, 10240 kept
// after it): the check and the read of every entry at start, against
// bolt's open alone.
func BenchmarkOpenLog(b *testing.B) {
	const entries = DefaultSnapshotThreshold + DefaultTrailingLogs
	for _, size := range []int{512, 4096} {
		path := filepath.Join(b.TempDir(), "raft.db")
		writeLog(b, path, logOptions, 2*entries, size) // half of it deleted again
		info, _ := os.Stat(path)
		name := fmt.Sprintf("%d entries of ~%d B, %d MB", entries, size, info.Size()>>20)
		b.Run(name+"/bolt alone", func(b *testing.B) {
			for b.Loop() {
				store, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: logOptions})
				if err != nil {
					b.Fatal(err)
				}
				store.Close()
			}
		})
		b.Run(name+"/check", func(b *testing.B) {
			for b.Loop() {
				if err := checkBolt(path); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/openLog", func(b *testing.B) {
			for b.Loop() {
				store, err := openLog(path, logOptions)
				if err != nil {
					b.Fatal(err)
				}
				store.Close()
			}
		})
	}
}
