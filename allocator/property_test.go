package allocator

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// The property tests drive a real State and the reference model (model_test.go)
// with random operation sequences. Each sequence comes from one seed and runs
// as the subtest "seed=N", so a failure reproduces with
//
//	go test -race ./allocator/ -run 'TestName/seed=N$'
//
// The operations are in op_test.go, their generator in sim_test.go, the run
// that plays them and compares a State with the model in run_test.go. The
// snapshot properties are in image_test.go, the concurrent readers in
// readers_test.go.

// TestStateAgreesWithReferenceModel is the broad property: on random
// sequences of every operation, each result of the real State is the
// model's, and so is the whole state, checked every so often and at the end.
func TestStateAgreesWithReferenceModel(t *testing.T) {
	forSeeds(t, 300, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		for i := range r.ops {
			r.step(i, r.g.next(), r.s)
			if i%256 == 255 {
				r.checkState(r.s)
			}
		}
		r.checkState(r.s)
	})
}

// TestLongSequencesAgreeWithReferenceModel runs a few long sequences with
// many calls, so that the State's tables grow and shrink many times and its
// logs span several chunks.
func TestLongSequencesAgreeWithReferenceModel(t *testing.T) {
	forSeeds(t, 2, func(t *testing.T, seed uint64) {
		r := newRun(t, 1000+seed)
		r.g.callSIDs = 3000
		r.g.maxPools = 6
		r.ops = 10_000
		for i := range r.ops {
			r.step(i, r.g.next(), r.s)
			if i%1000 == 999 {
				r.checkState(r.s)
			}
		}
		r.checkState(r.s)
		if n := len(r.g.m.calls); n <= logChunkSize {
			r.fatalf("only %d calls", n)
		}
		r.roundTrip(r.s.Export())
	})
}

// TestNoNumberEverHasTwoLiveHolders checks, after every operation and in
// both the State and the model, that a number has at most one live holder,
// that no visit holds two numbers, and that holder and number agree.
func TestNoNumberEverHasTwoLiveHolders(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		holding := make(map[*Visit]*Number)
		for i := range r.ops {
			r.step(i, r.g.next(), r.s)
			// Every line of every pool now and then; the lines the model
			// uses after every operation.
			lines := MaxPoolSize
			if i%32 != 31 {
				lines = r.g.m.linesUsed()
			}
			if err := oneHolderInState(r.s, lines, lines == MaxPoolSize, holding); err != nil {
				r.fatalf("state: %v", err)
			}
			if err := oneHolderInModel(r.g.m); err != nil {
				r.fatalf("model: %v", err)
			}
		}
		if err := oneHolderInState(r.s, MaxPoolSize, true, holding); err != nil {
			r.fatalf("state: %v", err)
		}
	})
}

// oneHolderInState checks the first lines of every pool, and with all set
// every number the State ever had. It uses holding as scratch space.
func oneHolderInState(s *State, lines int, all bool, holding map[*Visit]*Number) error {
	clear(holding)
	for _, p := range s.Pools() {
		for line := range lines {
			n := p.numbers[line].Load()
			h := p.holders[line].Load()
			if n == nil {
				if h != nil {
					return fmt.Errorf("pool %s line %d: holder %s and no number", p.ID, line, h.ID)
				}
				continue
			}
			if n.Holder() != h {
				return fmt.Errorf("pool %s line %d: number %s says its holder is %v, line says %v",
					p.ID, line, n.E164, visitSeq(n.Holder()), visitSeq(h))
			}
			if h == nil {
				continue
			}
			if other := holding[h]; other != nil {
				return fmt.Errorf("visit %d holds %s and %s", h.seq, other.E164, n.E164)
			}
			holding[h] = n
			if !h.Live() || s.Visit(h.ID) != h {
				return fmt.Errorf("number %s is held by visit %d, which is not live", n.E164, h.seq)
			}
			if h.Number() != n || int(h.line) != line {
				return fmt.Errorf("number %s is held by visit %d, which says it holds %v on line %d",
					n.E164, h.seq, h.Number(), h.line)
			}
		}
		if all {
			for _, n := range p.Numbers() {
				h := n.Holder()
				if h == nil {
					continue
				}
				if holding[h] != n {
					return fmt.Errorf("number %s (%s) names visit %d as its live holder, which holds %v",
						n.E164, n.State(), h.seq, holding[h])
				}
			}
		}
	}
	return nil
}

// linesUsed is one more than the highest line with a number in any pool.
func (m *model) linesUsed() int {
	n := 0
	for _, p := range m.pools {
		for line := len(p.lines) - 1; line >= n; line-- {
			if p.lines[line] != nil {
				n = line + 1
			}
		}
	}
	return n
}

func oneHolderInModel(m *model) error {
	holding := make(map[*mVisit]*mNumber)
	for _, p := range m.pools {
		for line, n := range p.lines {
			if n == nil || n.holder == nil {
				continue
			}
			h := n.holder
			if other := holding[h]; other != nil {
				return fmt.Errorf("visit %d holds %s and %s", h.seq, other.e164, n.e164)
			}
			holding[h] = n
			if h.ended != 0 || h.number != n || n.line != line {
				return fmt.Errorf("number %s and its holder %d disagree", n.e164, h.seq)
			}
		}
	}
	for _, n := range m.numbers {
		if n.holder != nil && holding[n.holder] != n {
			return fmt.Errorf("number %s (%s) has holder %d off the lines", n.e164, n.state, n.holder.seq)
		}
	}
	for _, v := range m.live {
		if v.number != nil && holding[v] != v.number {
			return fmt.Errorf("visit %d says it holds %s, which does not say so", v.seq, v.number.e164)
		}
	}
	return nil
}

// TestFreshNumberIsTheOneFreeTheLongest: whenever a visit gets a free
// number (Assign or Refresh) in an LRU pool, it is the number that has been
// free the longest. Numbers nobody ever held count as free the longest of
// all, oldest first. The expectation is an O(n) search over the pool's free
// numbers, not the model's list, and the State's own LastFreed times must
// agree with it. Random pools are the model's to check.
func TestFreshNumberIsTheOneFreeTheLongest(t *testing.T) {
	forSeeds(t, 30, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		fresh := 0
		for i := range r.ops {
			o := r.g.next()
			var want *mNumber
			var free []freeNumber
			p := r.targetPool(o)
			lru := p != nil && p.settings.Allocation == AllocateLRU
			if lru {
				for _, n := range p.lines {
					if n == nil || n.holder != nil {
						continue
					}
					if want == nil || n.freed < want.freed || n.freed == want.freed && n.seq < want.seq {
						want = n
					}
				}
				free = freeNumbers(r.s.Pool(p.id))
			}
			res := r.step(i, o, r.s)
			if res.Outcome != Fresh || !lru {
				continue
			}
			fresh++
			if want == nil || res.Number != want.e164 || res.NumberSeq != want.seq {
				r.fatalf("fresh assignment got %s (seq %d), the number free the longest is %s", res.Number, res.NumberSeq, want.describe())
			}
			k := slices.IndexFunc(free, func(f freeNumber) bool { return f.seq == res.NumberSeq })
			if k < 0 {
				r.fatalf("fresh assignment got %s, which was not free", res.Number)
			}
			for _, f := range free {
				if f.before(free[k]) {
					r.fatalf("fresh assignment got %+v while %+v had been free longer", free[k], f)
				}
			}
		}
		if r.ops >= 1000 && fresh == 0 {
			r.fatalf("no fresh assignment in %d operations", r.ops)
		}
	})
}

func (n *mNumber) describe() string {
	if n == nil {
		return "none"
	}
	return fmt.Sprintf("%s (seq %d, freed #%d)", n.e164, n.seq, n.freed)
}

// freeNumber is what a State says about one of its free numbers.
type freeNumber struct {
	e164            string
	seq             uint64
	assigned, freed int64
}

// before reports whether f has surely been free longer than g: f was never
// held and g was, or both were never held and f was added first, or f was
// freed at an earlier time.
func (f freeNumber) before(g freeNumber) bool {
	switch fNever, gNever := f.assigned == 0, g.assigned == 0; {
	case fNever != gNever:
		return fNever
	case fNever:
		return f.seq < g.seq
	}
	return f.freed < g.freed
}

func freeNumbers(p *Pool) []freeNumber {
	var out []freeNumber
	for line := range p.numbers {
		if n := p.numbers[line].Load(); n != nil && n.Holder() == nil {
			out = append(out, freeNumber{n.E164, n.seq, timeMillis(n.LastAssigned()), timeMillis(n.LastFreed())})
		}
	}
	return out
}

// targetPool is the pool an Assign or Refresh asks a number of, in the model.
func (r *run) targetPool(o op) *mPool {
	switch o.kind {
	case opAssign:
		return r.g.m.poolByKey(o.assign.PoolKey)
	case opRefresh:
		if v := r.g.m.liveVisit(o.refresh.Visit); v != nil {
			return v.pool
		}
	}
	return nil
}

// TestTouchedVisitsNeverExpire: in a workload where every live visit gets a
// heartbeat at least every half idle timeout, Expire ends no visit, and a
// visit loses its number to a newcomer only when its pool has no free one.
func TestTouchedVisitsNeverExpire(t *testing.T) {
	forSeeds(t, 16, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		g := r.g
		g.pJump, g.maxStep = 0, min(g.maxStep, 3000)
		g.setWeights(map[opKind]int{
			opCreatePool: 1, opAddNumber: 6, opAssign: 25, opRefresh: 8, opExpire: 8, opMatchCall: 3,
		})
		expired := 0
		for i := range r.ops {
			o := g.next()
			// Before the clock passes a third of any visit's idle timeout
			// since its last heartbeat, the visitor's batch arrives.
			var due []VisitID
			for _, v := range g.m.live {
				if g.now-v.seen >= int64(v.pool.settings.IdleTimeout/time.Millisecond)/3 {
					due = append(due, v.id)
				}
			}
			if len(due) > 0 {
				o = op{kind: opTouch, ids: due, at: g.time()}
			}
			var free int
			if p := r.targetPool(o); p != nil {
				if sp := r.s.Pool(p.id); sp != nil {
					free = sp.Counts().Free
				}
			}
			live := len(g.m.live)
			res := r.step(i, o, r.s)
			switch {
			case o.kind == opExpire && res.Count != 0:
				r.fatalf("Expire ended %d visits that had heartbeats", res.Count)
			case res.Outcome == Recycled && free > 0:
				r.fatalf("visit %d was displaced while the pool had %d free numbers", res.Displaced, free)
			case o.kind == opRefresh && res.Displaced != 0:
				r.fatalf("Refresh displaced visit %d", res.Displaced)
			case len(g.m.live) < live:
				r.fatalf("%d live visits ended", live-len(g.m.live))
			}
			if o.kind == opExpire {
				expired++
			}
			if i%256 == 255 {
				r.checkState(r.s)
			}
		}
		for _, v := range g.m.live {
			if sv := r.s.Visit(v.id); sv == nil || !sv.Live() {
				r.fatalf("visit %d ended in the State", v.seq)
			}
		}
		r.checkState(r.s)
		if expired == 0 && r.ops > 1000 {
			r.fatalf("the workload never called Expire")
		}
	})
}

// TestANewVisitNeverDisplacesAHolderSeenWithinDisplaceAfter: a new visit
// in a full pool that recycles takes a number only from a holder whose last
// heartbeat is at least the pool's DisplaceAfter old (the oldest such), and
// gets none while every holder was seen more recently. The expectation is
// read from the State's own lines before each operation.
func TestANewVisitNeverDisplacesAHolderSeenWithinDisplaceAfter(t *testing.T) {
	forSeeds(t, 30, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		recycled, spared := 0, 0
		for i := range r.ops {
			o := r.g.next()
			var p *Pool
			if o.kind == opAssign && !o.assign.Unguarded && r.s.Visit(o.assign.Visit) == nil {
				p = r.s.PoolByKey(o.assign.PoolKey)
			}
			type holder struct {
				seq  uint64
				seen int64
			}
			var holders []holder
			var st Settings
			free := 0
			if p != nil {
				st, free = p.Settings(), p.Counts().Free
				for _, v := range p.Holders() {
					holders = append(holders, holder{v.seq, v.LastSeen().UnixMilli()})
				}
			}
			res := r.step(i, o, r.s)
			if p == nil || free > 0 || st.Overflow != OverflowRecycle || res.RealErr != nil {
				continue
			}
			cutoff := o.assign.At.UnixMilli() - st.DisplaceAfter.Milliseconds()
			oldest := holder{seen: noHolder}
			for _, h := range holders {
				if h.seen < oldest.seen {
					oldest = h
				}
			}
			switch res.Outcome {
			case Recycled:
				recycled++
				if res.Displaced != oldest.seq || oldest.seen > cutoff {
					r.fatalf("displaced visit %d; the oldest holder was %d, seen at %d, and only holders seen by %d may go",
						res.Displaced, oldest.seq, oldest.seen, cutoff)
				}
			case Full:
				if len(holders) > 0 {
					spared++
				}
				if oldest.seen <= cutoff {
					r.fatalf("no number, but holder %d was seen at %d, by %d", oldest.seq, oldest.seen, cutoff)
				}
			}
		}
		if r.ops >= 1500 && recycled+spared == 0 {
			r.fatalf("no full pool in %d operations", r.ops)
		}
	})
}

// TestShrinkRetiresFreeNumbersFirstThenLeastRecentlySeen: a smaller size
// takes free numbers out of service first, from the front of the free list,
// then held ones by their holder's oldest heartbeat (lowest line on a tie);
// the holders stay live without a number.
func TestShrinkRetiresFreeNumbersFirstThenLeastRecentlySeen(t *testing.T) {
	forSeeds(t, 30, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		g := r.g
		g.weights[opUpdatePool] += 6
		g.total += 6
		shrinks := 0
		for i := range r.ops {
			o := g.next()
			if o.kind == opUpdatePool && g.chance(0.8) {
				o = g.updatePool(true, false)
			}
			var want []string
			var holders []*Visit
			if o.kind == opUpdatePool && o.update.Patch.Size != nil {
				want, holders = expectedShrink(r.s.Pool(o.update.ID), *o.update.Patch.Size)
			}
			res := r.step(i, o, r.s)
			if len(res.Retired) == 0 {
				continue
			}
			shrinks++
			if !slices.Equal(res.Retired, want) {
				r.fatalf("shrink retired %v, want %v", res.Retired, want)
			}
			for _, v := range holders {
				if !v.Live() || v.Number() != nil || r.s.Visit(v.ID) != v {
					r.fatalf("holder %d of a retired number is not live and numberless", v.seq)
				}
			}
			for _, e := range res.Retired {
				if n := r.s.Number(e); n.State() != NumberReleasing || n.Holder() != nil {
					r.fatalf("retired number %s is %s with holder %v", e, n.State(), visitSeq(n.Holder()))
				}
			}
		}
		r.checkState(r.s)
		if shrinks == 0 && r.ops > 1000 {
			r.fatalf("no shrink in %d operations", r.ops)
		}
	})
}

// expectedShrink works out from a State's pool which numbers shrinking it to
// size takes out of service, and the visits holding them.
func expectedShrink(p *Pool, size int) ([]string, []*Visit) {
	if p == nil {
		return nil, nil
	}
	k := int(p.active.Load()) - size
	if k <= 0 {
		return nil, nil
	}
	var out []string
	for _, line := range p.free.order() {
		if len(out) == k {
			return out, nil
		}
		out = append(out, p.numbers[line].Load().E164)
	}
	type holding struct {
		line int
		seen int64
		v    *Visit
	}
	var held []holding
	for line := range p.holders {
		if v := p.holders[line].Load(); v != nil {
			held = append(held, holding{line, v.LastSeen().UnixMilli(), v})
		}
	}
	slices.SortFunc(held, func(a, b holding) int {
		if a.seen != b.seen {
			return compareInt64(a.seen, b.seen)
		}
		return a.line - b.line
	})
	var holders []*Visit
	for _, h := range held[:k-len(out)] {
		out = append(out, p.numbers[h.line].Load().E164)
		holders = append(holders, h.v)
	}
	return out, holders
}
