package allocator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestReadersRunBesideTheWriter runs random sequences while other
// goroutines use every read method and encode exported images, as the
// state machine's readers and snapshotter do. Under -race it shows that the
// readers share no unsynchronised memory with the writer, and that an image
// stays as it was exported while writes go on.
func TestReadersRunBesideTheWriter(t *testing.T) {
	forSeeds(t, 4, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		s := r.s
		done := make(chan struct{})
		images := make(chan *Image, 4)
		errs := make(chan error, 2)
		var wg sync.WaitGroup
		wg.Go(func() { errs <- readAll(s, done) })
		wg.Go(func() {
			for img := range images {
				before, err := json.Marshal(img)
				if err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond) // let writes go on
				if after, _ := json.Marshal(img); !bytes.Equal(before, after) {
					errs <- fmt.Errorf("an exported image changed as writes went on")
					return
				}
			}
			errs <- nil
		})
		for i := range r.ops {
			r.step(i, r.g.next(), s)
			if i%100 == 0 {
				select {
				case images <- s.Export():
				default:
				}
			}
		}
		close(done)
		close(images)
		wg.Wait()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
	})
}

// readAll calls the read methods over the whole state until done closes,
// and checks what must hold however the reads interleave with writes.
func readAll(s *State, done <-chan struct{}) error {
	for {
		select {
		case <-done:
			return nil
		default:
		}
		for _, p := range s.Pools() {
			_, _, _ = p.Settings(), p.Status(), p.Counts()
			if s.Pool(p.ID) != p || s.PoolByKey(p.Key) != p {
				return fmt.Errorf("pool %s is not found by its id and key", p.ID)
			}
			for _, n := range p.Numbers() {
				if h := n.Holder(); h != nil && h.Pool != p {
					return fmt.Errorf("number %s is held by a visit of pool %s", n.E164, h.Pool.ID)
				}
				tenures := n.Tenures()
				if len(tenures) > 2 || len(tenures) == 2 && tenures[0] == tenures[1] {
					return fmt.Errorf("number %s lists tenures %v", n.E164, tenures)
				}
				for _, t := range tenures {
					if t.Number != n || t.Visit.Pool != p {
						return fmt.Errorf("a tenure of %s names another number or pool", n.E164)
					}
					_, _, _ = t.From(), t.Until(), t.Reason()
				}
				_, _, _, _ = n.State(), n.LastAssigned(), n.LastFreed(), n.ReleasedAt()
				m := s.MatchCall(n.E164, time.UnixMilli(simStart+int64(len(tenures))*60_000))
				if (m.Kind == MatchNone) != (m.Visit == nil) || m.Number == nil {
					return fmt.Errorf("match %+v", m)
				}
			}
			for _, v := range p.Holders() {
				_, _, _, _ = v.LastSeen(), v.Number(), v.Live(), v.Ended()
				if v.Attribution == nil || v.Pool != p {
					return fmt.Errorf("holder %s of pool %s is not whole", v.ID, p.ID)
				}
				_ = s.Visit(v.ID)
			}
		}
		s.Calls(func(c *Call) bool {
			if c.Attribution != nil {
				_ = c.Attribution.Source
			}
			_ = s.Call(c.SID)
			return true
		})
	}
}
