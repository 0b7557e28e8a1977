package allocator

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// withoutUsage is a copy of img with no pool's usage: what a refused visit
// must leave unchanged.
func withoutUsage(img *Image) *Image {
	out := *img
	out.Pools = append([]PoolRecord(nil), img.Pools...)
	for i := range out.Pools {
		out.Pools[i].Usage = nil
	}
	return &out
}

func TestAdviseKeepsTheBusiestHourAtOrBelowTheTarget(t *testing.T) {
	busy := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	month := UsageHistory
	tests := []struct {
		name   string
		u      Usage
		size   int
		want   int
		reason string // the whole reason, or a part of it after "..."
	}{
		{"too few hours keep the size", Usage{Window: month, Hours: 5, PeakLive: 40, PeakNumbers: 10, PeakHour: busy}, 10, 10,
			"Fewer than 24 hours of traffic observed yet (5 so far): keep 10."},
		{"no traffic at all keeps the size", Usage{Window: month}, 12, 12,
			"Fewer than 24 hours of traffic observed yet (0 so far): keep 12."},
		{"a crowded pool grows, capped at the largest size", Usage{Window: month, Hours: 300, PeakLive: 38, PeakNumbers: 40, PeakHour: busy, Recycled: 12}, 40, 50,
			"The busiest hour of the last 30 days (3 Dec 14:00 UTC) had 38 live visits on 40 numbers (95 %), and 12 visitors had to share a number; 51 numbers would keep it at 75 %, capped at 50."},
		{"a quiet pool shrinks", Usage{Window: month, Hours: 300, PeakLive: 8, PeakNumbers: 40, PeakHour: busy}, 40, 11,
			"The busiest hour of the last 30 days (3 Dec 14:00 UTC) had 8 live visits on 40 numbers (20 %); 11 numbers would keep it at 75 %."},
		{"a pool exactly at the target keeps its size", Usage{Window: month, Hours: 24, PeakLive: 30, PeakNumbers: 40, PeakHour: busy}, 40, 40,
			"...(75 %); 40 numbers would keep it at 75 %."},
		{"a nearly idle pool keeps the smallest size", Usage{Window: month, Hours: 30, PeakLive: 1, PeakNumbers: 10, PeakHour: busy}, 10, 4,
			"...had 1 live visit on 10 numbers (10 %); 2 numbers would keep it at 75 %, and a pool has at least 4."},
		{"visitors given no number are told", Usage{Window: month, Hours: 30, PeakLive: 6, PeakNumbers: 4, PeakHour: busy, Refused: 3}, 4, 8,
			"...(150 %), and 3 visitors got no number; 8 numbers would keep it at 75 %."},
		{"shared and refused together", Usage{Window: month, Hours: 30, PeakLive: 6, PeakNumbers: 4, PeakHour: busy, Recycled: 1, Refused: 2}, 4, 8,
			"..., 1 visitor had to share a number and 2 got none;"},
		{"time at the target is told", Usage{Window: month, Hours: 30, PeakLive: 4, PeakNumbers: 4, PeakHour: busy, HotTime: 200 * time.Minute}, 4, 6,
			"... It was at or above 75 % for 3 h 20 min in all."},
		{"a high share of shared calls is told", Usage{Window: month, Hours: 30, PeakLive: 4, PeakNumbers: 4, PeakHour: busy, Calls: 40, SharedCalls: 8, UnmatchedCalls: 1}, 4, 6,
			"... Of 40 calls, 8 (20 %) could have come from either of two visitors."},
		{"a high share of unmatched calls is told", Usage{Window: month, Hours: 30, PeakLive: 4, PeakNumbers: 4, PeakHour: busy, Calls: 20, UnmatchedCalls: 5}, 4, 6,
			"... Of 20 calls, 5 (25 %) matched no visitor."},
		{"both shares are told", Usage{Window: month, Hours: 30, PeakLive: 4, PeakNumbers: 4, PeakHour: busy, Calls: 10, SharedCalls: 2, UnmatchedCalls: 3}, 4, 6,
			"... Of 10 calls, 2 (20 %) could have come from either of two visitors and 3 (30 %) matched no visitor."},
		{"a week's window is named", Usage{Window: 7 * 24 * time.Hour, Hours: 30, PeakLive: 4, PeakNumbers: 4, PeakHour: busy}, 4, 6,
			"The busiest hour of the last 7 days (3 Dec 14:00 UTC)..."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Advise(tc.u, tc.size)
			if got.Size != tc.want {
				t.Errorf("size %d, want %d (%s)", got.Size, tc.want, got.Reason)
			}
			switch {
			case strings.HasPrefix(tc.reason, "..."):
				if !strings.Contains(got.Reason, tc.reason[3:]) {
					t.Errorf("reason %q does not say %q", got.Reason, tc.reason[3:])
				}
			case strings.HasSuffix(tc.reason, "..."):
				if !strings.HasPrefix(got.Reason, tc.reason[:len(tc.reason)-3]) {
					t.Errorf("reason %q does not start %q", got.Reason, tc.reason[:len(tc.reason)-3])
				}
			case got.Reason != tc.reason:
				t.Errorf("reason\n %q, want\n %q", got.Reason, tc.reason)
			}
			if strings.Contains(got.Reason, "shared calls") && tc.u.Calls < minCalls {
				t.Errorf("a share of fewer than %d calls is noise: %q", minCalls, got.Reason)
			}
		})
	}
}

func TestAdviseOnFewCallsSaysNothingOfThem(t *testing.T) {
	u := Usage{Window: UsageHistory, Hours: 30, PeakLive: 4, PeakNumbers: 4, PeakHour: edgeT0, Calls: minCalls - 1, SharedCalls: minCalls - 1}
	if r := Advise(u, 4).Reason; strings.Contains(r, "calls") {
		t.Fatalf("%q speaks of %d calls", r, u.Calls)
	}
}

// TestUsageCountsTheBusiestHourFromTheCommandsOwnTimes plays an hour in a
// pool of four: three visits reach 75 %, a fifth visitor is refused while
// every holder is fresh, a sixth displaces the oldest, two calls come, and
// expiry ends the stretch at the target.
func TestUsageCountsTheBusiestHourFromTheCommandsOwnTimes(t *testing.T) {
	s := edgeState(t, 4, nil)
	p := s.Pool("p1")
	if _, err := s.RecordCall(RecordCall{SID: "CA1", To: e164(1, 0), From: "+12125550100", At: sec(5)}); err != nil {
		t.Fatal(err)
	}
	for i, at := range []float64{10, 20, 30, 40} {
		mustAssign(t, s, i+1, "k1", sec(at))
	}
	if a := mustAssign(t, s, 5, "k1", sec(50)); a.Outcome != Full {
		t.Fatalf("visit 5: %s, want full", a.Outcome)
	}
	a := mustAssign(t, s, 6, "k1", sec(200))
	if a.Outcome != Recycled {
		t.Fatalf("visit 6: %s, want recycled", a.Outcome)
	}
	if _, err := s.RecordCall(RecordCall{SID: "CA2", To: numberOf(a), From: "+12125550101", At: sec(210)}); err != nil {
		t.Fatal(err)
	}
	if mid := p.Usage(sec(600), UsageHistory); mid.HotTime != 570*time.Second {
		t.Errorf("while at the target: %v at or above it, want 9m30s", mid.HotTime)
	}
	if n := s.Expire(sec(1000)); n != 5 {
		t.Fatalf("expired %d visits, want 5", n)
	}
	mustAssign(t, s, 7, "k1", sec(4200))

	got := p.Usage(sec(7200), UsageHistory)
	want := Usage{
		Window: UsageHistory, Hours: 2, PeakLive: 5, PeakNumbers: 4, PeakHour: edgeT0,
		HotTime: 970 * time.Second, Recycled: 1, Refused: 1, Calls: 2, SharedCalls: 1, UnmatchedCalls: 1,
	}
	if got != want {
		t.Fatalf("usage\n %+v, want\n %+v", got, want)
	}
	if u := p.Usage(sec(4300), time.Hour); u.Hours != 1 || u.PeakLive != 1 || u.Recycled != 0 {
		t.Fatalf("the last hour alone: %+v", u)
	}
	if got.PeakUtilisation() != 1.25 || got.SharedShare() != 0.5 || got.UnmatchedShare() != 0.5 {
		t.Fatalf("utilisation %v, shares %v and %v", got.PeakUtilisation(), got.SharedShare(), got.UnmatchedShare())
	}
}

// TestUsageFillsTheHoursWithNoEvent: visits live through hours with no
// command for the pool still count in those hours, at the target throughout.
func TestUsageFillsTheHoursWithNoEvent(t *testing.T) {
	s := edgeState(t, 4, func(st *Settings) { st.IdleTimeout = 4 * time.Hour })
	p := s.Pool("p1")
	for i := range 3 {
		mustAssign(t, s, i+1, "k1", sec(59*60))
	}
	if u := p.Usage(sec(90*60), UsageHistory); u.HotTime != 31*time.Minute {
		t.Fatalf("before any later event: %v at the target, want 31m", u.HotTime)
	}
	if n := s.Expire(sec(59*60 + 4*3600)); n != 3 {
		t.Fatalf("expired %d, want 3", n)
	}
	u := p.Usage(sec(6*3600), UsageHistory)
	if u.Hours != 5 || u.PeakLive != 3 || u.HotTime != 4*time.Hour || !u.PeakHour.Equal(edgeT0.Add(4*time.Hour)) {
		t.Fatalf("usage %+v, want 5 hours at 3 live, 4 h at the target, the latest busiest", u)
	}
}

// TestUsageKeepsItsHoursWhenTimeRunsBackOrJumpsAhead: a command stamped
// earlier than the last one (another node's clock) counts in the current
// hour; hours older than UsageHistory are forgotten, and the ring of hours
// grows as they accumulate.
func TestUsageKeepsItsHoursWhenTimeRunsBackOrJumpsAhead(t *testing.T) {
	s := edgeState(t, 50, func(st *Settings) { st.VisitBurst, st.VisitsPerMinute = 10_000, 10_000 })
	p := s.Pool("p1")
	for h := range 10 {
		for v := range h + 1 {
			mustAssign(t, s, 100*h+v+1, "k1", sec(float64(3600*h+v)))
		}
		s.Expire(sec(float64(3600*h + 3000)))
	}
	// Stamped in hour 8, after hour 9's events: it counts in hour 9.
	if _, err := s.RecordCall(RecordCall{SID: "CA1", To: e164(1, 0), From: "+12125550100", At: sec(3600 * 8)}); err != nil {
		t.Fatal(err)
	}
	u := p.Usage(sec(3600*10-1), UsageHistory)
	if u.Hours != 10 || u.PeakLive != 10 || !u.PeakHour.Equal(edgeT0.Add(9*time.Hour)) {
		t.Fatalf("usage %+v, want 10 hours, the last with 10 live", u)
	}
	if h8, h9 := p.Usage(sec(3600*8+1), time.Hour), p.Usage(sec(3600*9+1), time.Hour); h8.Calls != 0 || h9.Calls != 1 {
		t.Fatalf("the call counted in hour 8 (%d) and hour 9 (%d), want hour 9 only", h8.Calls, h9.Calls)
	}
	later := sec(3600 * (10 + float64(usageHours)))
	mustAssign(t, s, 3000, "k1", later)
	s.Expire(later.Add(time.Hour))
	if u := p.Usage(later.Add(time.Hour), UsageHistory); u.Hours != 2 || u.PeakLive != 1 {
		t.Fatalf("30 days on: %+v, want only the two new hours", u)
	}
	if r := s.Export().Pools[0].Usage; len(r.Hours) != 2 {
		t.Fatalf("exported %d hours, want the 2 of the last 30 days", len(r.Hours))
	}
}

// TestUsageSurvivesExportAndImport: an imported state reports the same
// usage, and goes on keeping it as the original does.
func TestUsageSurvivesExportAndImport(t *testing.T) {
	s := edgeState(t, 4, nil)
	for i := range 3 {
		mustAssign(t, s, i+1, "k1", sec(float64(10*i)))
	}
	c, err := Import(s.Export())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*State{s, c} {
		mustAssign(t, st, 10, "k1", sec(5000))
		mustAssign(t, st, 11, "k1", sec(5100))
		st.Expire(sec(9000))
	}
	now := sec(10000)
	if got, want := c.Pool("p1").Usage(now, UsageHistory), s.Pool("p1").Usage(now, UsageHistory); got != want {
		t.Fatalf("imported: %+v\noriginal: %+v", got, want)
	}
	if got, want := c.Export(), s.Export(); !reflect.DeepEqual(got, want) {
		t.Fatalf("images differ: %s", imageDiff(got, want))
	}
	if s.Pool("p1").Usage(now, UsageHistory).HotTime == 0 {
		t.Fatal("no time at the target counted")
	}
}

func TestImportRefusesImpossibleUsage(t *testing.T) {
	s := edgeState(t, 4, nil)
	mustAssign(t, s, 1, "k1", sec(10))
	for _, tc := range []struct {
		name  string
		spoil func(*UsageRecord)
	}{
		{"a clock before 1970", func(u *UsageRecord) { u.Clock = -1 }},
		{"a stretch at the target from another hour", func(u *UsageRecord) { u.HotSince = u.Clock - 2*msPerHour }},
		{"an hour after the clock", func(u *UsageRecord) { u.Hours[0].Hour = u.Clock/msPerHour + 1 }},
		{"hours out of order", func(u *UsageRecord) { u.Hours = append(u.Hours, u.Hours[0]) }},
		{"more than an hour at the target in an hour", func(u *UsageRecord) { u.Hours[0].HotMillis = uint32(msPerHour) + 1 }},
		{"more shared calls than calls", func(u *UsageRecord) { u.Hours[0].Shared = 1 }},
		{"more numbers than a pool has", func(u *UsageRecord) { u.Active = MaxPoolSize + 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := s.Export()
			tc.spoil(img.Pools[0].Usage)
			if _, err := Import(img); err == nil {
				t.Fatal("imported")
			}
		})
	}
}

// simulateTraffic plays hours of visitors through the apply path: arrivals
// at rate a minute, each staying 1 to 9 minutes with a heartbeat a minute,
// then leaving to expire; calls now and then to a number just shown.
func simulateTraffic(t *testing.T, s *State, key string, rate float64, hours int, seed uint64) time.Time {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	type visitor struct {
		id    VisitID
		until time.Time
		next  time.Time
	}
	var live []visitor
	now, end := edgeT0, edgeT0.Add(time.Duration(hours)*time.Hour)
	arrive := now
	n, calls := 0, 0
	for tick := 10 * time.Second; now.Before(end); now = now.Add(tick) {
		for !arrive.After(now) {
			n++
			id := VisitID{0x51, byte(n >> 16), byte(n >> 8), byte(n)}
			a, err := s.Assign(Assign{Visit: id, PoolKey: key, At: arrive})
			if err != nil {
				t.Fatal(err)
			}
			if a.Visit != nil {
				stay := time.Duration(1+rng.IntN(9)) * time.Minute
				live = append(live, visitor{id, arrive.Add(stay), arrive.Add(time.Minute)})
			}
			if a.Number != nil && rng.IntN(20) == 0 {
				calls++
				if _, err := s.RecordCall(RecordCall{SID: sidOf(calls), To: a.Number.E164, From: "+12125550100", At: arrive.Add(30 * time.Second)}); err != nil {
					t.Fatal(err)
				}
			}
			arrive = arrive.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Minute)))
		}
		var beats []VisitID
		kept := live[:0]
		for _, v := range live {
			if v.next.After(now) {
				kept = append(kept, v)
				continue
			}
			if v.next.Before(v.until) {
				beats = append(beats, v.id)
				v.next = v.next.Add(time.Minute)
				kept = append(kept, v)
			}
		}
		live = kept
		s.Touch(beats, now)
		s.Expire(now)
	}
	return now
}

func sidOf(n int) string {
	const digits = "0123456789"
	b := []byte("CA00000000")
	for i := len(b) - 1; n > 0; i-- {
		b[i] = digits[n%10]
		n /= 10
	}
	return string(b)
}

// TestAdviceGrowsACrowdedPoolAndShrinksAQuietOne drives a day and a half
// of visitors through two pools of 20: one at 95 % utilisation on
// average, one at 20 % (their busiest hours peak higher). The advice grows
// the first and shrinks the second.
func TestAdviceGrowsACrowdedPoolAndShrinksAQuietOne(t *testing.T) {
	// A visitor is live for its stay (5 minutes on average) and then the
	// idle timeout (3 minutes): 8 minutes. Little's law gives the rates.
	for _, tc := range []struct {
		name      string
		live      float64 // visits live on average
		grow      bool
		recycling bool
	}{
		{"at 95 %", 19, true, true},
		{"at 20 %", 4, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			addEdgePool(t, s, 1, 20, nil)
			now := simulateTraffic(t, s, "k1", tc.live/8, 36, 7)
			p := s.Pool("p1")
			u := p.Usage(now, UsageHistory)
			adv := p.Advice(now, UsageHistory)
			t.Logf("%+v\n%s", u, adv.Reason)
			if u.Hours != 36 || u.Calls == 0 {
				t.Fatalf("saw %d hours and %d calls, want 36 and some", u.Hours, u.Calls)
			}
			if grew := adv.Size > 20; grew != tc.grow || adv.Size < MinPoolSize || adv.Size > MaxPoolSize {
				t.Fatalf("advised %d numbers for a pool of 20 %s", adv.Size, tc.name)
			}
			if (u.Recycled > 0) != tc.recycling || (u.HotTime > 0) != tc.recycling {
				t.Fatalf("%d recycled, %v at the target", u.Recycled, u.HotTime)
			}
			if adv.Size != (u.PeakLive*4+2)/3 && adv.Size != MinPoolSize && adv.Size != MaxPoolSize {
				t.Fatalf("advised %d for a peak of %d", adv.Size, u.PeakLive)
			}
		})
	}
}

// TestUsageIsReadBesideTheWriter: Usage and Advice run while the writer
// rolls hours and grows the ring. Under -race it shows they share no
// unsynchronised memory, and a reader never sees more than it could.
func TestUsageIsReadBesideTheWriter(t *testing.T) {
	s := New()
	addEdgePool(t, s, 1, 20, nil)
	p := s.Pool("p1")
	done := make(chan struct{})
	errs := make(chan string, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-done:
				return
			default:
			}
			now := edgeT0.Add(20 * time.Hour)
			u := p.Usage(now, UsageHistory)
			if u.Hours > 20 || u.HotTime > 20*time.Hour || u.SharedCalls+u.UnmatchedCalls > u.Calls {
				errs <- fmt.Sprintf("impossible usage %+v", u)
				return
			}
			_ = p.Advice(now, UsageHistory)
		}
	}()
	simulateTraffic(t, s, "k1", 3, 12, 3)
	close(done)
	if e, ok := <-errs; ok {
		t.Fatal(e)
	}
}
