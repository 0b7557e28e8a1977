package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// faults injects the run's faults until ctx ends: it kills the leader
// every KillLeaderEvery and restarts a follower every
// RestartFollowerEvery, one fault at a time, so that a majority of the
// nodes is always up. After each, once the node is back, it checks a
// backup of the state whole.
type faults struct {
	l  *loader
	mu sync.Mutex // one fault at a time

	rmu      sync.Mutex
	kills    []Kill
	restarts []Restart
}

func (f *faults) run(ctx context.Context) {
	var wg sync.WaitGroup
	if every := f.l.o.KillLeaderEvery; every > 0 {
		wg.Go(func() { f.every(ctx, every, f.killLeader) })
	}
	if every := f.l.o.RestartFollowerEvery; every > 0 {
		wg.Go(func() { f.every(ctx, every, f.restartFollower) })
	}
	wg.Wait()
}

func (f *faults) every(ctx context.Context, d time.Duration, fault func(context.Context)) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f.mu.Lock()
			fault(ctx)
			f.mu.Unlock()
		}
	}
}

// killLeader kills the leader as a crash would, measures how long until a
// write is acknowledged again, and starts the node again DownFor later.
func (f *faults) killLeader(ctx context.Context) {
	l := f.l
	t := l.r.t
	leader, err := t.leader(ctx)
	if err != nil {
		l.errs.add("fault: no leader to kill: "+errKind(err), 0)
		return
	}
	k := Kill{Node: leader.name, AtS: l.now().Seconds()}
	leader.down.Store(true)
	killed := time.Now()
	leader.proc.kill()
	// The probe outlives the load: a kill near its end is measured whole.
	if resumed, ok := f.probe(context.WithoutCancel(ctx), killed); ok {
		k.ResumedMs = ms(resumed)
	} else {
		k.ResumedMs = -1
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(killed.Add(l.o.DownFor))):
	}
	k.ReadyMs = f.bringBack(leader)
	f.rmu.Lock()
	f.kills = append(f.kills, k)
	f.rmu.Unlock()
	l.r.checkBackup(context.WithoutCancel(ctx), &l.errs)
}

// restartFollower stops a follower as an operator would (SIGTERM) and
// starts it again at once.
func (f *faults) restartFollower(ctx context.Context) {
	l := f.l
	t := l.r.t
	leader, err := t.leader(ctx)
	if err != nil {
		l.errs.add("fault: no leader, so no follower to restart: "+errKind(err), 0)
		return
	}
	var follower *node
	for _, n := range t.up() {
		if n != leader {
			follower = n
			break
		}
	}
	if follower == nil {
		return
	}
	r := Restart{Node: follower.name, AtS: l.now().Seconds()}
	follower.down.Store(true)
	stopping := time.Now()
	follower.proc.terminate(45 * time.Second)
	r.StopMs = ms(time.Since(stopping))
	r.ReadyMs = f.bringBack(follower)
	f.rmu.Lock()
	f.restarts = append(f.restarts, r)
	f.rmu.Unlock()
	l.r.checkBackup(context.WithoutCancel(ctx), &l.errs)
}

// bringBack starts a stopped node with the same flags and data dir, waits
// until it is ready and lets requests reach it again; it returns how long
// that took, in ms (-1 if it never got ready).
func (f *faults) bringBack(n *node) float64 {
	start := time.Now()
	if err := n.proc.start(); err != nil {
		f.l.errs.add("fault: restart "+n.name+": "+errKind(err), 0)
		return -1
	}
	if err := waitReady(context.Background(), n, time.Minute); err != nil {
		f.l.errs.add("fault: "+errKind(err), 0)
		return -1
	}
	n.down.Store(false)
	return ms(time.Since(start))
}

// probe sends a new visit to the probe pool through the nodes that are up
// every 50 ms until one is acknowledged, and returns how long after since
// that was; false if none was within 30 s.
func (f *faults) probe(ctx context.Context, since time.Time) (time.Duration, bool) {
	l := f.l
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	acked := make(chan time.Duration, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod(fasthttp.MethodPost)
			req.SetBody(fmt.Appendf(nil, `{"pool":%q}`, l.r.probe.key))
			if err := l.client.do(req, resp, "/v1/visits"); err != nil || resp.StatusCode() != fasthttp.StatusCreated {
				return
			}
			took := time.Since(since)
			var a visitAnswer
			if json.Unmarshal(resp.Body(), &a) == nil {
				l.ack(a.Visit, l.now())
			}
			select {
			case acked <- took:
			default:
			}
		})
		select {
		case d := <-acked:
			return d, true
		case <-ctx.Done():
			return 0, false
		case <-tick.C:
		}
	}
}

func (f *faults) result() Faults {
	f.rmu.Lock()
	defer f.rmu.Unlock()
	out := Faults{LeaderKills: slices.Clone(f.kills), FollowerRestarts: slices.Clone(f.restarts)}
	var resumed []float64
	for _, k := range f.kills {
		if k.ResumedMs >= 0 {
			resumed = append(resumed, k.ResumedMs)
		}
	}
	if len(resumed) > 0 {
		slices.Sort(resumed)
		out.ResumeMaxMs = resumed[len(resumed)-1]
		out.ResumeP50Ms = resumed[(len(resumed)-1)/2]
	}
	for _, k := range f.kills {
		if k.ResumedMs < 0 {
			out.ResumeMaxMs = -1 // writes never resumed after some kill
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
