package allocator

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type entry struct {
	k uint64
	v int
}

// badHash sends many keys to few home slots, so probe chains are long and
// deletes shift a lot: the hard case for the table.
func badHash(k uint64) uint64 { return k % 61 * 0x9e3779b97f4a7c15 }

func newTestTable(hash func(uint64) uint64) *table[uint64, entry] {
	return newTable(hash, func(e *entry) uint64 { return e.k })
}

func TestTableAgreesWithAMap(t *testing.T) {
	for _, hash := range []func(uint64) uint64{badHash, func(k uint64) uint64 { return k * 0x9e3779b97f4a7c15 }} {
		tb := newTestTable(hash)
		want := map[uint64]int{}
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 50_000 {
			k := r.Uint64N(2000)
			switch r.IntN(3) {
			case 0, 1:
				tb.put(&entry{k, i})
				want[k] = i
			case 2:
				tb.del(k)
				delete(want, k)
			}
			if i%997 == 0 {
				for k := range uint64(2000) {
					e := tb.get(k)
					v, ok := want[k]
					if ok != (e != nil) || ok && e.v != v {
						t.Fatalf("step %d: key %d: table has %v, map has %d (%v)", i, k, e, v, ok)
					}
				}
				if tb.len() != len(want) {
					t.Fatalf("len %d, want %d", tb.len(), len(want))
				}
			}
		}
	}
}

// TestTableReadersNeverMissAnEntryThatStays has readers look up keys that are
// never deleted while the writer deletes and re-inserts others around them.
// Every key has the same home slot, so each delete shifts back every entry
// after it in the one long probe chain: the hard case for lock-free readers.
func TestTableReadersNeverMissAnEntryThatStays(t *testing.T) {
	tb := newTestTable(func(uint64) uint64 { return 0 })
	const stay, churn = 100, 300
	for k := range uint64(stay) {
		for c := range uint64(churn / stay) {
			tb.put(&entry{stay + k*churn/stay + c, 0})
		}
		tb.put(&entry{k, int(k)})
	}
	var done atomic.Bool
	var misses atomic.Int64
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for !done.Load() {
				k := r.Uint64N(stay)
				if e := tb.get(k); e == nil || e.k != k {
					misses.Add(1)
				}
			}
		})
	}
	r := rand.New(rand.NewPCG(3, 4))
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		k := stay + r.Uint64N(churn)
		tb.del(k)
		tb.put(&entry{k, 0})
	}
	done.Store(true)
	wg.Wait()
	if n := misses.Load(); n != 0 {
		t.Fatalf("readers missed a present entry %d times", n)
	}
}
