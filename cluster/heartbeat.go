package cluster

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// heartbeats gathers the visits that sent a heartbeat since the last flush.
// A visit's heartbeats within one flush interval cost one id in one Touch
// command, and a Touch carries every visit this node heard from: heartbeats
// cost no log entry each.
type heartbeats struct {
	mu  sync.Mutex
	ids map[allocator.VisitID]struct{}
}

// maxTouch bounds the visits in one Touch command, keeping log entries small.
const maxTouch = 4096

// Heartbeat records that a visit is still there. It is committed with the
// node's next flush, within HeartbeatFlush.
func (n *Node) Heartbeat(id allocator.VisitID) {
	n.beats.mu.Lock()
	n.beats.ids[id] = struct{}{}
	n.beats.mu.Unlock()
}

func (n *Node) flushHeartbeats() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.HeartbeatFlush)
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
			go n.flushHeartbeatsNow(context.Background())
		}
	}
}

// flushHeartbeatsNow commits the gathered heartbeats, stamped now.
func (n *Node) flushHeartbeatsNow(ctx context.Context) {
	n.beats.mu.Lock()
	if len(n.beats.ids) == 0 {
		n.beats.mu.Unlock()
		return
	}
	ids := slices.Collect(maps.Keys(n.beats.ids))
	n.beats.ids = make(map[allocator.VisitID]struct{}, len(ids))
	n.beats.mu.Unlock()
	at := time.Now()
	var wg sync.WaitGroup
	for chunk := range slices.Chunk(ids, maxTouch) {
		wg.Go(func() {
			if _, err := n.Commit(ctx, &fsm.Touch{Visits: chunk, At: at}); err != nil {
				n.log.Warn("heartbeats lost", "visits", len(chunk), "err", err)
			}
		})
	}
	wg.Wait()
}
