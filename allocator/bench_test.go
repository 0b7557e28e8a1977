package allocator

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// The benchmarks run against the size the issue names, 10,000 pools of 50
// numbers and 500,000 live visits, where almost every access misses the CPU
// caches; and against 100 pools (5,000 visits), which fit in them, to show
// what the code costs apart from memory latency. BenchmarkDependentLoad
// gives this machine's memory latency to read the first set against.
const benchNumbers = 50

var benchSizes = []struct {
	name  string
	pools int
}{{"500k", 10_000}, {"5k", 100}}

var benchStart = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// benchFixture is a state with every pool full: visit i holds a number of
// pool i%benchPools and was last seen at benchStart + i ms, so visits expire
// one a millisecond, round-robin over the pools.
type benchFixture struct {
	pools int
	s     *State
	ids   []VisitID // live visit ids, oldest first
	keys  []string
	next  uint64 // visits made so far
	heap  uint64 // heap bytes the visits added, after a GC
}

// benchAttribution is shared by every visit, so no visit allocates strings:
// what the fixture measures is the heap a visit costs beyond them.
var benchAttribution = Attribution{
	Source: "google", Medium: "cpc", Campaign: "spring-sale", Term: "plumber near me",
	GCLID: "EAIaIQobChMI0123456789abcdefghijklmn", Referrer: "https://www.google.com/",
	LandingPage: "https://example.com/?gclid=EAIaIQobChMI0123456789abcdefghijklmn", UserAgent: "Mozilla/5.0",
}

func newBenchFixture(b *testing.B, pools int) *benchFixture {
	b.Helper()
	f := &benchFixture{pools: pools, s: New(), keys: make([]string, pools)}
	st := Settings{
		Name: "bench", Size: benchNumbers, SwapTarget: "(415) 555-0100",
		ForwardTo: []string{"+14155550100"}, IdleTimeout: DefaultIdleTimeout,
	}.WithDefaults()
	unguarded(&st) // visits a millisecond apart: every path runs in full
	for p := range pools {
		id := fmt.Sprintf("p%05d", p)
		f.keys[p] = "k" + id
		if _, err := f.s.CreatePool(CreatePool{ID: id, Key: f.keys[p], Settings: st, At: benchStart}); err != nil {
			b.Fatal(err)
		}
		for n := range benchNumbers {
			e164 := benchNumber(p, n)
			if _, err := f.s.AddNumber(AddNumber{Pool: id, E164: e164, At: benchStart}); err != nil {
				b.Fatal(err)
			}
		}
	}
	before := heapInUse()
	f.ids = make([]VisitID, 0, f.visits())
	for range f.visits() {
		if a := f.assign(b); a.Outcome != Fresh {
			b.Fatalf("fixture visit got %v", a.Outcome)
		}
	}
	f.heap = heapInUse() - before - uint64(cap(f.ids))*16
	return f
}

// benchNumber is the E.164 number of pool p's n-th number.
func benchNumber(p, n int) string { return fmt.Sprintf("+1%03d%07d", 200+p/10000, (p%10000)*100+n) }

func (f *benchFixture) visits() int { return f.pools * benchNumbers }

// forSizes runs fn as a sub-benchmark on a fresh fixture of each size.
func forSizes(b *testing.B, fn func(b *testing.B, f *benchFixture)) {
	for _, size := range benchSizes {
		b.Run("state="+size.name, func(b *testing.B) { fn(b, newBenchFixture(b, size.pools)) })
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func (f *benchFixture) now() time.Time {
	return benchStart.Add(time.Duration(f.next) * time.Millisecond)
}

// assign makes the next visit, in pool next%pools, at time next ms.
func (f *benchFixture) assign(b *testing.B) Assignment {
	var id VisitID
	id[0], id[1], id[2], id[3], id[4] = byte(f.next), byte(f.next>>8), byte(f.next>>16), byte(f.next>>24), 0xd
	id[15] = byte(f.next * 0x9e)
	a, err := f.s.Assign(Assign{Visit: id, PoolKey: f.keys[f.next%uint64(f.pools)], Attribution: benchAttribution, At: f.now()})
	if err != nil {
		b.Fatal(err)
	}
	f.ids = append(f.ids, id)
	f.next++
	return a
}

// expireOldest ends the n oldest live visits, round-robin over the pools.
func (f *benchFixture) expireOldest(b *testing.B, n int) {
	oldest := f.next - uint64(len(f.ids))
	if got := f.s.Expire(benchStart.Add(time.Duration(oldest+uint64(n)-1)*time.Millisecond + DefaultIdleTimeout)); got != n {
		b.Fatalf("expired %d visits, want %d", got, n)
	}
	f.ids = f.ids[n:]
}

// BenchmarkAssign gives new visits numbers. fresh: the pool has a free
// number (it takes the one free the longest); recycled: the pool is full and
// the least recently seen visit is displaced.
func BenchmarkAssign(b *testing.B) {
	b.Run("fresh", func(b *testing.B) {
		forSizes(b, func(b *testing.B, f *benchFixture) {
			b.ReportAllocs()
			free := 0
			for b.Loop() {
				if free == 0 {
					// Free half the numbers, off the clock, by letting
					// the oldest visits expire. (Stopping the clock costs
					// a stop of the world, so it must be rare.)
					b.StopTimer()
					free = f.visits() / 2
					f.expireOldest(b, free)
					b.StartTimer()
				}
				if a := f.assign(b); a.Outcome != Fresh {
					b.Fatalf("got %v", a.Outcome)
				}
				free--
			}
		})
	})
	b.Run("recycled", func(b *testing.B) {
		forSizes(b, func(b *testing.B, f *benchFixture) {
			b.ReportAllocs()
			displaced := 0
			for b.Loop() {
				if displaced == f.visits()/2 {
					// Displaced visits wait without a number until they
					// expire; end them, off the clock, so the state stays
					// the same size. Round-robin, the oldest visits were
					// displaced first, so expiring everything older than
					// the oldest holder ends exactly them.
					b.StopTimer()
					oldestHolder := f.next - uint64(f.visits())
					if n := f.s.Expire(benchStart.Add(time.Duration(oldestHolder-1)*time.Millisecond + DefaultIdleTimeout)); n != displaced {
						b.Fatalf("expired %d, want %d", n, displaced)
					}
					displaced = 0
					b.StartTimer()
				}
				if a := f.assign(b); a.Outcome != Recycled {
					b.Fatalf("got %v", a.Outcome)
				}
				displaced++
			}
		})
	})
}

// BenchmarkTouch records heartbeats for random live visits, in batches of 256
// as the cluster coalesces them. ns/touch is the cost of one heartbeat.
func BenchmarkTouch(b *testing.B) {
	const batch = 256
	forSizes(b, func(b *testing.B, f *benchFixture) {
		r := rand.New(rand.NewPCG(1, 2))
		ids := make([]VisitID, 1<<20)
		for i := range ids {
			ids[i] = f.ids[r.IntN(len(f.ids))]
		}
		at := f.now()
		b.ReportAllocs()
		touches := 0
		for b.Loop() {
			at = at.Add(time.Millisecond)
			i := touches % len(ids)
			if n := f.s.Touch(ids[i:i+batch], at); n != batch {
				b.Fatalf("touched %d", n)
			}
			touches += batch
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(touches), "ns/touch")
	})
}

// BenchmarkExpire ends visits as their idle timeout passes, one a
// millisecond, each Expire call finding its visit through the pool heap.
func BenchmarkExpire(b *testing.B) {
	forSizes(b, func(b *testing.B, f *benchFixture) {
		b.ReportAllocs()
		oldest := uint64(0)
		for b.Loop() {
			if len(f.ids) == f.visits()/2 {
				b.StopTimer()
				for range f.visits() / 2 {
					f.assign(b)
				}
				b.StartTimer()
			}
			at := benchStart.Add(time.Duration(oldest)*time.Millisecond + DefaultIdleTimeout)
			if n := f.s.Expire(at); n != 1 {
				b.Fatalf("expired %d", n)
			}
			f.ids = f.ids[1:]
			oldest++
		}
	})
}

// BenchmarkMatchCall matches calls to random tracking numbers.
func BenchmarkMatchCall(b *testing.B) {
	forSizes(b, func(b *testing.B, f *benchFixture) {
		r := rand.New(rand.NewPCG(3, 4))
		numbers := make([]string, 4096)
		for i := range numbers {
			p := r.IntN(f.pools)
			numbers[i] = benchNumber(p, r.IntN(benchNumbers))
		}
		at := f.now()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if m := f.s.MatchCall(numbers[i%len(numbers)], at); m.Kind != MatchLive {
				b.Fatalf("got %v", m.Kind)
			}
			i++
		}
	})
}

// BenchmarkLiveVisitHeap reports the heap one live visit costs beyond its
// attribution strings (shared by every visit here): the visit, its
// attribution struct, its tenure and its share of the index.
func BenchmarkLiveVisitHeap(b *testing.B) {
	f := newBenchFixture(b, benchSizes[0].pools)
	for b.Loop() {
	}
	b.ReportMetric(float64(f.heap)/float64(f.visits()), "B/visit")
}

// BenchmarkDependentLoad is not about dni: it measures this machine's memory
// latency, one load whose address depends on the last, over 512 MiB (about
// the heap of the 500k state). Assign, Touch and Expire in that state are
// chains of a few such loads; read their figures against this one.
func BenchmarkDependentLoad(b *testing.B) {
	next := make([]int32, 128<<20)
	perm := rand.New(rand.NewPCG(5, 6)).Perm(len(next))
	for i := range perm {
		next[perm[i]] = int32(perm[(i+1)%len(perm)])
	}
	p := int32(perm[0])
	for b.Loop() {
		p = next[p]
	}
	if p < 0 {
		b.Fatal(p)
	}
}

// BenchmarkExport is the whole copy of the state a snapshot or a backup
// takes; BenchmarkCapture the part of it the writer waits for
// (fsm.FSM.Snapshot holds Apply off while it runs; the rest is built
// beside Apply). At 500,000 live visits the capture is how long new
// visits stall once every snapshot.
func BenchmarkExport(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			f := newBenchFixture(b, size.pools)
			for b.Loop() {
				if img := f.s.Export(); len(img.Visits) < f.visits() {
					b.Fatalf("%d visits exported of %d", len(img.Visits), f.visits())
				}
			}
		})
	}
}

func BenchmarkCapture(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			f := newBenchFixture(b, size.pools)
			for b.Loop() {
				if c := f.s.Capture(); len(c.visits) < f.visits() {
					b.Fatalf("%d visits captured of %d", len(c.visits), f.visits())
				}
			}
		})
	}
}
