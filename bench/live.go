package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// How a node's cost grows with the visits it holds. With Options.Live the
// run creates LivePools pools of their own beside the measured ones and,
// before the model starts, fills them with Live visits that stay live for
// the whole run (their pools' idle timeout is a day, and nobody sends
// their heartbeats). Their pools recycle, so most of them hold no number:
// they are the state the measured visits are assigned beside, held in
// memory, written into every snapshot and restored by every restart, as a
// busy site's visitors are. Once the load has been measured, the run reads
// each node's memory, takes a snapshot of the state and times it, and
// kills a follower and times its return to ready.

// LiveResult is what the live visits cost.
type LiveResult struct {
	// Visits were asked for, in Pools pools; Started of them got in, in
	// FillS seconds.
	Visits   int     `json:"visits"`
	Pools    int     `json:"pools"`
	Started  int64   `json:"started"`
	FillS    float64 `json:"fill_s"`
	FillPerS float64 `json:"fill_per_s"`
	// LiveAtEnd is the live visits the cluster held after the load: the
	// filled ones and the model's.
	LiveAtEnd int `json:"live_at_end"`
	// Nodes is each node's memory after the load.
	Nodes []NodeMemory `json:"nodes"`
	// SnapshotBytes and SnapshotMs are a snapshot of the whole state, as
	// the leader writes it for Raft and for a backup, and how long it took
	// to take and send (GET /v1/cluster/snapshot on the leader).
	SnapshotBytes int64   `json:"snapshot_bytes"`
	SnapshotMs    float64 `json:"snapshot_ms"`
	// Restart is a follower killed (SIGKILL) and started again; ReadyMs is
	// how long from its start to /readyz answering 200 (opening its files,
	// restoring its latest snapshot, replaying the log after it and
	// catching up with the leader). Empty when the harness did not start
	// the cluster.
	RestartNode    string  `json:"restart_node,omitempty"`
	RestartReadyMs float64 `json:"restart_ready_ms,omitempty"`
}

// NodeMemory is one node's memory, from its own /metrics.
type NodeMemory struct {
	Node string `json:"node"`
	// RSSBytes is its resident memory; HeapBytes the Go heap in use.
	RSSBytes  int64 `json:"rss_bytes"`
	HeapBytes int64 `json:"heap_inuse_bytes"`
}

// liveIdleTimeout keeps the filled visits live through any run.
const liveIdleTimeout = 24 * time.Hour

// livePoolBody is the admin API's pool for live visits: the smallest pool,
// recycling its numbers so that it takes every visit sent to it.
func (o Options) livePoolBody(name, areaCode string, size int) map[string]any {
	body := map[string]any{
		"name": name, "size": size, "area_code": areaCode, "swap_target": "(415) 555-0100",
		"forward_to": []string{"+14155550100"}, "overflow": "recycle",
		"idle_timeout_s": int(liveIdleTimeout / time.Second), "attribution_window_s": int(o.AttributionWindow / time.Second),
		"visits_per_minute": 100000, "visit_burst": 100000, "displace_after_s": 0,
	}
	if areaCode == "" {
		delete(body, "area_code")
	}
	return body
}

// fillLive starts the live visits, as fast as the cluster takes them with
// o.Workers requests in flight.
func (r *run) fillLive(ctx context.Context) {
	o := r.o
	res := &LiveResult{Visits: o.Live, Pools: len(r.live)}
	r.res.Live = res
	client := newLoadClient(r.t, o.Workers)
	var next, started atomic.Int64
	errs := errorCounts{m: map[string]int64{}}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				n := started.Load()
				r.tickf("filling: %d of %d live visits started (%.0f/s), %d errors", n, o.Live, float64(n)/time.Since(start).Seconds(), errs.total())
			}
		}
	}()
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(o.Live) {
					return
				}
				p := r.live[int(i)%len(r.live)]
				req.Reset()
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetContentType("text/plain;charset=UTF-8")
				req.Header.SetUserAgent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 dni-bench")
				// As much attribution as a paid click carries.
				req.SetBody(fmt.Appendf(nil, `{"pool":%q,"url":"https://shop.example/landing?utm_source=google&utm_medium=cpc&utm_campaign=live%d&utm_term=plumber+near+me&gclid=Cj0KCQiAlive%026d","referrer":"https://www.google.com/"}`,
					p.key, i%1000, i))
				if err := client.do(req, resp, "/v1/visits"); err != nil {
					errs.add("live fill: "+errKind(err), 0)
					continue
				}
				if resp.StatusCode() != fasthttp.StatusCreated {
					errs.add(fmt.Sprintf("live fill: HTTP %d %s", resp.StatusCode(), errorMessage(resp.Body())), resp.StatusCode())
					continue
				}
				started.Add(1)
			}
		})
	}
	wg.Wait()
	close(done)
	took := time.Since(start)
	res.Started, res.FillS, res.FillPerS = started.Load(), took.Seconds(), float64(started.Load())/took.Seconds()
	// The load's errors are counted in its own window; the fill's are
	// added to the run's here.
	errs.mu.Lock()
	for k, n := range errs.m {
		r.res.Errors[k] += n
	}
	r.res.ServerErrors += errs.server
	r.res.Unavailable += errs.unavailable
	errs.mu.Unlock()
}

// measureLive reads what the live visits cost, once the load has ended.
func (r *run) measureLive(ctx context.Context) error {
	res := r.res.Live
	leader, err := r.t.leader(ctx)
	if err != nil {
		return fmt.Errorf("live visits: %w", err)
	}
	pools, err := r.listPools(ctx)
	if err != nil {
		return fmt.Errorf("live visits: %w", err)
	}
	res.LiveAtEnd = 0
	for _, p := range pools {
		res.LiveAtEnd += p.Stats.Live
	}
	for _, n := range r.t.nodes {
		m, err := r.nodeMemory(ctx, n)
		if err != nil {
			return fmt.Errorf("live visits: %w", err)
		}
		res.Nodes = append(res.Nodes, m)
	}
	r.progressf("taking a snapshot of the state on %s", leader.name)
	start := time.Now()
	b, _, err := r.backup(ctx, leader)
	if err != nil {
		return fmt.Errorf("live visits: %w", err)
	}
	res.SnapshotMs, res.SnapshotBytes = ms(time.Since(start)), int64(len(b))
	if r.t.local == nil {
		return nil
	}
	victim := leader
	for _, n := range r.t.nodes {
		if n != leader {
			victim = n
			break
		}
	}
	r.progressf("killing %s and timing its return to ready", victim.name)
	victim.down.Store(true)
	victim.proc.kill()
	start = time.Now()
	if err := victim.proc.start(); err != nil {
		return fmt.Errorf("live visits: restart %s: %w", victim.name, err)
	}
	if err := waitReady(ctx, victim, 10*time.Minute); err != nil {
		return fmt.Errorf("live visits: %w", err)
	}
	res.RestartNode, res.RestartReadyMs = victim.name, ms(time.Since(start))
	victim.down.Store(false)
	return nil
}

// nodeMemory reads a node's resident memory and heap from its /metrics.
func (r *run) nodeMemory(ctx context.Context, n *node) (NodeMemory, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+"/metrics", nil)
	if err != nil {
		return NodeMemory{}, err
	}
	req.Header.Set("Authorization", "Bearer "+r.t.token)
	resp, err := adminHTTP.Do(req)
	if err != nil {
		return NodeMemory{}, fmt.Errorf("metrics of %s: %w", n.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return NodeMemory{}, fmt.Errorf("metrics of %s: HTTP %d", n.name, resp.StatusCode)
	}
	m := NodeMemory{Node: n.name, RSSBytes: -1, HeapBytes: -1}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "process_resident_memory_bytes":
			dst = &m.RSSBytes
		case "go_memstats_heap_inuse_bytes":
			dst = &m.HeapBytes
		default:
			continue
		}
		f, err := strconv.ParseFloat(string(bytes.TrimSpace([]byte(value))), 64)
		if err == nil {
			*dst = int64(f)
		}
	}
	return m, sc.Err()
}
