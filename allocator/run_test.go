package allocator

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// How a property test plays a seed's sequence (run, step, forSeeds), and
// how it compares a whole State with the model (checkState).

// run is one random sequence: the model, the State under test and any
// other States fed the same operations.
type run struct {
	t    *testing.T
	seed uint64
	g    *sim
	s    *State
	ops  int
	i    int // index of the operation being applied
	o    op
}

func newRun(t *testing.T, seed uint64) *run {
	g := newSim(seed)
	return &run{t: t, seed: seed, g: g, s: New(), ops: 500 + g.rng.IntN(1501)}
}

// fatalf fails the sequence, saying how to reproduce it.
func (r *run) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("seed %d, op %d %s: %s\nrerun: go test -race ./allocator/ -run '%s$'",
		r.seed, r.i, r.o.String(), fmt.Sprintf(format, args...), r.t.Name())
}

// step applies o to the model and to each State, checking that every State
// says what the model says. It returns the first State's result.
func (r *run) step(i int, o op, states ...*State) result {
	r.i, r.o = i, o
	want := o.applyModel(r.g.m)
	var first result
	for k, s := range states {
		got := o.applyState(s)
		if err := sameResult(got, want); err != nil {
			r.fatalf("state %d disagrees with the model: %v", k, err)
		}
		if k == 0 {
			first = got
		}
	}
	return first
}

// forSeeds runs fn for seeds 1..n, each as a parallel subtest.
func forSeeds(t *testing.T, n int, fn func(t *testing.T, seed uint64)) {
	t.Helper()
	if testing.Short() {
		n = max(1, n/10)
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			fn(t, seed)
		})
	}
}

// checkState compares the whole of a State with the model.
func (r *run) checkState(s *State) {
	r.t.Helper()
	if err := compareState(s, r.g.m); err != nil {
		r.fatalf("state differs from the model: %v", err)
	}
}

func timeMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func compareState(s *State, m *model) error {
	pools := s.Pools()
	if len(pools) != len(m.pools) {
		return fmt.Errorf("%d pools, model has %d", len(pools), len(m.pools))
	}
	liveNumbers := make(map[string]*mNumber)
	for _, n := range m.numbers {
		liveNumbers[n.e164] = n
	}
	for i, p := range pools {
		if err := comparePool(s, p, m.pools[i]); err != nil {
			return fmt.Errorf("pool %s: %w", p.ID, err)
		}
	}
	for e, n := range liveNumbers {
		if got := s.Number(e); got == nil || got.seq != n.seq {
			return fmt.Errorf("Number(%s) is not the newest number", e)
		}
	}
	live := make(map[VisitID]*mVisit)
	for _, v := range m.live {
		live[v.id] = v
	}
	if got := s.visits.len(); got != len(live) {
		return fmt.Errorf("%d live visits, model has %d", got, len(live))
	}
	for _, v := range m.visits {
		sv := s.Visit(v.id)
		w := live[v.id]
		if w == nil {
			if sv != nil {
				return fmt.Errorf("visit %x is live; the model ended it", v.id[:4])
			}
			continue
		}
		if sv == nil || sv.seq != w.seq {
			return fmt.Errorf("Visit(%x) is %d, model says %d", v.id[:4], visitSeq(sv), w.seq)
		}
		if err := compareVisit(sv, w); err != nil {
			return err
		}
		if *sv.Attribution != *w.attr {
			return fmt.Errorf("visit %d attribution %+v, model %+v", w.seq, *sv.Attribution, *w.attr)
		}
	}
	var calls []Call
	s.Calls(func(c *Call) bool { calls = append(calls, *c); return true })
	if len(calls) != len(m.calls) {
		return fmt.Errorf("%d calls, model has %d", len(calls), len(m.calls))
	}
	for i, c := range calls {
		want := m.calls[len(m.calls)-1-i].c
		if !sameCall(c, want) {
			return fmt.Errorf("call %s:\n  %+v\n  model %+v", c.SID, c, want)
		}
		if got := s.Call(c.SID); got == nil || !sameCall(*got, want) {
			return fmt.Errorf("Call(%s) is not the listed call", c.SID)
		}
	}
	if !reflect.DeepEqual(s.callers, m.callers) {
		return fmt.Errorf("callers %v, model %v", s.callers, m.callers)
	}
	return checkExpiryHeap(s)
}

func compareVisit(sv *Visit, w *mVisit) error {
	type facts struct {
		ID                     VisitID
		Pool                   string
		FirstSeen, Seen, Ended int64
		Live                   bool
		Number                 uint64
	}
	got := facts{sv.ID, sv.Pool.ID, timeMillis(sv.FirstSeen), sv.LastSeen().UnixMilli(), timeMillis(sv.Ended()), sv.Live(), 0}
	if n := sv.Number(); n != nil {
		got.Number = n.seq
	}
	want := facts{w.id, w.pool.id, w.firstSeen, w.seen, w.ended, w.ended == 0, 0}
	if w.number != nil {
		want.Number = w.number.seq
	}
	if got != want {
		return fmt.Errorf("visit %d: %+v, model %+v", w.seq, got, want)
	}
	return nil
}

func comparePool(s *State, p *Pool, mp *mPool) error {
	switch {
	case p.ID != mp.id || p.Key != mp.key || p.seq != mp.seq:
		return fmt.Errorf("is %s/%s/%d, model %s/%s/%d", p.ID, p.Key, p.seq, mp.id, mp.key, mp.seq)
	case !reflect.DeepEqual(p.Settings(), mp.settings):
		return fmt.Errorf("settings %+v, model %+v", p.Settings(), mp.settings)
	case timeMillis(p.CreatedAt) != mp.createdAt || timeMillis(p.UpdatedAt()) != mp.updatedAt ||
		timeMillis(p.DeletedAt()) != mp.deletedAt:
		return fmt.Errorf("created/updated/deleted %v/%v/%v, model %d/%d/%d",
			p.CreatedAt, p.UpdatedAt(), p.DeletedAt(), mp.createdAt, mp.updatedAt, mp.deletedAt)
	case p.Status() != mp.status():
		return fmt.Errorf("status %s, model %s", p.Status(), mp.status())
	case p.Counts() != mp.counts():
		return fmt.Errorf("counts %+v, model %+v", p.Counts(), mp.counts())
	case p.budgetSpent.Load() != mp.spent || p.budgetAt.Load() != mp.spentAt:
		return fmt.Errorf("budget spent %d at %d, model %d at %d", p.budgetSpent.Load(), p.budgetAt.Load(), mp.spent, mp.spentAt)
	}
	var free, mfree []string
	for _, line := range p.free.order() {
		free = append(free, p.numbers[line].Load().E164)
	}
	for _, line := range mp.free {
		mfree = append(mfree, mp.lines[line].e164)
	}
	if !slices.Equal(free, mfree) {
		return fmt.Errorf("free list %v, model %v", free, mfree)
	}
	for line := range p.numbers {
		n, mn := p.numbers[line].Load(), mp.lines[line]
		if (n == nil) != (mn == nil) || n != nil && n.seq != mn.seq {
			return fmt.Errorf("line %d has %v, model %v", line, n, mn)
		}
		h, seen := p.holders[line].Load(), p.seen[line].Load()
		var mh *mVisit
		mseen := int64(noHolder)
		if mn != nil && mn.holder != nil {
			mh, mseen = mn.holder, mn.holder.seen
		}
		if visitSeq(h) != mvisitSeq(mh) || seen != mseen {
			return fmt.Errorf("line %d held by %d seen %d, model %d seen %d", line, visitSeq(h), seen, mvisitSeq(mh), mseen)
		}
	}
	var holders, mholders []uint64
	for _, v := range p.Holders() {
		holders = append(holders, v.seq)
	}
	for _, n := range mp.lines {
		if n != nil && n.holder != nil {
			mholders = append(mholders, n.holder.seq)
		}
	}
	if !slices.Equal(holders, mholders) {
		return fmt.Errorf("holders %v, model %v", holders, mholders)
	}
	var nl, mnl []uint64
	for v := p.nlHead; v != nil; v = v.nlNext {
		nl = append(nl, v.seq)
	}
	for _, v := range mp.numberless {
		mnl = append(mnl, v.seq)
	}
	if !slices.Equal(nl, mnl) {
		return fmt.Errorf("numberless %v, model %v", nl, mnl)
	}
	for k := range 4 {
		var want RequestID
		if j := len(mp.reqs) - 1 - k; j >= 0 {
			want = mp.reqs[j]
		}
		if got := p.recentReqs[(p.nextReq+3-k)%4]; got != want {
			return fmt.Errorf("recent update request %d is %x, model %x", k, got[:2], want[:2])
		}
	}
	numbers := p.Numbers()
	if len(numbers) != len(mp.numbers) {
		return fmt.Errorf("%d numbers, model %d", len(numbers), len(mp.numbers))
	}
	for i, n := range numbers {
		if err := compareNumber(n, mp.numbers[i]); err != nil {
			return fmt.Errorf("number %s: %w", n.E164, err)
		}
	}
	return nil
}

func mvisitSeq(v *mVisit) uint64 {
	if v == nil {
		return 0
	}
	return v.seq
}

func compareNumber(n *Number, mn *mNumber) error {
	type facts struct {
		Seq                              uint64
		E164, ProviderID                 string
		Owned                            bool
		State                            NumberState
		Line                             int
		Holder                           uint64
		Added, Assigned, Freed, Released int64
	}
	got := facts{n.seq, n.E164, n.ProviderID, n.Owned, n.State(), int(n.line), visitSeq(n.Holder()),
		timeMillis(n.AddedAt), timeMillis(n.LastAssigned()), timeMillis(n.LastFreed()), timeMillis(n.ReleasedAt())}
	want := facts{mn.seq, mn.e164, mn.providerID, mn.owned, mn.state, mn.line, mvisitSeq(mn.holder),
		mn.addedAt, mn.lastAssigned, mn.lastFreed, mn.releasedAt}
	if got != want {
		return fmt.Errorf("%+v, model %+v", got, want)
	}
	tenures := n.Tenures()
	remembered := mn.tenures[max(0, len(mn.tenures)-2):]
	if len(tenures) != len(remembered) {
		return fmt.Errorf("remembers %d tenures, model %d", len(tenures), len(remembered))
	}
	for i, t := range tenures {
		mt := remembered[len(remembered)-1-i]
		type tfacts struct {
			Visit, Displaced uint64
			From, Until      int64
			Reason           EndReason
		}
		got := tfacts{visitSeq(t.Visit), visitSeq(t.Displaced), timeMillis(t.From()), timeMillis(t.Until()), t.Reason()}
		want := tfacts{mt.visit.seq, mvisitSeq(mt.displaced), mt.from, mt.until, mt.reason}
		if got != want {
			return fmt.Errorf("tenure %d %+v, model %+v", i, got, want)
		}
		if t.Number != n {
			return fmt.Errorf("tenure %d names another number", i)
		}
		if err := compareVisit(t.Visit, mt.visit); err != nil {
			return err
		}
		if t.Displaced != nil {
			if err := compareVisit(t.Displaced, mt.displaced); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkExpiryHeap checks that the expiry heap is one, and that every pool
// with live visits has a current entry in it no later than its first
// visit's deadline.
func checkExpiryHeap(s *State) error {
	current := map[*Pool]bool{}
	for i, e := range s.expiry {
		if i > 0 && s.expiry.less(i, (i-1)/2) {
			return fmt.Errorf("expiry heap out of order at %d", i)
		}
		if e.pool.expiryDue == e.due {
			current[e.pool] = true
		}
	}
	for _, p := range s.Pools() {
		if p.Counts().Live == 0 {
			continue
		}
		if p.expiryDue == notScheduled || !current[p] {
			return fmt.Errorf("pool %s has live visits and no current entry in the expiry heap", p.ID)
		}
		for i := range p.seen {
			if seen := p.seen[i].Load(); seen != noHolder && p.expiryDue > seen+p.idleMillis() {
				return fmt.Errorf("pool %s is due at %d, after its line %d's deadline", p.ID, p.expiryDue, i)
			}
		}
	}
	return nil
}
