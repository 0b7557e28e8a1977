package allocator

import (
	"fmt"
	"slices"
	"testing"
)

func e164s(ns []*Number) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.E164
	}
	return out
}

// TestShrinkOrderPreviewsWhatAShrinkRetires builds a pool whose free list
// holds never-held numbers (one a replacement added late), numbers freed
// at different times and numbers freed together by one expiry, beside
// holders with different heartbeats; for every smaller size, the preview's
// first numbers are the ones the shrink takes out, and its free part is
// the free list.
func TestShrinkOrderPreviewsWhatAShrinkRetires(t *testing.T) {
	s := edgeState(t, 10, nil)
	// Visits 1..7 hold lines 0..6; lines 7..9 were never held.
	for i := range 7 {
		mustAssign(t, s, i+1, "k1", sec(1))
	}
	// A never-held number replaced: its replacement goes behind the other
	// never-held ones.
	if _, err := s.MarkRelease(ReleaseNumber{E164: e164(1, 7), At: sec(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddNumber(AddNumber{Pool: "p1", E164: e164(2, 0), At: sec(3)}); err != nil {
		t.Fatal(err)
	}
	// Visits 1 and 2 leave in one expiry, 2 having been seen first; visit 3
	// leaves later, alone.
	s.Touch([]VisitID{vid(1)}, sec(20))
	s.Touch([]VisitID{vid(2)}, sec(10))
	s.Touch([]VisitID{vid(3)}, sec(300))
	s.Touch([]VisitID{vid(4), vid(5), vid(6), vid(7)}, sec(250))
	if n := s.Expire(sec(201)); n != 2 {
		t.Fatalf("expired %d visits, want 2", n)
	}
	s.Touch([]VisitID{vid(5)}, sec(400))
	s.Touch([]VisitID{vid(4)}, sec(420))
	s.Touch([]VisitID{vid(6), vid(7)}, sec(480))
	if n := s.Expire(sec(481)); n != 1 {
		t.Fatalf("expired %d visits, want 1", n)
	}

	want := []string{
		e164(1, 8), e164(1, 9), e164(2, 0), // never held, in the order added
		e164(1, 1), e164(1, 0), // freed together: visit 2 was seen before visit 1
		e164(1, 2),             // freed later
		e164(1, 4), e164(1, 3), // held: oldest heartbeat first
		e164(1, 5), e164(1, 6), // a tie: lowest line first
	}
	p := s.Pool("p1")
	if got := e164s(p.ShrinkOrder()); !slices.Equal(got, want) {
		t.Fatalf("shrink order %v, want %v", got, want)
	}
	if free := e164s(p.ShrinkOrder()[:p.Counts().Free]); !slices.Equal(free, freeOrder(p)) {
		t.Fatalf("the preview's free numbers %v, the free list %v", free, freeOrder(p))
	}

	img := s.Export()
	for size := 9; size >= MinPoolSize; size-- {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			c, err := Import(img)
			if err != nil {
				t.Fatal(err)
			}
			preview := e164s(c.Pool("p1").ShrinkOrder()[:10-size])
			up, err := c.UpdatePool(UpdatePool{ID: "p1", Patch: Patch{Size: ptr(size)}, At: sec(500)})
			if err != nil {
				t.Fatal(err)
			}
			if got := e164s(up.Retired); !slices.Equal(got, preview) {
				t.Fatalf("retired %v, the preview said %v", got, preview)
			}
		})
	}
}

func TestShrinkOrderOfAnEmptyPoolIsEmpty(t *testing.T) {
	s := New()
	st := Settings{Name: "empty", Size: 4, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"}}.WithDefaults()
	p, err := s.CreatePool(CreatePool{ID: "p1", Key: "k1", Settings: st, At: sec(0)})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.ShrinkOrder(); len(got) != 0 {
		t.Fatalf("shrink order %v", e164s(got))
	}
}
