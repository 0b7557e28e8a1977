package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dni-dev/dni/allocator"
)

// memSink is a raft.SnapshotSink over a buffer.
type memSink struct {
	bytes.Buffer
	canceled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.canceled = true; return nil }
func (s *memSink) Close() error  { return nil }

// snapshotBytes persists f's current state and returns the bytes.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

func restored(t testing.TB, b []byte) *FSM {
	t.Helper()
	f := New(nil)
	if err := f.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	return f
}

func logs(cmds []Command, first uint64) []*raft.Log {
	out := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		out[i] = &raft.Log{Index: first + uint64(i), Type: raft.LogCommand, Data: Encode(c)}
	}
	return out
}

func TestEveryCommandSurvivesEncodeAndDecode(t *testing.T) {
	g := newCommandGen(1)
	for _, c := range g.commands(3000) {
		got, err := Decode(Encode(c))
		if err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("%T changed through the codec:\n got %+v\nwant %+v", c, got, c)
		}
	}
}

// TestPoolsWrittenBeforeALaterSettingExistedReadWithItsDefault cuts each
// later setting off the end of a CreatePool and a pool record, as a node
// without it wrote them: they still decode, the settings they carry as
// written and the rest as pools had them then.
func TestPoolsWrittenBeforeALaterSettingExistedReadWithItsDefault(t *testing.T) {
	st := newCommandGen(1).settings()
	st.Allocation = allocator.AllocateRandom
	st.DisplaceAfter = 0
	st.VisitsPerMinute, st.VisitBurst = 7, 3
	st.AllowedOrigins = []string{"https://shop.example"}
	for kept := range len(laterSettings) {
		want := st
		for _, l := range laterSettings[kept:] {
			l.missing(&want)
		}
		var tail encoder
		for _, l := range laterSettings[kept:] {
			l.encode(&tail, &st)
		}
		old := func(b []byte) []byte { return b[:len(b)-len(tail.buf)] }

		create := Encode(&CreatePool{ID: "p1", Key: "k1", Settings: st, At: time.UnixMilli(1e12)})
		c, err := Decode(old(create))
		if err != nil {
			t.Fatalf("%d later settings kept: %v", kept, err)
		}
		if got := c.(*CreatePool).Settings; !reflect.DeepEqual(got, want) {
			t.Errorf("%d later settings kept: an old CreatePool decodes with\n%+v\nwant\n%+v", kept, got, want)
		}

		var e encoder
		e.poolRecord(&allocator.PoolRecord{Seq: 1, ID: "p1", Key: "k1", Settings: st})
		var pr allocator.PoolRecord
		d := decoder{buf: old(e.buf)}
		d.poolRecord(&pr)
		d.end()
		if d.err != nil || !reflect.DeepEqual(pr.Settings, want) {
			t.Errorf("%d later settings kept: an old pool record decodes with\n%+v (%v)\nwant\n%+v", kept, pr.Settings, d.err, want)
		}
	}
}

// TestAnAssignWrittenBeforeTheGuardsReplaysWithoutThem: an Assign as a node
// wrote it before the guards against scripts (without their last byte)
// decodes as unguarded and gets the number a pool past its budget refuses
// to a guarded one, as it did when it was first applied; so nodes that
// replay an old log from different snapshots agree.
func TestAnAssignWrittenBeforeTheGuardsReplaysWithoutThem(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	st := allocator.Settings{Name: "Ads", Size: 4, SwapTarget: "415-555-0100", ForwardTo: []string{"+14155550100"}}.WithDefaults()
	st.VisitsPerMinute, st.VisitBurst = 1, 1
	f := New(nil)
	f.ApplyBatch(logs([]Command{
		&CreatePool{ID: "p1", Key: "k1", Settings: st, At: at},
		&AddNumber{Pool: "p1", E164: "+14155550101", At: at}, &AddNumber{Pool: "p1", E164: "+14155550102", At: at},
		&Assign{Visit: allocator.VisitID{1}, PoolKey: "k1", At: at},
	}, 1))
	guarded := Encode(&Assign{Visit: allocator.VisitID{2}, PoolKey: "k1", At: at})
	old := guarded[:len(guarded)-1]
	c, err := Decode(old)
	if err != nil || !c.(*Assign).Unguarded {
		t.Fatalf("an Assign written before the guards decodes as %+v, %v", c, err)
	}
	if again := Encode(c); !bytes.Equal(again, old) {
		t.Fatal("an old Assign does not encode back to what the old node wrote")
	}
	for i, entry := range [][]byte{guarded, old} {
		r := f.Apply(&raft.Log{Index: uint64(10 + i), Type: raft.LogCommand, Data: entry}).(Result)
		a := r.Value.(allocator.Assignment)
		if want := []allocator.Outcome{allocator.OverBudget, allocator.Fresh}[i]; a.Outcome != want {
			t.Errorf("entry %d: %s, want %s", i, a.Outcome, want)
		}
	}
}

// TestASnapshotCarriesWhatEachPoolSpentOfItsBudget: a node restored from a
// snapshot refuses the visit past a pool's budget as the node that took the
// snapshot does, so that N nodes grant the budget once.
func TestASnapshotCarriesWhatEachPoolSpentOfItsBudget(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	st := allocator.Settings{Name: "Ads", Size: 4, SwapTarget: "415-555-0100", ForwardTo: []string{"+14155550100"}}.WithDefaults()
	st.VisitsPerMinute, st.VisitBurst = 1, 2
	cmds := []Command{&CreatePool{ID: "p1", Key: "k1", Settings: st, At: at}, &CreatePool{ID: "p2", Key: "k2", Settings: st, At: at}}
	for i := range 4 {
		cmds = append(cmds, &AddNumber{Pool: "p1", E164: fmt.Sprintf("+1415555010%d", i), At: at})
	}
	cmds = append(cmds, &Assign{Visit: allocator.VisitID{1}, PoolKey: "k1", At: at}, &Assign{Visit: allocator.VisitID{2}, PoolKey: "k1", At: at})
	f := New(nil)
	f.ApplyBatch(logs(cmds, 1))
	snap := snapshotBytes(t, f)
	replica := restored(t, snap)
	if !bytes.Equal(snapshotBytes(t, replica), snap) {
		t.Fatal("a restored replica snapshots differently")
	}
	if p := replica.State().Pool("p1"); p.WithinBudget(at) || !p.WithinBudget(at.Add(time.Minute)) {
		t.Fatal("the restored pool's budget is not the one spent")
	}
	third := logs([]Command{&Assign{Visit: allocator.VisitID{3}, PoolKey: "k1", At: at.Add(time.Second)}}, uint64(len(cmds)+1))
	for _, m := range []*FSM{f, replica} {
		if a := m.Apply(third[0]).(Result).Value.(allocator.Assignment); a.Outcome != allocator.OverBudget {
			t.Fatalf("the third visit within the burst of two: %s", a.Outcome)
		}
	}
}

func TestTwoFSMsFedTheSameLogHaveByteIdenticalSnapshots(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		entries := logs(newCommandGen(seed).commands(2000), 1)
		one, batched := New(nil), New(nil)
		for _, l := range entries {
			one.Apply(l)
		}
		// The other replica gets the same entries in batches of random size,
		// as raft hands them over when it falls behind.
		r := rand.New(rand.NewPCG(seed, 7))
		for rest := entries; len(rest) > 0; {
			n := min(len(rest), 1+r.IntN(64))
			batched.ApplyBatch(rest[:n])
			rest = rest[n:]
		}
		a, b := snapshotBytes(t, one), snapshotBytes(t, batched)
		if !bytes.Equal(a, b) {
			t.Fatalf("seed %d: snapshots differ (%d and %d bytes)", seed, len(a), len(b))
		}
		if one.AppliedIndex() != uint64(len(entries)) || batched.AppliedIndex() != uint64(len(entries)) {
			t.Fatalf("applied index %d and %d, want %d", one.AppliedIndex(), batched.AppliedIndex(), len(entries))
		}
	}
}

func TestARestoredStateKnowsItsLogIndex(t *testing.T) {
	f := New(nil)
	f.ApplyBatch(logs(newCommandGen(9).commands(100), 1))
	if got := restored(t, snapshotBytes(t, f)).AppliedIndex(); got != 100 {
		t.Fatalf("restored at index %d, want 100", got)
	}
	var backup bytes.Buffer
	if err := f.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	if got := restored(t, backup.Bytes()).AppliedIndex(); got != 0 {
		t.Fatalf("a backup claims index %d; it belongs to no log", got)
	}
}

func TestSnapshotRestoreRoundTripIsByteIdentical(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		f := New(nil)
		f.ApplyBatch(logs(newCommandGen(seed).commands(3000), 1))
		a := snapshotBytes(t, f)
		b := snapshotBytes(t, restored(t, a))
		if !bytes.Equal(a, b) {
			t.Fatalf("seed %d: snapshot changed through restore (%d and %d bytes)", seed, len(a), len(b))
		}
	}
}

func TestRestoringASnapshotAndReplayingTheRestGivesTheSameState(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		entries := logs(newCommandGen(seed).commands(3000), 1)
		cut := 500 + int(seed)*100
		whole := New(nil)
		whole.ApplyBatch(entries[:cut])
		replica := restored(t, snapshotBytes(t, whole))
		whole.ApplyBatch(entries[cut:])
		replica.ApplyBatch(entries[cut:])
		if !bytes.Equal(snapshotBytes(t, whole), snapshotBytes(t, replica)) {
			t.Fatalf("seed %d: restored replica diverged after replaying the log", seed)
		}
	}
}

func TestApplyReturnsTheAllocatorsAnswer(t *testing.T) {
	f := New(nil)
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	settings := allocator.Settings{Name: "Ads", Size: 4, SwapTarget: "415-555-0100", ForwardTo: []string{"+14155550100"}}.WithDefaults()
	settings.DisplaceAfter = 0 // the second visit displaces the first at once
	cmds := []Command{
		&CreatePool{ID: "p1", Key: "k1", Settings: settings, At: at},
		&AddNumber{Pool: "p1", E164: "+14155550101", At: at},
		&Batch{Commands: []Command{
			&Assign{Visit: allocator.VisitID{1}, PoolKey: "k1", At: at},
			&Assign{Visit: allocator.VisitID{2}, PoolKey: "k1", At: at},
			&Assign{Visit: allocator.VisitID{3}, PoolKey: "nope", At: at},
		}},
	}
	var out []any
	for _, l := range logs(cmds, 1) {
		out = append(out, f.Apply(l))
	}
	if p := out[0].(Result).Value.(*allocator.Pool); p.ID != "p1" {
		t.Fatalf("create pool answered %+v", out[0])
	}
	batch := out[2].(Result).Value.([]Result)
	if a := batch[0].Value.(allocator.Assignment); a.Outcome != allocator.Fresh || a.Number.E164 != "+14155550101" {
		t.Errorf("first visit got %+v", a)
	}
	if a := batch[1].Value.(allocator.Assignment); a.Outcome != allocator.Recycled || a.Displaced.ID != (allocator.VisitID{1}) {
		t.Errorf("second visit got %+v", a)
	}
	if !errors.Is(batch[2].Err, allocator.ErrUnknownPool) {
		t.Errorf("visit to an unknown pool: %v", batch[2].Err)
	}
}

func TestAnUnknownCommandMarkedIgnoreUnknownIsSkipped(t *testing.T) {
	f := New(nil)
	res := f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: []byte{byte(IgnoreUnknown | 100), 1, 2, 3}})
	if r, ok := res.(Result); !ok || !errors.Is(r.Err, ErrSkippedCommand) {
		t.Fatalf("got %+v", res)
	}
	// Inside a batch, the known commands around it still apply.
	e := encoder{}
	e.byte(byte(TypeBatch))
	e.uvarint(2)
	unknown := []byte{byte(IgnoreUnknown | 101), 9}
	e.uvarint(uint64(len(unknown)))
	e.buf = append(e.buf, unknown...)
	expire := Encode(&Expire{At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	e.uvarint(uint64(len(expire)))
	e.buf = append(e.buf, expire...)
	res = f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: e.buf})
	batch := res.(Result).Value.([]Result)
	if !errors.Is(batch[0].Err, ErrSkippedCommand) || batch[1].Err != nil || batch[1].Value != 0 {
		t.Fatalf("got %+v", batch)
	}
}

func TestAMalformedCommandFailsAloneAndChangesNothing(t *testing.T) {
	f := New(nil)
	f.ApplyBatch(logs(newCommandGen(3).commands(500), 1))
	var before, after bytes.Buffer
	if err := f.Backup(&before); err != nil {
		t.Fatal(err)
	}
	res := f.Apply(&raft.Log{Index: 501, Type: raft.LogCommand, Data: []byte{byte(TypeAssign), 1, 2}})
	if r := res.(Result); !errors.Is(r.Err, ErrBadCommand) {
		t.Fatalf("got %+v", r)
	}
	if err := f.Backup(&after); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Fatal("a malformed command changed the state")
	}
}

func TestNonCommandEntriesAreAppliedAsNothing(t *testing.T) {
	f := New(nil)
	out := f.ApplyBatch([]*raft.Log{{Index: 1, Type: raft.LogConfiguration, Data: []byte{1, 2}}})
	if out[0] != nil || f.AppliedIndex() != 1 {
		t.Fatalf("got %v, applied %d", out, f.AppliedIndex())
	}
}

func TestACorruptSnapshotLeavesTheStateAlone(t *testing.T) {
	f := New(nil)
	f.ApplyBatch(logs(newCommandGen(4).commands(1000), 1))
	good := snapshotBytes(t, f)
	for _, bad := range [][]byte{
		nil,
		[]byte("DNI-SNAP"),
		good[:len(good)/2],
		append(append([]byte{}, good...), 0),
		func() []byte { b := append([]byte{}, good...); b[len(b)/2] ^= 0x40; return b }(),
	} {
		if err := f.Restore(io.NopCloser(bytes.NewReader(bad))); err == nil {
			t.Fatalf("restored a corrupt snapshot of %d bytes", len(bad))
		}
	}
	if !bytes.Equal(good, snapshotBytes(t, f)) {
		t.Fatal("a failed restore changed the state")
	}
}

// TestReadersRunBesideApply runs the read methods handlers use while commands
// are applied; under -race it proves the reads need no lock.
func TestReadersRunBesideApply(t *testing.T) {
	f := New(nil)
	entries := logs(newCommandGen(5).commands(4000), 1)
	var done atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !done.Load() {
				s := f.State()
				for _, p := range s.Pools() {
					_ = p.Settings()
					_ = p.Status()
					_ = p.Counts()
					for _, v := range p.Holders() {
						if n := v.Number(); n != nil {
							_ = n.E164
						}
						_ = v.LastSeen()
						_ = s.Visit(v.ID)
					}
					for _, n := range p.Numbers() {
						_ = n.State()
						_ = n.Holder()
						_ = n.Tenures()
						_ = s.MatchCall(n.E164, time.Now())
					}
				}
				s.Calls(func(c *allocator.Call) bool { _ = c.Status; return true })
			}
		})
	}
	for rest := entries; len(rest) > 0; rest = rest[min(len(rest), 16):] {
		f.ApplyBatch(rest[:min(len(rest), 16)])
		if len(rest)%512 == 0 {
			snapshotBytes(t, f)
		}
	}
	done.Store(true)
	wg.Wait()
}

func TestReceiptsCrossTheNetworkWithTheirMeaning(t *testing.T) {
	f := New(nil)
	for _, l := range logs(newCommandGen(8).commands(1500), 1) {
		r, ok := f.Apply(l).(Result)
		if !ok {
			continue
		}
		want := ReceiptsOf(l.Index, r)
		got, err := DecodeReceipts(EncodeReceipts(want))
		if err != nil || len(got) != len(want) {
			t.Fatalf("entry %d: %v", l.Index, err)
		}
		for i := range want {
			w, g := want[i], got[i]
			if g.Index != l.Index {
				t.Fatalf("entry %d: receipt %d says index %d", l.Index, i, g.Index)
			}
			if (w.Err == nil) != (g.Err == nil) {
				t.Fatalf("entry %d: error %v became %v", l.Index, w.Err, g.Err)
			}
			if w.Err != nil {
				if g.Err.Error() != w.Err.Error() {
					t.Fatalf("entry %d: error %q became %q", l.Index, w.Err, g.Err)
				}
				for _, sentinel := range errorCodes {
					if errors.Is(w.Err, sentinel) != errors.Is(g.Err, sentinel) {
						t.Fatalf("entry %d: %q lost or gained %v", l.Index, w.Err, sentinel)
					}
				}
				w.Err, g.Err = nil, nil
			}
			if !reflect.DeepEqual(w, g) {
				t.Fatalf("entry %d: receipt %+v became %+v", l.Index, w, g)
			}
		}
	}
}
