package fsm

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// The tests in this file are about logs written by a newer version: a
// command this version does not know stops the state machine, unless its
// type is marked IgnoreUnknown, when every node skips it alike.

// rawBatch encodes a batch of already encoded commands, known or not.
func rawBatch(bodies ...[]byte) []byte {
	e := encoder{}
	e.byte(byte(TypeBatch))
	e.uvarint(uint64(len(bodies)))
	for _, b := range bodies {
		e.uvarint(uint64(len(b)))
		e.buf = append(e.buf, b...)
	}
	return e.buf
}

func commandLog(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: data}
}

func createPool(id string) []byte {
	return Encode(&CreatePool{ID: id, Key: "k" + id, Settings: newCommandGen(1).settings(), At: time.UnixMilli(1e12)})
}

// stoppable is a state machine that records what it reported fatally.
func stoppable(t *testing.T) (*FSM, *[]error) {
	t.Helper()
	f := New(slog.New(slog.DiscardHandler))
	var fatal []error
	f.Fatal = func(err error) { fatal = append(fatal, err) }
	return f, &fatal
}

func TestDecodeSaysABatchHoldingAnUnknownCommandIsUnknown(t *testing.T) {
	_, err := Decode(rawBatch(createPool("p1"), []byte{100, 1, 2}))
	if !errors.Is(err, ErrUnknownCommand) || !errors.Is(err, ErrBadCommand) {
		t.Fatalf("got %v, want an error that is both ErrUnknownCommand and ErrBadCommand", err)
	}
	var unknown unknownCommand
	if !errors.As(err, &unknown) || unknown.t != 100 {
		t.Fatalf("the error %v does not name type 100", err)
	}
}

func TestAnUnknownCommandStopsTheStateMachineBeforeAnyLaterEntry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"alone", []byte{100, 1, 2, 3}},
		{"in a batch", rawBatch(createPool("p2"), []byte{100, 1, 2, 3}, createPool("p3"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, fatal := stoppable(t)
			out := f.ApplyBatch([]*raft.Log{commandLog(1, createPool("p1")), commandLog(2, tc.entry), commandLog(3, createPool("p4"))})
			f.Apply(commandLog(4, createPool("p5")))

			if len(*fatal) != 1 {
				t.Fatalf("Fatal was called %d times, want once: %v", len(*fatal), *fatal)
			}
			var e *UnknownEntryError
			if !errors.As((*fatal)[0], &e) || e.Index != 2 || e.Type != 100 || !errors.Is(e, ErrUnknownCommand) {
				t.Fatalf("reported %#v, want entry 2, type 100", (*fatal)[0])
			}
			want := "log entry 2 holds command type 100, which this version does not know: upgrade this node to the version that wrote it; it stops now"
			if e.Error() != want || f.Err() != (*fatal)[0] {
				t.Fatalf("reported %q (Err %v), want %q", e.Error(), f.Err(), want)
			}
			if out[1] != nil || out[2] != nil {
				t.Fatalf("results after the stop: %v", out[1:])
			}
			if f.AppliedIndex() != 1 {
				t.Fatalf("applied index %d, want 1: the unknown entry and those after it are not applied", f.AppliedIndex())
			}
			for _, id := range []string{"p2", "p3", "p4", "p5"} {
				if f.State().Pool(id) != nil {
					t.Fatalf("pool %s exists: a command at or after the unknown entry was applied", id)
				}
			}
			if f.State().Pool("p1") == nil {
				t.Fatal("the entry before the unknown one was not applied")
			}
			if _, err := f.Snapshot(); !errors.Is(err, ErrUnknownCommand) {
				t.Fatalf("a stopped state machine took a snapshot (err %v): it would record the entry as applied", err)
			}
			good := New(nil)
			good.Apply(commandLog(1, createPool("p9")))
			if err := f.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, good)))); err == nil {
				t.Fatal("a stopped state machine took a restore")
			}
		})
	}
}

func TestASkippableUnknownCommandIsSkippedWithAWarningOnEveryNodeAlike(t *testing.T) {
	entries := func() []*raft.Log {
		return []*raft.Log{
			commandLog(1, []byte{byte(IgnoreUnknown | 100), 1, 2}),
			commandLog(2, rawBatch(createPool("p1"), []byte{byte(IgnoreUnknown | 101), 9}, createPool("p2"))),
		}
	}
	var snaps [][]byte
	for node := range 2 {
		var logged bytes.Buffer
		f := New(slog.New(slog.NewTextHandler(&logged, nil)))
		f.Fatal = func(err error) { t.Fatalf("node %d: a skippable command stopped the state machine: %v", node, err) }
		out := f.ApplyBatch(entries())
		if r := out[0].(Result); !errors.Is(r.Err, ErrSkippedCommand) {
			t.Fatalf("node %d: the lone skippable command gave %+v", node, r)
		}
		batch := out[1].(Result).Value.([]Result)
		if batch[0].Err != nil || !errors.Is(batch[1].Err, ErrSkippedCommand) || batch[2].Err != nil {
			t.Fatalf("node %d: the batch gave %+v", node, batch)
		}
		if f.State().Pool("p1") == nil || f.State().Pool("p2") == nil || f.AppliedIndex() != 2 {
			t.Fatalf("node %d: the known commands around the skipped one were not applied", node)
		}
		lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
		if len(lines) != 2 ||
			!strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "index=1") ||
			!strings.Contains(lines[1], "level=WARN") || !strings.Contains(lines[1], "index=2") ||
			!strings.Contains(lines[1], "position=1") || !strings.Contains(lines[1], "type=101") {
			t.Fatalf("node %d logged:\n%s\nwant one warning per skipped command", node, logged.String())
		}
		snaps = append(snaps, snapshotBytes(t, f))
	}
	if !bytes.Equal(snaps[0], snaps[1]) {
		t.Fatal("two nodes that skipped the same commands differ")
	}
}
