package allocator

import (
	"errors"
	"testing"
)

func autoscaled(min, max int) func(*Settings) {
	return func(st *Settings) { st.Autoscale = Autoscale{MinSize: min, MaxSize: max} }
}

func TestAResizeGrowsWithinTheDailyCapAndIsKeptWithItsReason(t *testing.T) {
	s := edgeState(t, 4, autoscaled(4, 20))
	up, err := s.Resize(Resize{Pool: "p1", From: 4, To: 10, Reason: "busy", DailyCap: 8, At: sec(60)})
	if err != nil || up.Pool.Settings().Size != 10 {
		t.Fatalf("grow 4 to 10: %v, size %d", err, up.Pool.Settings().Size)
	}
	// 6 added so far today: the cap of 8 leaves 2.
	up, err = s.Resize(Resize{Pool: "p1", From: 10, To: 16, Reason: "busier", DailyCap: 8, At: sec(120)})
	if err != nil || up.Pool.Settings().Size != 12 {
		t.Fatalf("grow 10 to 16 under a cap of 8 a day: %v, size %d, want 12", err, up.Pool.Settings().Size)
	}
	if up, _ = s.Resize(Resize{Pool: "p1", From: 12, To: 16, DailyCap: 8, At: sec(3600)}); up.Pool.Settings().Size != 12 {
		t.Errorf("the cap let the pool grow to %d the same day", up.Pool.Settings().Size)
	}
	// A day after the first growth, its numbers no longer count.
	up, err = s.Resize(Resize{Pool: "p1", From: 12, To: 20, Reason: "next day", DailyCap: 8, At: sec(60 + 24*3600 + 1)})
	if err != nil || up.Pool.Settings().Size != 18 {
		t.Fatalf("the next day: %v, size %d, want 18 (the cap less the 2 of yesterday's second growth)", err, up.Pool.Settings().Size)
	}
	h := up.Pool.History()
	if len(h) != 3 || h[0].From != 4 || h[0].To != 10 || h[0].Reason != "busy" || !h[0].Auto || h[1].To != 12 || h[2].To != 18 {
		t.Fatalf("history %+v", h)
	}
	if _, err := s.Resize(Resize{Pool: "p1", From: 12, To: 14, DailyCap: 8, At: sec(90000)}); !errors.Is(err, ErrStaleResize) {
		t.Errorf("a resize from a size the pool no longer has: %v", err)
	}
	var ve *ValidationError
	if _, err := s.Resize(Resize{Pool: "p1", From: 18, To: 21, DailyCap: 8, At: sec(90000)}); !errors.As(err, &ve) || ve.Field != "size" {
		t.Errorf("a resize past max_size: %v", err)
	}
	if _, err := s.UpdatePool(UpdatePool{ID: "p1", Patch: Patch{Size: ptrTo(8)}, At: sec(90001)}); err != nil {
		t.Fatal(err)
	}
	if last := s.Pool("p1").LastResize(); last.Auto || last.From != 18 || last.To != 8 || last.Reason != "changed by hand" {
		t.Errorf("a size changed by hand is kept as %+v", last)
	}
}

func TestAResizeShrinksOnlyByNumbersNobodyHolds(t *testing.T) {
	s := edgeState(t, 10, autoscaled(4, 10))
	for v := range 7 {
		mustAssign(t, s, v, "k1", sec(float64(v)))
	}
	up, err := s.Resize(Resize{Pool: "p1", From: 10, To: 4, Reason: "quiet", At: sec(30)})
	if err != nil {
		t.Fatal(err)
	}
	if got := up.Pool.Settings().Size; got != 7 || len(up.Retired) != 3 {
		t.Fatalf("shrink to 4 with 7 numbers held: size %d, %d retired; want 7 and the 3 free", got, len(up.Retired))
	}
	for _, n := range up.Retired {
		if n.Holder() != nil {
			t.Errorf("%s was retired from its holder", n.E164)
		}
	}
	for v := range 7 {
		if vis := s.Visit(vid(v)); vis == nil || vis.Number() == nil {
			t.Errorf("visit %d lost its number", v)
		}
	}
	if up, _ := s.Resize(Resize{Pool: "p1", From: 7, To: 4, At: sec(31)}); up.Pool.Settings().Size != 7 || len(up.Pool.History()) != 1 {
		t.Errorf("a shrink with nothing free changed the pool: size %d, %d changes", up.Pool.Settings().Size, len(up.Pool.History()))
	}
}

func TestAResizeOfAPoolThatDoesNotSizeItselfIsRefused(t *testing.T) {
	s := edgeState(t, 4, nil)
	var ve *ValidationError
	if _, err := s.Resize(Resize{Pool: "p1", From: 4, To: 6, At: sec(1)}); !errors.As(err, &ve) || ve.Field != "autoscale" {
		t.Errorf("got %v", err)
	}
}

func TestTheSizeHistoryKeepsTheLatestChanges(t *testing.T) {
	s := edgeState(t, 4, autoscaled(4, 6))
	size := 4
	for i := range MaxSizeHistory + 10 {
		to := 4 + (i+1)%2*2
		if _, err := s.Resize(Resize{Pool: "p1", From: size, To: to, DailyCap: 1000, At: sec(float64(i + 1))}); err != nil {
			t.Fatal(err)
		}
		size = to
	}
	h := s.Pool("p1").History()
	if len(h) != MaxSizeHistory || !h[len(h)-1].At.Equal(sec(MaxSizeHistory+10)) {
		t.Errorf("%d changes kept, the last at %v", len(h), h[len(h)-1].At)
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestNeedFor(t *testing.T) {
	for live, want := range map[int]int{0: 0, 1: 2, 3: 4, 15: 20, 16: 22, 38: 51} {
		if got := NeedFor(live); got != want {
			t.Errorf("NeedFor(%d) = %d, want %d", live, got, want)
		}
	}
}
