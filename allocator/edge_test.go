package allocator

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var edgeT0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// sec is edgeT0 plus s seconds.
func sec(s float64) time.Time { return edgeT0.Add(time.Duration(s * float64(time.Second))) }

func vid(n int) VisitID { return VisitID{0xd1, byte(n >> 8), byte(n)} }

func e164(pool, n int) string { return fmt.Sprintf("+1415555%02d%02d", pool, n) }

// edgeState makes a state with pool "p<pool>" (key "k<pool>") of size
// numbers, all added at time 0, numbered e164(pool, 0..size-1).
func edgeState(t *testing.T, size int, edit func(*Settings)) *State {
	t.Helper()
	s := New()
	addEdgePool(t, s, 1, size, edit)
	return s
}

func addEdgePool(t *testing.T, s *State, pool, size int, edit func(*Settings)) {
	t.Helper()
	st := Settings{Name: "edge", Size: size, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"}}.WithDefaults()
	if edit != nil {
		edit(&st)
	}
	id := fmt.Sprintf("p%d", pool)
	if _, err := s.CreatePool(CreatePool{ID: id, Key: fmt.Sprintf("k%d", pool), Settings: st, At: sec(0)}); err != nil {
		t.Fatal(err)
	}
	for i := range size {
		if _, err := s.AddNumber(AddNumber{Pool: id, E164: e164(pool, i), At: sec(0)}); err != nil {
			t.Fatal(err)
		}
	}
}

// Click ids as Google puts them on ad clicks' URLs.
const (
	testGCLID  = "Cj0KCQiA4L67BhDUARIsADWrl7Fm3sNNbk4jO4VQq1kE9z5qfWv-Ax0iOZs1rFWXwTN3TwTmL_aQ0qIaAkbhEALw_wcB"
	testGBRAID = "0AAAAADxyq2_mB5rJDxCmVsd1qgY9W4vG2"
	testWBRAID = "CkEKCQjwu9LBBhCyARIwAFBa9yTfI9xQtu4EDqLGmx0_4TnV0m3kzQKoMbYq"
)

func mustAssign(t *testing.T, s *State, v int, pool string, at time.Time) Assignment {
	t.Helper()
	a, err := s.Assign(Assign{Visit: vid(v), PoolKey: pool, At: at, Attribution: Attribution{GCLID: testGCLID}})
	if err != nil {
		t.Fatalf("assign visit %d: %v", v, err)
	}
	return a
}

func numberOf(a Assignment) string {
	if a.Number == nil {
		return ""
	}
	return a.Number.E164
}

func freeOrder(p *Pool) []string {
	var out []string
	for _, line := range p.free.order() {
		out = append(out, p.numbers[line].Load().E164)
	}
	return out
}

// unguarded takes away a pool's guards against scripts: any holder may be
// displaced however recently seen, and any number of new visits come at
// once. For tests about what displacement does rather than whom it spares.
func unguarded(s *Settings) {
	s.DisplaceAfter, s.VisitsPerMinute, s.VisitBurst = 0, MaxVisitsPerMinute, MaxVisitBurst
}

func TestAssignOutcomes(t *testing.T) {
	gclid := func(s *Settings) { s.Tracking = TrackGCLID }
	none := func(s *Settings) { s.Overflow = OverflowNone }
	fill := func(t *testing.T, s *State, n int) {
		for i := range n {
			mustAssign(t, s, i+1, "k1", sec(float64(i+1)))
		}
	}
	tests := []struct {
		name      string
		size      int
		settings  func(*Settings)
		before    func(t *testing.T, s *State)
		visit     int
		pool      string
		attr      Attribution
		at        float64
		err       error
		outcome   Outcome
		number    string
		displaced int
	}{
		{name: "gclid pool refuses a visitor with no Google click id", size: 4, settings: gclid,
			attr: Attribution{FBCLID: "fb", MSCLKID: "ms", Source: "google"}, err: ErrNotGoogleClick},
		{name: "gclid pool takes a gclid", size: 4, settings: gclid,
			attr: Attribution{GCLID: testGCLID}, outcome: Fresh, number: e164(1, 0)},
		{name: "gclid pool takes a gbraid", size: 4, settings: gclid,
			attr: Attribution{GBRAID: testGBRAID}, outcome: Fresh, number: e164(1, 0)},
		{name: "gclid pool takes a wbraid", size: 4, settings: gclid,
			attr: Attribution{WBRAID: testWBRAID}, outcome: Fresh, number: e164(1, 0)},
		{name: "gclid pool refuses a made-up gclid", size: 4, settings: gclid,
			attr: Attribution{GCLID: "x"}, err: ErrNotGoogleClick},
		{name: "gclid pool refuses a gclid one character short", size: 4, settings: gclid,
			attr: Attribution{GCLID: testGCLID[:MinGoogleClickIDLen-1]}, err: ErrNotGoogleClick},
		{name: "gclid pool takes a gclid of the shortest length", size: 4, settings: gclid,
			attr: Attribution{GCLID: testGCLID[:MinGoogleClickIDLen]}, outcome: Fresh, number: e164(1, 0)},
		{name: "gclid pool refuses a gclid longer than dni keeps", size: 4, settings: gclid,
			attr: Attribution{GCLID: strings.Repeat("A", MaxClickIDLen+1)}, err: ErrNotGoogleClick},
		{name: "gclid pool refuses a gclid with a character base64url has not", size: 4, settings: gclid,
			attr: Attribution{GCLID: testGCLID[:40] + "." + testGCLID[41:]}, err: ErrNotGoogleClick},
		{name: "gclid pool refuses a made-up gclid beside a real-looking Meta click id", size: 4, settings: gclid,
			attr: Attribution{GCLID: "test", FBCLID: testGCLID}, err: ErrNotGoogleClick},
		{name: "gclid pool takes a real-looking wbraid beside a made-up gclid", size: 4, settings: gclid,
			attr: Attribution{GCLID: "test", WBRAID: testWBRAID}, outcome: Fresh, number: e164(1, 0)},
		{name: "gclid pool keeps an existing visit without a click id sticky", size: 4, settings: gclid,
			before: func(t *testing.T, s *State) { fill(t, s, 1) }, visit: 1, outcome: Sticky, number: e164(1, 0)},
		{name: "overflow none gives no number when every number is held", size: 4, settings: none,
			before: func(t *testing.T, s *State) { fill(t, s, 4) }, outcome: Full},
		{name: "overflow recycle displaces the least recently seen holder", size: 4,
			before: func(t *testing.T, s *State) {
				fill(t, s, 4)
				s.Touch([]VisitID{vid(1)}, sec(10))
			}, at: 200, outcome: Recycled, number: e164(1, 1), displaced: 2},
		{name: "overflow recycle breaks a tie by the lowest line", size: 4,
			before: func(t *testing.T, s *State) {
				for i := range 4 {
					mustAssign(t, s, i+1, "k1", sec(1))
				}
				s.Touch([]VisitID{vid(1)}, sec(2))
			}, at: 200, outcome: Recycled, number: e164(1, 1), displaced: 2},
		{name: "overflow recycle never displaces a holder seen within DisplaceAfter", size: 4,
			before: func(t *testing.T, s *State) { fill(t, s, 4) }, at: 1 + 119.999, outcome: Full},
		{name: "overflow recycle displaces a holder seen DisplaceAfter ago", size: 4,
			before: func(t *testing.T, s *State) { fill(t, s, 4) }, at: 1 + 120, outcome: Recycled, number: e164(1, 0), displaced: 1},
		{name: "a heartbeat protects every holder again", size: 4,
			before: func(t *testing.T, s *State) {
				fill(t, s, 4)
				s.Touch([]VisitID{vid(1), vid(2), vid(3), vid(4)}, sec(150))
			}, at: 200, outcome: Full},
		{name: "a DisplaceAfter of zero lets a new visit displace anyone", size: 4,
			settings: func(s *Settings) { s.DisplaceAfter = 0 },
			before:   func(t *testing.T, s *State) { fill(t, s, 4) }, outcome: Recycled, number: e164(1, 0), displaced: 1},
		{name: "a spent budget gives no number, even with numbers free", size: 4,
			settings: func(s *Settings) { s.VisitBurst, s.VisitsPerMinute = 2, 1 },
			before:   func(t *testing.T, s *State) { fill(t, s, 2) }, at: 3, outcome: OverBudget},
		{name: "a longer DisplaceAfter protects longer", size: 4,
			settings: func(s *Settings) { s.DisplaceAfter = 10 * time.Minute },
			before:   func(t *testing.T, s *State) { fill(t, s, 4) }, at: 500, outcome: Full},
		{name: "a pool with no numbers is full", size: 4,
			before: func(t *testing.T, s *State) {
				for i := range 4 {
					if _, err := s.ConfirmRelease(ReleaseNumber{E164: e164(1, i), At: sec(1)}); err != nil {
						t.Fatal(err)
					}
				}
			}, outcome: Full},
		{name: "a numberless visit is sticky without a number", size: 4, settings: unguarded,
			before: func(t *testing.T, s *State) {
				fill(t, s, 5) // visit 1 displaced
			}, visit: 1, outcome: Sticky},
		{name: "a deleted pool gives nothing", size: 4,
			before: func(t *testing.T, s *State) {
				if _, err := s.DeletePool(DeletePool{ID: "p1", At: sec(1)}); err != nil {
					t.Fatal(err)
				}
			}, err: ErrPoolDeleted},
		{name: "an unknown key is an error", size: 4, pool: "k9", err: ErrUnknownPool},
		{name: "a visit of another pool is an error", size: 4,
			before: func(t *testing.T, s *State) {
				addEdgePool(t, s, 2, 4, nil)
				mustAssign(t, s, 1, "k2", sec(1))
			}, visit: 1, err: ErrVisitElsewhere},
		{name: "a time before 1970 is an error", size: 4, at: -2e9, err: ErrBadTime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := edgeState(t, tc.size, tc.settings)
			if tc.before != nil {
				tc.before(t, s)
			}
			visit, pool, at := tc.visit, tc.pool, tc.at
			if visit == 0 {
				visit = 100
			}
			if pool == "" {
				pool = "k1"
			}
			if at == 0 {
				at = 60
			}
			before := s.Export()
			a, err := s.Assign(Assign{Visit: vid(visit), PoolKey: pool, Attribution: tc.attr, At: sec(at)})
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				if !equalImages(before, s.Export()) {
					t.Fatalf("a refused visit (%v) changed the state", err)
				}
				return
			}
			if a.Outcome != tc.outcome || numberOf(a) != tc.number {
				t.Fatalf("got %s %q, want %s %q", a.Outcome, numberOf(a), tc.outcome, tc.number)
			}
			switch {
			case tc.displaced == 0 && a.Displaced != nil:
				t.Fatalf("displaced %s", a.Displaced.ID)
			case tc.displaced != 0 && (a.Displaced == nil || a.Displaced.ID != vid(tc.displaced)):
				t.Fatalf("displaced %v, want visit %d", a.Displaced, tc.displaced)
			case tc.displaced != 0 && (!a.Displaced.Live() || a.Displaced.Number() != nil):
				t.Fatalf("the displaced visit should stay live without a number")
			}
			if a.Outcome == Full || a.Outcome == OverBudget {
				if a.Visit != nil || s.Visit(vid(visit)) != nil {
					t.Fatalf("%s made a visit", a.Outcome)
				}
				if !equalImages(withoutUsage(before), withoutUsage(s.Export())) {
					t.Fatalf("%s changed the state beyond the pool's usage", a.Outcome)
				}
			}
			if a.Outcome == Sticky && !a.Visit.LastSeen().Equal(sec(at)) {
				t.Fatalf("a sticky assignment is a heartbeat: last seen %v, want %v", a.Visit.LastSeen(), sec(at))
			}
		})
	}
}

func equalImages(a, b *Image) bool { return imageDiff(a, b) == "no difference found" }

// TestABudgetOfNewVisitsGrantsItsBurstThenItsRate: a pool gives numbers to
// VisitBurst new visits at once, then to VisitsPerMinute a minute; a visit
// past the budget gets none and changes nothing, and only visits that get a
// number spend it.
func TestABudgetOfNewVisitsGrantsItsBurstThenItsRate(t *testing.T) {
	type visit struct {
		at      float64
		outcome Outcome
	}
	tests := []struct {
		name     string
		size     int // 40 if not set
		settings func(*Settings)
		before   func(t *testing.T, s *State)
		visits   []visit
	}{
		{name: "the burst at once, then one every 60/rate seconds",
			settings: func(s *Settings) { s.VisitBurst, s.VisitsPerMinute = 3, 6 },
			visits: []visit{
				{1, Fresh}, {1, Fresh}, {1, Fresh}, {1, OverBudget}, {10.999, OverBudget}, {11, Fresh}, {11, OverBudget},
				{21, Fresh}, {21, OverBudget},
			}},
		{name: "a refilled budget holds no more than the burst",
			settings: func(s *Settings) { s.VisitBurst, s.VisitsPerMinute = 2, 60 },
			visits:   []visit{{1, Fresh}, {1, Fresh}, {3600, Fresh}, {3600, Fresh}, {3600, OverBudget}}},
		{name: "automatic: the size at once, twice the size a minute", size: 4,
			settings: func(s *Settings) { s.DisplaceAfter = 0 },
			visits: []visit{
				{1, Fresh}, {1, Fresh}, {1, Fresh}, {1, Fresh}, {1, OverBudget}, {8.499, OverBudget}, {8.5, Recycled}, {8.5, OverBudget},
			}},
		{name: "a time before the last granted visit's refills nothing",
			settings: func(s *Settings) { s.VisitBurst, s.VisitsPerMinute = 1, 1 },
			visits:   []visit{{100, Fresh}, {40, OverBudget}, {159.999, OverBudget}, {160, Fresh}}},
		{name: "a full pool spends nothing", size: 4,
			settings: func(s *Settings) { s.VisitBurst, s.VisitsPerMinute, s.Overflow = 5, 1, OverflowNone },
			before: func(t *testing.T, s *State) {
				for i := range 4 {
					mustAssign(t, s, 50+i, "k1", sec(1))
				}
				for range 3 {
					if a := mustAssign(t, s, 60, "k1", sec(1)); a.Outcome != Full {
						t.Fatalf("a visit to the full pool: %s", a.Outcome)
					}
				}
				if _, err := s.UpdatePool(UpdatePool{ID: "p1", Patch: Patch{Size: ptr(5)}, At: sec(2)}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.AddNumber(AddNumber{Pool: "p1", E164: e164(1, 40), At: sec(2)}); err != nil {
					t.Fatal(err)
				}
			},
			visits: []visit{{2, Fresh}, {2, OverBudget}}},
		{name: "a larger burst applies at once",
			settings: func(s *Settings) { s.VisitBurst, s.VisitsPerMinute = 1, 1 },
			before: func(t *testing.T, s *State) {
				mustAssign(t, s, 50, "k1", sec(1))
				if _, err := s.UpdatePool(UpdatePool{ID: "p1", Patch: Patch{VisitBurst: ptr(3)}, At: sec(2)}); err != nil {
					t.Fatal(err)
				}
			},
			visits: []visit{{2, Fresh}, {2, Fresh}, {2, OverBudget}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			if size == 0 {
				size = 40
			}
			s := edgeState(t, size, tc.settings)
			if tc.before != nil {
				tc.before(t, s)
			}
			for i, v := range tc.visits {
				before := s.Export()
				a := mustAssign(t, s, 100+i, "k1", sec(v.at))
				if a.Outcome != v.outcome {
					t.Fatalf("visit %d at %v s: %s, want %s", i, v.at, a.Outcome, v.outcome)
				}
				if v.outcome == OverBudget && (a.Visit != nil || !equalImages(before, s.Export())) {
					t.Fatalf("visit %d at %v s: over budget, but it made a visit or changed the state", i, v.at)
				}
			}
		})
	}
	t.Run("a refused or repeated visit spends nothing", func(t *testing.T) {
		s := edgeState(t, 4, func(s *Settings) { s.VisitBurst, s.VisitsPerMinute, s.Tracking = 1, 1, TrackGCLID })
		if _, err := s.Assign(Assign{Visit: vid(1), PoolKey: "k1", At: sec(1)}); !errors.Is(err, ErrNotGoogleClick) {
			t.Fatalf("error %v", err)
		}
		if a := mustAssign(t, s, 2, "k1", sec(1)); a.Outcome != Fresh {
			t.Fatalf("the first Google click: %s", a.Outcome)
		}
		if a := mustAssign(t, s, 2, "k1", sec(2)); a.Outcome != Sticky {
			t.Fatalf("a retry of the visit: %s", a.Outcome)
		}
		if s.Pool("p1").WithinBudget(sec(2)) {
			t.Fatal("WithinBudget says yes with the budget spent")
		}
		if !s.Pool("p1").WithinBudget(sec(61)) {
			t.Fatal("WithinBudget says no a minute later")
		}
	})
}

// TestAnAssignWrittenBeforeTheGuardsIsAppliedWithoutThem: replaying a log
// written before the guards against scripts gives what the nodes that wrote
// it had: no budget, any holder displaced, any click id a Google click. The
// guarded Assign beside it keeps every guard.
func TestAnAssignWrittenBeforeTheGuardsIsAppliedWithoutThem(t *testing.T) {
	s := edgeState(t, 4, func(s *Settings) { s.Tracking, s.VisitBurst, s.VisitsPerMinute = TrackGCLID, 4, 1 })
	for i := range 4 {
		mustAssign(t, s, i+1, "k1", sec(1))
	}
	for _, c := range []struct {
		unguarded bool
		outcome   Outcome
		err       error
	}{
		{false, 0, ErrNotGoogleClick}, // "x" is no Google click id
		{true, Recycled, nil},         // past the budget, displacing a visitor seen a second ago
	} {
		a, err := s.Assign(Assign{Visit: vid(10), PoolKey: "k1", At: sec(2), Attribution: Attribution{GCLID: "x"}, Unguarded: c.unguarded})
		if !errors.Is(err, c.err) || a.Outcome != c.outcome {
			t.Fatalf("unguarded %v: %v %v, want %v %v", c.unguarded, a.Outcome, err, c.outcome, c.err)
		}
	}
	if p := s.Pool("p1"); p.budgetSpent.Load() != 4*visitCost || p.budgetAt.Load() != millis(sec(1)) {
		t.Errorf("the unguarded visit spent from the budget: %d at %d", p.budgetSpent.Load(), p.budgetAt.Load())
	}
}

func TestRefreshNeverDisplacesAnyone(t *testing.T) {
	tests := []struct {
		name    string
		before  func(t *testing.T, s *State) // visit 1 is numberless after it, unless said
		req     RequestID
		outcome Outcome
		number  string
	}{
		{name: "full pool: the numberless visit stays numberless", outcome: Full,
			before: func(t *testing.T, s *State) {}},
		{name: "a free number goes to the numberless visit", outcome: Fresh, number: e164(1, 4),
			before: func(t *testing.T, s *State) {
				if _, err := s.UpdatePool(UpdatePool{ID: "p1", Patch: Patch{Size: ptr(5)}, At: sec(20)}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.AddNumber(AddNumber{Pool: "p1", E164: e164(1, 4), At: sec(21)}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "the first free number, not the last", outcome: Fresh, number: e164(1, 1),
			before: func(t *testing.T, s *State) {
				// Visits 2 and 3 hold lines 1 and 2; they expire, 2 first.
				s.Touch([]VisitID{vid(1), vid(4), vid(5)}, sec(150))
				if n := s.Expire(sec(185)); n != 2 {
					t.Fatalf("expired %d, want 2", n)
				}
			}},
		{name: "a retry of a refresh already applied does nothing", outcome: Sticky, req: RequestID{9},
			before: func(t *testing.T, s *State) {
				if _, err := s.UpdatePool(UpdatePool{ID: "p1", Patch: Patch{Size: ptr(5)}, At: sec(20)}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.AddNumber(AddNumber{Pool: "p1", E164: e164(1, 4), At: sec(21)}); err != nil {
					t.Fatal(err)
				}
				if a, _ := s.Refresh(Refresh{Visit: vid(1), Req: RequestID{9}, At: sec(22)}); a.Outcome != Fresh {
					t.Fatalf("first refresh: %s", a.Outcome)
				}
				if _, err := s.MarkRelease(ReleaseNumber{E164: e164(1, 4), At: sec(23)}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.AddNumber(AddNumber{Pool: "p1", E164: e164(1, 5), At: sec(24)}); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := edgeState(t, 4, unguarded)
			for i := range 5 {
				mustAssign(t, s, i+1, "k1", sec(float64(i+1))) // visit 5 displaces visit 1
			}
			tc.before(t, s)
			holders := func() []VisitID {
				var out []VisitID
				for _, v := range s.Pool("p1").Holders() {
					out = append(out, v.ID)
				}
				return out
			}
			was := holders()
			req := tc.req
			if req == (RequestID{}) {
				req = RequestID{1, 2, 3}
			}
			a, err := s.Refresh(Refresh{Visit: vid(1), Req: req, At: sec(170)})
			if err != nil {
				t.Fatal(err)
			}
			if a.Outcome != tc.outcome || numberOf(a) != tc.number || a.Displaced != nil {
				t.Fatalf("got %s %q displaced %v, want %s %q", a.Outcome, numberOf(a), a.Displaced, tc.outcome, tc.number)
			}
			now := holders()
			for _, id := range was {
				if !slices.Contains(now, id) {
					t.Fatalf("visit %s lost its number to a refresh", id)
				}
			}
			if !a.Visit.LastSeen().Equal(sec(170)) {
				t.Fatalf("a refresh is a heartbeat: last seen %v", a.Visit.LastSeen())
			}
		})
	}
	t.Run("an unknown visit is an error", func(t *testing.T) {
		s := edgeState(t, 4, nil)
		if _, err := s.Refresh(Refresh{Visit: vid(7), At: sec(1)}); !errors.Is(err, ErrUnknownVisit) {
			t.Fatalf("error %v, want ErrUnknownVisit", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestExpireFreesNumbersInTheOrderTheirVisitorsLeft(t *testing.T) {
	s := edgeState(t, 6, nil)
	for i := range 6 {
		mustAssign(t, s, i+1, "k1", sec(1))
	}
	// Last heartbeats: line 0 at 30, line 1 at 10, line 2 at 20, line 3 at
	// 10 (tie with line 1), lines 4 and 5 stay.
	s.Touch([]VisitID{vid(1)}, sec(30))
	s.Touch([]VisitID{vid(2), vid(4)}, sec(10))
	s.Touch([]VisitID{vid(3)}, sec(20))
	s.Touch([]VisitID{vid(5), vid(6)}, sec(500))
	if n := s.Expire(sec(250)); n != 4 {
		t.Fatalf("expired %d, want 4", n)
	}
	want := []string{e164(1, 1), e164(1, 3), e164(1, 2), e164(1, 0)}
	if got := freeOrder(s.Pool("p1")); !slices.Equal(got, want) {
		t.Fatalf("free list %v, want %v", got, want)
	}
	for _, e := range want {
		if !s.Number(e).LastFreed().Equal(sec(250)) {
			t.Fatalf("%s last freed %v", e, s.Number(e).LastFreed())
		}
	}
	if a := mustAssign(t, s, 7, "k1", sec(251)); numberOf(a) != e164(1, 1) {
		t.Fatalf("the next visit got %s, want %s", numberOf(a), e164(1, 1))
	}
}

func TestRandomAllocationPicksByTheVisitAndLRUTakesTheNumberFreeLongest(t *testing.T) {
	// Four numbers, freed in the order 3, 1, 0, 2: LRU hands out 3 first,
	// the number whose caller is least likely still to call.
	freed := func(edit func(*Settings)) *State {
		s := edgeState(t, 4, edit)
		for i := range 4 {
			mustAssign(t, s, i+1, "k1", sec(1))
		}
		for i, v := range []int{4, 2, 1, 3} {
			s.Touch([]VisitID{vid(v)}, sec(float64(10+i)))
		}
		if n := s.Expire(sec(400)); n != 4 {
			t.Fatalf("expired %d, want 4", n)
		}
		return s
	}
	lru := freed(nil)
	for v := 10; v < 14; v++ {
		if a := mustAssign(t, lru, v, "k1", sec(401)); numberOf(a) != e164(1, []int{3, 1, 0, 2}[v-10]) {
			t.Fatalf("LRU gave visit %d %s", v, numberOf(a))
		}
	}

	// Random: the visit's id alone decides, so every replica agrees, and
	// across visits every free number comes up, the one freed last too.
	random := func(s *Settings) { s.Allocation = AllocateRandom }
	got := map[string]bool{}
	for v := 10; v < 60; v++ {
		a, b := freed(random), freed(random)
		na, nb := numberOf(mustAssign(t, a, v, "k1", sec(401))), numberOf(mustAssign(t, b, v, "k1", sec(401)))
		if na != nb || na == "" {
			t.Fatalf("visit %d got %q and %q from two identical states", v, na, nb)
		}
		if err := a.Verify(); err != nil {
			t.Fatal(err)
		}
		got[na] = true
	}
	if len(got) != 4 {
		t.Fatalf("random allocation only ever picked %v", got)
	}
}

func TestShrinkRetiresInTheDocumentedOrder(t *testing.T) {
	s := edgeState(t, 10, nil)
	// Visits 1..8 hold lines 0..7; lines 8 and 9 are free and never held.
	for i := range 8 {
		mustAssign(t, s, i+1, "k1", sec(1))
	}
	s.Touch([]VisitID{vid(2), vid(4), vid(6), vid(8)}, sec(100))
	s.Touch([]VisitID{vid(4)}, sec(50)) // no effect: a touch never goes back
	s.Touch([]VisitID{vid(7)}, sec(120))
	s.Touch([]VisitID{vid(1)}, sec(150))
	s.Touch([]VisitID{vid(3), vid(5)}, sec(200))
	// Free ones front first, then holders by last heartbeat, lowest line
	// first on a tie: v2, v4, v6, v8 (100), v7 (120), v1 (150), v3, v5 (200).
	order := []string{e164(1, 8), e164(1, 9), e164(1, 1), e164(1, 3), e164(1, 5), e164(1, 7)}
	img := s.Export()
	for size := 9; size >= MinPoolSize; size-- {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			c, err := Import(img)
			if err != nil {
				t.Fatal(err)
			}
			up, err := c.UpdatePool(UpdatePool{ID: "p1", Patch: Patch{Size: ptr(size)}, At: sec(210)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range up.Retired {
				got = append(got, n.E164)
				if n.State() != NumberReleasing || n.Holder() != nil || !n.ReleasedAt().Equal(sec(210)) {
					t.Fatalf("retired %s is %s, held by %v, released at %v", n.E164, n.State(), n.Holder(), n.ReleasedAt())
				}
			}
			if want := order[:10-size]; !slices.Equal(got, want) {
				t.Fatalf("retired %v, want %v", got, want)
			}
			held := max(0, 10-size-2)
			for _, v := range []int{2, 4, 6, 8, 7, 1}[:held] {
				if cv := c.Visit(vid(v)); cv == nil || cv.Number() != nil {
					t.Fatalf("visit %d should be live and numberless", v)
				}
			}
			want := Counts{Active: size, Free: max(0, size-8), Releasing: 10 - size, Live: 8, Numberless: held}
			if got := c.Pool("p1").Counts(); got != want {
				t.Fatalf("counts %+v, want %+v", got, want)
			}
		})
	}
	if _, err := s.UpdatePool(UpdatePool{ID: "p1", Patch: Patch{Size: ptr(MinPoolSize - 1)}, At: sec(210)}); err == nil {
		t.Fatal("shrinking below the minimum size was accepted")
	}
}

func TestRecordCallIsIdempotentBySID(t *testing.T) {
	s := edgeState(t, 4, nil)
	a := mustAssign(t, s, 1, "k1", sec(1))
	first, err := s.RecordCall(RecordCall{SID: "CA1", To: numberOf(a), From: "+12125550100", At: sec(10)})
	if err != nil {
		t.Fatal(err)
	}
	if first.Match != MatchLive || first.Visit != vid(1) || !first.FirstTime || first.PoolID != "p1" {
		t.Fatalf("first record: %+v", first)
	}
	again, err := s.RecordCall(RecordCall{SID: "CA1", To: e164(1, 3), From: "+12125550199", At: sec(20)})
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("a second record of CA1 changed it: %+v", again)
	}
	other, err := s.RecordCall(RecordCall{SID: "CA2", To: numberOf(a), From: "+12125550100", At: sec(30)})
	if err != nil {
		t.Fatal(err)
	}
	if other.FirstTime {
		t.Fatal("the caller's second call is marked as their first")
	}
	n := 0
	s.Calls(func(*Call) bool { n++; return true })
	if n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	if _, err := s.RecordCall(RecordCall{SID: "CA-1", At: sec(1)}); !errors.Is(err, ErrBadCall) {
		t.Fatalf("bad sid: %v", err)
	}
}

func TestUpdateCallStatusOnlyMovesForward(t *testing.T) {
	tests := []struct {
		name     string
		record   bool // the voice webhook's record comes first
		statuses []CallStatus
		want     CallStatus
	}{
		{"in order", true, []CallStatus{CallQueued, CallRinging, CallInProgress, CallCompleted}, CallCompleted},
		{"a late ringing after completed", true, []CallStatus{CallInProgress, CallCompleted, CallRinging}, CallCompleted},
		{"the first final status stays", true, []CallStatus{CallBusy, CallCompleted, CallFailed}, CallBusy},
		{"repeats do nothing", true, []CallStatus{CallRinging, CallRinging, CallRinging}, CallRinging},
		{"backwards does nothing", false, []CallStatus{CallInProgress, CallQueued}, CallInProgress},
		{"updates before the record are kept", false, []CallStatus{CallRinging, CallNoAnswer}, CallNoAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := edgeState(t, 4, nil)
			mustAssign(t, s, 1, "k1", sec(1))
			if tc.record {
				if _, err := s.RecordCall(RecordCall{SID: "CA7", To: e164(1, 0), From: "+12125550100", At: sec(5)}); err != nil {
					t.Fatal(err)
				}
			}
			var last *Call
			for i, st := range tc.statuses {
				c, err := s.UpdateCall(UpdateCall{SID: "CA7", Status: st, Duration: time.Duration(i) * time.Second, At: sec(float64(6 + i))})
				if err != nil {
					t.Fatal(err)
				}
				if last != nil && c.Status.rank() < last.Status.rank() {
					t.Fatalf("status moved back from %s to %s", last.Status, c.Status)
				}
				last = c
			}
			if !tc.record {
				if _, err := s.RecordCall(RecordCall{SID: "CA7", To: e164(1, 0), From: "+12125550100", At: sec(5)}); err != nil {
					t.Fatal(err)
				}
			}
			c := s.Call("CA7")
			if c.Status != tc.want || !c.Recorded || c.Match != MatchLive || c.Visit != vid(1) {
				t.Fatalf("call %+v, want status %s, recorded, matched live to visit 1", c, tc.want)
			}
		})
	}
	s := New()
	for _, u := range []UpdateCall{
		{SID: "CA1", Status: "lost", At: sec(1)},
		{SID: "CA1", Status: CallRinging, Duration: -1, At: sec(1)},
	} {
		var ve *ValidationError
		if _, err := s.UpdateCall(u); !errors.As(err, &ve) {
			t.Fatalf("UpdateCall(%+v): %v, want a validation error", u, err)
		}
	}
}

func TestMatchCallThroughATenure(t *testing.T) {
	s := edgeState(t, 4, func(s *Settings) { s.AttributionWindow, s.DisplaceAfter = 10*time.Minute, 90*time.Second })
	for i := range 4 {
		mustAssign(t, s, i+1, "k1", sec(float64(i+1)))
	}
	mustAssign(t, s, 5, "k1", sec(100)) // displaces visit 1 on e164(1, 0), seen 99 s before
	s.Touch([]VisitID{vid(1)}, sec(120))
	s.Touch([]VisitID{vid(2), vid(3), vid(4)}, sec(200))
	if n := s.Expire(sec(290)); n != 1 {
		t.Fatalf("expired %d, want 1", n) // visit 5 (seen 100) leaves; visit 1 (120) stays
	}
	tests := []struct {
		at         float64
		kind       MatchKind
		visit, als int
	}{
		{0.5, MatchNone, 0, 0},         // before anyone held it
		{50, MatchLive, 1, 0},          // visit 1 held it then
		{150, MatchShared, 5, 1},       // visit 5 took it from visit 1 50 s before
		{290, MatchShared, 5, 1},       // the tenure ended at this very time
		{700, MatchShared, 5, 1},       // 600 s after visit 5 took it: still shared
		{750, MatchRecent, 5, 0},       // later, only visit 5, which left at 290
		{290 + 600, MatchRecent, 5, 0}, // the last moment of the window
		{290 + 601, MatchNone, 0, 0},   // past it
	}
	for _, tc := range tests {
		m := s.MatchCall(e164(1, 0), sec(tc.at))
		if m.Kind != tc.kind || visitOf(m.Visit) != tc.visit || visitOf(m.Also) != tc.als {
			t.Errorf("call at %v: %s %d %d, want %s %d %d", tc.at, m.Kind, visitOf(m.Visit), visitOf(m.Also), tc.kind, tc.visit, tc.als)
		}
	}
}

func visitOf(v *Visit) int {
	if v == nil {
		return 0
	}
	return int(v.ID[1])<<8 | int(v.ID[2])
}

// corruptionScene builds a state with one of each thing an image holds: a
// free number, held ones, a number with an ended and a live tenure, a
// numberless visit, a released number and a call.
func corruptionScene(t *testing.T) *State {
	t.Helper()
	s := edgeState(t, 6, nil)
	for i := range 4 {
		mustAssign(t, s, i+1, "k1", sec(float64(i+1))) // lines 0..3
	}
	if _, err := s.MarkRelease(ReleaseNumber{E164: e164(1, 0), At: sec(5)}); err != nil {
		t.Fatal(err) // visit 1 numberless
	}
	s.Touch([]VisitID{vid(1), vid(2), vid(3)}, sec(100))
	if n := s.Expire(sec(190)); n != 1 {
		t.Fatalf("expired %d, want 1", n) // visit 4 leaves line 3
	}
	for _, v := range []int{5, 6, 7} {
		mustAssign(t, s, v, "k1", sec(195)) // lines 4, 5, then 3
	}
	if _, err := s.AddNumber(AddNumber{Pool: "p1", E164: e164(1, 6), At: sec(196)}); err != nil {
		t.Fatal(err) // free on line 0
	}
	if _, err := s.RecordCall(RecordCall{SID: "CA1", To: e164(1, 3), From: "+12125550100", At: sec(197)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateCall(UpdateCall{SID: "CA2", Status: CallRinging, At: sec(198)}); err != nil {
		t.Fatal(err)
	}
	return s
}

// imageNumber is the record of number e in img.
func imageNumber(t *testing.T, img *Image, e string) *NumberRecord {
	t.Helper()
	for i := range img.Numbers {
		if img.Numbers[i].E164 == e {
			return &img.Numbers[i]
		}
	}
	t.Fatalf("no number %s in the image", e)
	return nil
}

// imageVisit is the record of visit v in img.
func imageVisit(t *testing.T, img *Image, v int) *VisitRecord {
	t.Helper()
	for i := range img.Visits {
		if img.Visits[i].ID == vid(v) {
			return &img.Visits[i]
		}
	}
	t.Fatalf("no visit %d in the image", v)
	return nil
}

func TestImportRejectsCorruptImage(t *testing.T) {
	number := func(img *Image, e string) *NumberRecord { return imageNumber(t, img, e) }
	visit := func(img *Image, v int) *VisitRecord { return imageVisit(t, img, v) }
	tests := []struct {
		name    string
		corrupt func(img *Image)
	}{
		{"the free list names a held line", func(img *Image) {
			img.Pools[0].Free = []int8{number(img, e164(1, 1)).Line}
		}},
		{"the free list names a line twice", func(img *Image) {
			img.Pools[0].Free = append(img.Pools[0].Free, img.Pools[0].Free[0])
		}},
		{"the free list misses a free line", func(img *Image) { img.Pools[0].Free = []int8{} }},
		{"the free list names an empty line", func(img *Image) { img.Pools[0].Free = []int8{40} }},
		{"the free list names a line out of range", func(img *Image) { img.Pools[0].Free = []int8{MaxPoolSize} }},
		{"two live holders of one number", func(img *Image) {
			n := number(img, e164(1, 3))
			n.Tenures[1].Until, n.Tenures[1].Reason = 0, Holding
			visit(img, 4).Ended = 0
		}},
		{"one visit holds two numbers", func(img *Image) {
			number(img, e164(1, 2)).Tenures[0].Visit = number(img, e164(1, 1)).Tenures[0].Visit
		}},
		{"a number is held by an ended visit", func(img *Image) { visit(img, 2).Ended = 300_000 }},
		{"a live tenure after an ended one", func(img *Image) {
			n := number(img, e164(1, 3))
			n.Tenures[0], n.Tenures[1] = n.Tenures[1], n.Tenures[0]
		}},
		{"three tenures", func(img *Image) {
			n := number(img, e164(1, 3))
			n.Tenures = append(n.Tenures, n.Tenures[1])
		}},
		{"an ended tenure without a reason", func(img *Image) { number(img, e164(1, 3)).Tenures[1].Reason = Holding }},
		{"a holder never seen", func(img *Image) { number(img, e164(1, 1)).Seen = 0 }},
		{"the numberless list names a holder", func(img *Image) {
			img.Pools[0].Numberless = append(img.Pools[0].Numberless, visit(img, 2).Seq)
		}},
		{"the numberless list names a visit twice", func(img *Image) {
			img.Pools[0].Numberless = append(img.Pools[0].Numberless, img.Pools[0].Numberless[0])
		}},
		{"a live visit neither holds nor waits", func(img *Image) { img.Pools[0].Numberless = nil }},
		{"a tenure of a missing visit", func(img *Image) { number(img, e164(1, 1)).Tenures[0].Visit = 99 }},
		{"a displaced visit is missing", func(img *Image) { number(img, e164(1, 1)).Tenures[0].Displaced = 99 }},
		{"two numbers on one line", func(img *Image) { number(img, e164(1, 2)).Line = number(img, e164(1, 1)).Line }},
		{"a number out of service on a line", func(img *Image) { number(img, e164(1, 0)).Line = 7 }},
		{"an unknown number state", func(img *Image) { number(img, e164(1, 0)).State = 9 }},
		{"numbers out of order", func(img *Image) { img.Numbers[0], img.Numbers[1] = img.Numbers[1], img.Numbers[0] }},
		{"a number of a missing pool", func(img *Image) { number(img, e164(1, 0)).Pool = 7 }},
		{"a budget spent below nothing", func(img *Image) { img.Pools[0].BudgetSpent = -1 }},
		{"a budget spent past any burst", func(img *Image) { img.Pools[0].BudgetSpent = MaxVisitBurst*visitCost + 1 }},
		{"a budget spent at a time out of range", func(img *Image) { img.Pools[0].BudgetAt = -1 }},
		{"a number that is not E.164", func(img *Image) { number(img, e164(1, 0)).E164 = "555" }},
		{"a visit live twice", func(img *Image) { visit(img, 3).ID = vid(2) }},
		{"a visit sequence past the counter", func(img *Image) { img.VisitSeq = 2 }},
		{"a repeated call sid", func(img *Image) { img.Calls[1].SID = img.Calls[0].SID }},
		{"a bad call sid", func(img *Image) { img.Calls[1].SID = "CA 2" }},
		{"a pool key twice", func(img *Image) {
			p := img.Pools[0]
			p.Seq, p.ID = 2, "p2"
			img.Pools, img.PoolSeq = append(img.Pools, p), 2
		}},
		{"bad settings", func(img *Image) { img.Pools[0].Settings.Size = 0 }},
		{"a bad request ring", func(img *Image) { img.Pools[0].NextReq = 4 }},
	}
	good := corruptionScene(t).Export()
	if _, err := Import(good); err != nil {
		t.Fatalf("the untouched image: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := deepCopy(good)
			if err != nil {
				t.Fatal(err)
			}
			tc.corrupt(img)
			if equalImages(img, good) {
				t.Fatal("the corruption changed nothing")
			}
			if _, err := Import(img); !errors.Is(err, ErrCorruptImage) {
				t.Fatalf("Import: %v, want ErrCorruptImage", err)
			}
		})
	}
}

// deepCopy copies an image by importing and exporting it, which copies
// every slice and pointer.
func deepCopy(img *Image) (*Image, error) {
	s, err := Import(img)
	if err != nil {
		return nil, err
	}
	return s.Export(), nil
}

func TestAddNumberOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		before func(t *testing.T, s *State)
		add    AddNumber
		err    error
		state  NumberState
		size   int // the pool's size after
		free   []string
	}{
		{name: "a bought number joins a pool below its size",
			before: func(t *testing.T, s *State) { mustUpdate(t, s, Patch{Size: ptr(5)}) },
			add:    AddNumber{E164: e164(1, 9)}, state: NumberActive, size: 5,
			free: []string{e164(1, 0), e164(1, 1), e164(1, 2), e164(1, 3), e164(1, 9)}},
		{name: "a never-held number goes behind the other never-held ones, before freed ones",
			before: func(t *testing.T, s *State) {
				mustUpdate(t, s, Patch{Size: ptr(6)})
				mustAssign(t, s, 1, "k1", sec(1)) // line 0
				s.Expire(sec(500))                // line 0 freed, to the back
				if _, err := s.AddNumber(AddNumber{Pool: "p1", E164: e164(1, 8), At: sec(501)}); err != nil {
					t.Fatal(err)
				}
			},
			add: AddNumber{E164: e164(1, 9)}, state: NumberActive, size: 6,
			free: []string{e164(1, 1), e164(1, 2), e164(1, 3), e164(1, 8), e164(1, 9), e164(1, 0)}},
		{name: "a bought number beyond the size is released", add: AddNumber{E164: e164(1, 9)},
			state: NumberReleasing, size: 4},
		{name: "an owned number beyond the size grows the pool", add: AddNumber{E164: e164(1, 9), Owned: true},
			state: NumberActive, size: 5},
		{name: "an owned number does not fit a pool of the most numbers",
			before: func(t *testing.T, s *State) {
				mustUpdate(t, s, Patch{Size: ptr(MaxPoolSize)})
				for i := 4; i < MaxPoolSize; i++ {
					if _, err := s.AddNumber(AddNumber{Pool: "p1", E164: e164(1, i), At: sec(1)}); err != nil {
						t.Fatal(err)
					}
				}
			},
			add: AddNumber{E164: e164(1, 99), Owned: true}, err: ErrPoolFull, size: MaxPoolSize},
		{name: "a bought number for a deleted pool is released",
			before: func(t *testing.T, s *State) { mustDelete(t, s) },
			add:    AddNumber{E164: e164(1, 9)}, state: NumberReleasing, size: 4},
		{name: "an owned number for a deleted pool is refused",
			before: func(t *testing.T, s *State) { mustDelete(t, s) },
			add:    AddNumber{E164: e164(1, 9), Owned: true}, err: ErrPoolDeleted, size: 4},
		{name: "adding a number again does nothing", add: AddNumber{E164: e164(1, 2)},
			state: NumberActive, size: 4},
		{name: "a number of another pool is refused",
			before: func(t *testing.T, s *State) { addEdgePool(t, s, 2, 4, nil) },
			add:    AddNumber{E164: e164(2, 0)}, err: ErrNumberInUse, size: 4},
		{name: "a released number can be bought again",
			before: func(t *testing.T, s *State) {
				if _, err := s.ConfirmRelease(ReleaseNumber{E164: e164(1, 2), At: sec(1)}); err != nil {
					t.Fatal(err)
				}
			},
			add: AddNumber{E164: e164(1, 2)}, state: NumberActive, size: 4,
			free: []string{e164(1, 0), e164(1, 1), e164(1, 3), e164(1, 2)}},
		{name: "an unknown pool", add: AddNumber{Pool: "p9", E164: e164(1, 9)}, err: ErrUnknownPool, size: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := edgeState(t, 4, nil)
			if tc.before != nil {
				tc.before(t, s)
			}
			a := tc.add
			if a.Pool == "" {
				a.Pool = "p1"
			}
			a.At = sec(600)
			n, err := s.AddNumber(a)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && n.State() != tc.state {
				t.Fatalf("number is %s, want %s", n.State(), tc.state)
			}
			p := s.Pool("p1")
			if got := p.Settings().Size; got != tc.size {
				t.Fatalf("size %d, want %d", got, tc.size)
			}
			if tc.free != nil && !slices.Equal(freeOrder(p), tc.free) {
				t.Fatalf("free list %v, want %v", freeOrder(p), tc.free)
			}
			if _, err := Import(s.Export()); err != nil {
				t.Fatalf("the state does not import: %v", err)
			}
		})
	}
}

func mustUpdate(t *testing.T, s *State, patch Patch) {
	t.Helper()
	if _, err := s.UpdatePool(UpdatePool{ID: "p1", Patch: patch, At: sec(0.5)}); err != nil {
		t.Fatal(err)
	}
}

func mustDelete(t *testing.T, s *State) {
	t.Helper()
	if _, err := s.DeletePool(DeletePool{ID: "p1", At: sec(0.5)}); err != nil {
		t.Fatal(err)
	}
}

// TestImportRejectsImagesNoStateCouldExport: images that pass every check
// Import makes, yet hold what no State can reach, and that leave the
// imported State unable to keep its own rules.
func TestImportRejectsImagesNoStateCouldExport(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(img *Image)
	}{
		// AddNumber refuses a number already in service. Imported, both
		// copies are in service, but Number, MarkRelease, ConfirmRelease
		// and MatchCall find only the newer: a call to the number while a
		// visit holds the older copy matches nobody, and the older copy
		// cannot be taken out of service.
		{"one E.164 in service twice", func(img *Image) {
			imageNumber(t, img, e164(1, 6)).E164 = e164(1, 5)
		}},
		// DeletePool ends every visit and takes every number out of
		// service. Imported, a deleted pool is never scheduled for expiry,
		// so its live visits never end, and its numbers stay in service.
		{"a deleted pool with live visits and numbers in service", func(img *Image) {
			img.Pools[0].DeletedAt = img.Pools[0].UpdatedAt + 1
		}},
	}
	good := corruptionScene(t).Export()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := deepCopy(good)
			if err != nil {
				t.Fatal(err)
			}
			tc.corrupt(img)
			if _, err := Import(img); !errors.Is(err, ErrCorruptImage) {
				t.Fatalf("Import: %v, want ErrCorruptImage", err)
			}
		})
	}
}

func TestVerifyFindsABrokenState(t *testing.T) {
	s := New()
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	if _, err := s.CreatePool(CreatePool{ID: "p", Key: "k", At: at, Settings: Settings{
		Name: "P", Size: 4, SwapTarget: "415-555-0100", ForwardTo: []string{"+14155550100"},
	}.WithDefaults()}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"+14155550101", "+14155550102"} {
		if _, err := s.AddNumber(AddNumber{Pool: "p", E164: e, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.Assign(Assign{Visit: VisitID{1}, PoolKey: "k", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(); err != nil {
		t.Fatalf("a sound state fails: %v", err)
	}
	// A second holder on the other line, behind the allocator's back.
	p := s.Pool("p")
	other := 1 - int(a.Visit.line)
	p.holders[other].Store(a.Visit)
	if err := s.Verify(); err == nil {
		t.Fatal("a visit holding two numbers passed")
	}
}

func TestAPoolNoticeSurvivesSettingChangesAndSnapshots(t *testing.T) {
	s := edgeState(t, 4, nil)
	note := "no numbers left in area code 415; bought near +14155550100"
	if _, err := s.SetNotice(SetNotice{Pool: "p1", Notice: note}); err != nil {
		t.Fatal(err)
	}
	size := 5
	if _, err := s.UpdatePool(UpdatePool{ID: "p1", Patch: Patch{Size: &size}, At: sec(1)}); err != nil {
		t.Fatal(err)
	}
	img, err := Import(s.Export())
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Pool("p1").Notice(); got != note {
		t.Fatalf("notice after update and import = %q, want %q", got, note)
	}
	if _, err := s.SetNotice(SetNotice{Pool: "p1", Notice: string(make([]byte, MaxNoticeLen+1))}); err == nil {
		t.Fatal("an over-long notice was accepted")
	}
	if _, err := s.SetNotice(SetNotice{Pool: "nope"}); !errors.Is(err, ErrUnknownPool) {
		t.Fatalf("notice on an unknown pool: %v", err)
	}
}

func TestTheAnsweringNumberIsKeptWhicheverUpdateArrivesFirst(t *testing.T) {
	s := edgeState(t, 4, func(st *Settings) { st.Whisper = true })
	sid := "CA0123456789abcdef0123456789abcdef"
	if _, err := s.UpdateCall(UpdateCall{SID: sid, Status: CallCompleted, Duration: 42 * time.Second, At: sec(50)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateCall(UpdateCall{SID: sid, Status: CallInProgress, AnsweredBy: "+14155550100", At: sec(49)}); err != nil {
		t.Fatal(err)
	}
	c, err := s.RecordCall(RecordCall{SID: sid, To: e164(1, 0), From: "+12125550100", At: sec(1)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != CallCompleted || c.AnsweredBy != "+14155550100" || c.Duration != 42*time.Second || !c.Whisper {
		t.Fatalf("call = %+v, want completed, answered by +14155550100, 42s, whispered", c)
	}
}
