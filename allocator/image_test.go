package allocator

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// Snapshots on random sequences: an exported image imports to the same
// state, and the same operations give the same image. The hand-made
// corrupt images Import must refuse are in edge_test.go.

// TestImportOfExportIsTheSameState: at random points of random sequences,
// Export, Import and Export again gives an equal Image, and the imported
// State then answers every remaining operation as the original does.
func TestImportOfExportIsTheSameState(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		states := []*State{r.s}
		for i := range r.ops {
			r.step(i, r.g.next(), states...)
			if !r.g.chance(1.0/300) && i != r.ops/2 {
				continue
			}
			img := r.s.Export()
			c := r.roundTrip(img)
			if len(states) == 3 {
				states = slices.Delete(states, 1, 2) // keep the two newest copies
			}
			states = append(states, c)
		}
		r.checkState(r.s)
		want := r.s.Export()
		r.roundTrip(want)
		for k, s := range states[1:] {
			r.checkState(s)
			if got := s.Export(); !reflect.DeepEqual(got, want) {
				r.fatalf("imported state %d ended different from the original: %s", k+1, imageDiff(got, want))
			}
		}
	})
}

// TestACaptureIsTheStateWhenItWasTakenWhateverWritesFollow: an image built
// from a Capture while the writer goes on (as a snapshot's is, beside
// Apply) equals the image exported at the moment of the capture. Under
// -race it also shows that building it reads nothing the writer writes.
func TestACaptureIsTheStateWhenItWasTakenWhateverWritesFollow(t *testing.T) {
	forSeeds(t, 10, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		for i := range r.ops {
			r.step(i, r.g.next(), r.s)
			if !r.g.chance(1.0/200) && i != r.ops/2 {
				continue
			}
			want := r.s.Export()
			c := r.s.Capture()
			built := make(chan *Image)
			go func() { built <- c.Image() }()
			// The writer goes on while the image is built.
			for j := i + 1; j < min(i+50, r.ops); j++ {
				r.step(j, r.g.next(), r.s)
			}
			if got := <-built; !reflect.DeepEqual(got, want) {
				r.fatalf("a capture's image differs from the state it was taken of: %s", imageDiff(got, want))
			}
		}
	})
}

// roundTrip imports img and checks that the new State exports it unchanged.
func (r *run) roundTrip(img *Image) *State {
	r.t.Helper()
	s, err := Import(img)
	if err != nil {
		r.fatalf("Import of an exported image: %v", err)
	}
	if again := s.Export(); !reflect.DeepEqual(again, img) {
		r.fatalf("Export after Import differs: %s", imageDiff(again, img))
	}
	if again := r.s.Export(); !reflect.DeepEqual(again, img) {
		r.fatalf("exporting twice gave different images: %s", imageDiff(again, img))
	}
	return s
}

// TestSameOperationsGiveSameImage: two States fed the same operations
// export equal Images, at many points along the way.
func TestSameOperationsGiveSameImage(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		twin := New()
		for i := range r.ops {
			r.step(i, r.g.next(), r.s, twin)
			if i%200 == 199 || i == r.ops-1 {
				if a, b := r.s.Export(), twin.Export(); !reflect.DeepEqual(a, b) {
					r.fatalf("the two States export different images: %s", imageDiff(a, b))
				}
			}
		}
	})
}

// imageDiff names the first part of two images that differs.
func imageDiff(a, b *Image) string {
	switch {
	case a.PoolSeq != b.PoolSeq || a.VisitSeq != b.VisitSeq || a.NumberSeq != b.NumberSeq:
		return fmt.Sprintf("sequences %d/%d/%d vs %d/%d/%d", a.PoolSeq, a.VisitSeq, a.NumberSeq, b.PoolSeq, b.VisitSeq, b.NumberSeq)
	case len(a.Pools) != len(b.Pools) || len(a.Visits) != len(b.Visits) ||
		len(a.Numbers) != len(b.Numbers) || len(a.Calls) != len(b.Calls):
		return fmt.Sprintf("lengths %d/%d/%d/%d vs %d/%d/%d/%d",
			len(a.Pools), len(a.Visits), len(a.Numbers), len(a.Calls),
			len(b.Pools), len(b.Visits), len(b.Numbers), len(b.Calls))
	}
	for i := range a.Pools {
		if !reflect.DeepEqual(a.Pools[i], b.Pools[i]) {
			return fmt.Sprintf("pool %d:\n  %+v\n  %+v", i, a.Pools[i], b.Pools[i])
		}
	}
	for i := range a.Visits {
		if !reflect.DeepEqual(a.Visits[i], b.Visits[i]) {
			return fmt.Sprintf("visit %d:\n  %+v\n  %+v", i, a.Visits[i], b.Visits[i])
		}
	}
	for i := range a.Numbers {
		if !reflect.DeepEqual(a.Numbers[i], b.Numbers[i]) {
			return fmt.Sprintf("number %d:\n  %+v\n  %+v", i, a.Numbers[i], b.Numbers[i])
		}
	}
	for i := range a.Calls {
		if !reflect.DeepEqual(a.Calls[i], b.Calls[i]) {
			return fmt.Sprintf("call %d:\n  %+v\n  %+v", i, a.Calls[i], b.Calls[i])
		}
	}
	if !reflect.DeepEqual(a.Marketing, b.Marketing) {
		return fmt.Sprintf("marketing: %+v vs %+v", a.Marketing, b.Marketing)
	}
	if !reflect.DeepEqual(a.Spend, b.Spend) {
		return fmt.Sprintf("spend: %+v vs %+v", a.Spend, b.Spend)
	}
	if a.EventSeq != b.EventSeq || !reflect.DeepEqual(a.Endpoints, b.Endpoints) || !reflect.DeepEqual(a.Deliveries, b.Deliveries) {
		return fmt.Sprintf("webhooks: %d %+v %+v vs %d %+v %+v", a.EventSeq, a.Endpoints, a.Deliveries, b.EventSeq, b.Endpoints, b.Deliveries)
	}
	return "no difference found"
}
