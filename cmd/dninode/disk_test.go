package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// The tests in this file are about the files a node keeps on its disk.

// logRoot returns the page the Raft log's bucket starts on in a bolt file.
func logRoot(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
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
		t.Fatal("the log's bucket is inline: write more before damaging it")
	}
	return root
}

// scribble overwrites n bytes of the file at off with random ones.
func scribble(t *testing.T, path string, off int64, n int) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestANodeWithADamagedFileExitsNamingItAndTheWayToRecover(t *testing.T) {
	page := int64(os.Getpagesize())
	for _, tc := range []struct {
		name   string
		file   string // in the data dir
		damage func(t *testing.T, path string)
	}{
		{"the log's meta pages", "raft/raft.db", func(t *testing.T, path string) { scribble(t, path, 0, int(2*page)) }},
		{"the page the log's entries start on", "raft/raft.db", func(t *testing.T, path string) {
			scribble(t, path, logRoot(t, path)*page, int(page))
		}},
		{"the outbox's meta pages", "outbox.db", func(t *testing.T, path string) { scribble(t, path, 0, int(2*page)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, dataDir := oneNode(t, "damaged")
			path := filepath.Join(dataDir, tc.file)
			tc.damage(t, path)
			code, out := runUntilExit(t, args...)
			noPanic(t, out)
			last := out[strings.LastIndex(strings.TrimSuffix(out, "\n"), "\n")+1:]
			if code == 0 || !strings.HasPrefix(last, "dninode: ") || !strings.Contains(last, path+" is corrupt") ||
				!strings.Contains(last, "docs/operations.md") {
				t.Fatalf("exit code %d, output:\n%s\nwant a non-zero exit and a last line naming %s and the operator's guide", code, out, path)
			}
			t.Log(strings.TrimSpace(last))
		})
	}
}
