package fsm

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dni-dev/dni/allocator"
)

const (
	benchPools     = 1_000
	benchNumbers   = 50
	benchBatchSize = 256 // assignments per log entry, as group commit makes them
)

var benchStart = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// benchFSM is a state machine with benchPools pools of benchNumbers numbers,
// built through the log like a real one.
func benchFSM(b *testing.B) *FSM {
	b.Helper()
	f := New(nil)
	var cmds []Command
	st := allocator.Settings{
		Name: "bench", Size: benchNumbers, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"},
	}.WithDefaults()
	// Visits a millisecond apart: no guard against scripts may turn them
	// away, so that every one takes a number.
	st.DisplaceAfter, st.VisitsPerMinute, st.VisitBurst = 0, allocator.MaxVisitsPerMinute, allocator.MaxVisitBurst
	for p := range benchPools {
		id := fmt.Sprintf("p%04d", p)
		cmds = append(cmds, &CreatePool{ID: id, Key: "k" + id, Settings: st, At: benchStart})
		for n := range benchNumbers {
			cmds = append(cmds, &AddNumber{Pool: id, E164: fmt.Sprintf("+1415%07d", p*100+n), At: benchStart})
		}
	}
	f.ApplyBatch(logs(cmds, 1))
	return f
}

// assignBatches encodes n log entries, each a Batch of benchBatchSize
// assignments spread over the pools, with time moving a millisecond a batch.
func assignBatches(n int, first uint64) []*raft.Log {
	out := make([]*raft.Log, n)
	for i := range out {
		batch := &Batch{Commands: make([]Command, benchBatchSize)}
		at := benchStart.Add(time.Duration(i) * time.Millisecond)
		for j := range batch.Commands {
			k := i*benchBatchSize + j
			var id allocator.VisitID
			id[0], id[1], id[2], id[3] = byte(k), byte(k>>8), byte(k>>16), byte(k>>24)
			batch.Commands[j] = &Assign{
				Visit: id, PoolKey: fmt.Sprintf("kp%04d", k%benchPools), At: at,
				Attribution: allocator.Attribution{Source: "google", Medium: "cpc", Campaign: "spring", GCLID: "EAIaIQobChMI"},
			}
		}
		out[i] = &raft.Log{Index: first + uint64(i), Type: raft.LogCommand, Data: Encode(batch)}
	}
	return out
}

// BenchmarkApplyBatch decodes and applies log entries of 256 assignments
// each, the way raft hands committed entries to the state machine; the
// pools recycle once full. assigns/s is what one replica's apply sustains.
func BenchmarkApplyBatch(b *testing.B) {
	f := benchFSM(b)
	entries := assignBatches(4096, f.AppliedIndex()+1)
	b.ReportAllocs()
	b.ResetTimer()
	applyEach(b, f, entries, 0)
	b.ReportMetric(float64(b.N*benchBatchSize)/b.Elapsed().Seconds(), "assigns/s")
}

// BenchmarkReadDuringApply runs readers, as HTTP handlers on every node do
// (a visit's number, a pool's settings), beside a writer applying batches of
// assignments. It reports both rates: the readers take no lock the apply
// path takes, so neither should starve the other.
func BenchmarkReadDuringApply(b *testing.B) {
	f := benchFSM(b)
	entries := assignBatches(4096, f.AppliedIndex()+1)
	f.ApplyBatch(entries[:64]) // some live visits to read
	var ids []allocator.VisitID
	for _, l := range entries[:64] {
		c, _ := Decode(l.Data)
		for _, sub := range c.(*Batch).Commands {
			ids = append(ids, sub.(*Assign).Visit)
		}
	}
	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		n := int64(0)
		for i := 0; !stop.Load(); i++ {
			s := f.State()
			if v := s.Visit(ids[i%len(ids)]); v != nil {
				_ = v.Number()
				_ = v.Pool.Settings().SwapTarget
			}
			n++
		}
		reads.Add(n)
	})
	b.ReportAllocs()
	applyEach(b, f, entries, 64)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N*benchBatchSize)/b.Elapsed().Seconds(), "assigns/s")
	b.ReportMetric(float64(reads.Load())/elapsed, "reads/s")
}

// applyEach applies one entry per benchmark iteration, from entries[first]
// on, going round the list again (with new indexes, off the clock) when it
// runs out.
func applyEach(b *testing.B, f *FSM, entries []*raft.Log, first int) {
	i := first
	for b.Loop() {
		if i == len(entries) {
			b.StopTimer()
			next := f.AppliedIndex() + 1
			for j, l := range entries {
				l.Index = next + uint64(j)
			}
			i = 0
			b.StartTimer()
		}
		f.ApplyBatch(entries[i : i+1])
		i++
	}
}
