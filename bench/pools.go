package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// benchPool is one pool the run created.
type benchPool struct {
	id, key string
	policy  int // index into run.policies
}

// policy is one allocation policy and the pools that use it; slot i of
// every policy gets the same visitors.
type policy struct {
	name  allocator.Allocation
	pools []*benchPool
}

// poolJSON is as much of the admin API's pool as the harness reads.
type poolJSON struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Notice string `json:"notice"`
	Stats  struct {
		Numbers int `json:"numbers"`
		Free    int `json:"free"`
		Waiting int `json:"waiting_visits"`
		Live    int `json:"live_visits"`
	} `json:"stats"`
}

// firstAreaCode is the lowest NANP area code.
const firstAreaCode = 201

// namePrefix marks the pools a run creates, so a run against a cluster
// that holds others reads only its own.
const namePrefix = "dni bench "

// areaCodes lists the area codes pools buy in, from the code from on,
// each holding room for as many pools as the stand-in's 100 numbers per
// area code allow. Real Twilio has more numbers, and fewer codes would do.
func areaCodes(from, pools, size int) []string {
	perCode := max(100/size, 1)
	var out []string
	for ac := from; len(out) < pools && ac <= 999; ac++ {
		if ac%100 == 11 || ac/100 == 5 && ac%100 == 55 {
			continue // N11 codes are services, and 555 is not a place
		}
		for i := 0; i < perCode && len(out) < pools; i++ {
			out = append(out, fmt.Sprint(ac))
		}
	}
	for len(out) < pools {
		out = append(out, "") // anywhere
	}
	return out
}

// createPools creates the run's pools (and, with faults, a small pool for
// the write probes), then waits until the cluster has bought all their
// numbers.
func (r *run) createPools(ctx context.Context) error {
	o := r.o
	names := []allocator.Allocation{allocator.AllocateLRU}
	if o.Compare {
		names = append(names, allocator.AllocateRandom)
	}
	per := o.Pools / len(names)
	codes := areaCodes(firstAreaCode, per*len(names)+1, o.PoolSize)
	type want struct {
		name string
		body map[string]any
		p    *benchPool
	}
	var wants []want
	for pi, a := range names {
		pol := &policy{name: a}
		r.policies = append(r.policies, pol)
		for i := range per {
			p := &benchPool{policy: pi}
			pol.pools = append(pol.pools, p)
			wants = append(wants, want{name: fmt.Sprintf("%s%s %04d", namePrefix, a, i), p: p})
		}
	}
	if o.KillLeaderEvery > 0 || o.RestartFollowerEvery > 0 {
		r.probe = &benchPool{policy: -1}
		wants = append(wants, want{name: namePrefix + "write probe", p: r.probe})
	}
	measured := len(wants)
	for i := range o.LivePools {
		p := &benchPool{policy: -1}
		r.live = append(r.live, p)
		wants = append(wants, want{name: fmt.Sprintf("%slive %04d", namePrefix, i), p: p})
	}
	// The live pools buy in the area codes after the measured ones'.
	liveFrom := 1000 // none left: anywhere
	if last, err := strconv.Atoi(codes[len(codes)-1]); err == nil {
		liveFrom = last + 1
	}
	liveCodes := areaCodes(liveFrom, o.LivePools, allocator.MinPoolSize)
	for i := range wants {
		w := &wants[i]
		if i >= measured {
			w.body = o.livePoolBody(w.name, liveCodes[i-measured], allocator.MinPoolSize)
			continue
		}
		size, alloc := o.PoolSize, "lru"
		if w.p.policy >= 0 {
			alloc = string(r.policies[w.p.policy].name)
		} else {
			size = allocator.MinPoolSize
		}
		w.body = map[string]any{
			"name": w.name, "size": size, "area_code": codes[i], "swap_target": "(415) 555-0100",
			"forward_to": []string{"+14155550100"}, "whisper": true, "overflow": "recycle", "allocation": alloc,
			"idle_timeout_s": int(o.IdleTimeout / time.Second), "attribution_window_s": int(o.AttributionWindow / time.Second),
			// The harness is a script by nature, the very thing a pool's
			// budget and its protection of recent visitors stop: off, so
			// that it measures the write path and LRU's attribution.
			"visits_per_minute": 100000, "visit_burst": 100000, "displace_after_s": 0,
		}
		if codes[i] == "" {
			delete(w.body, "area_code")
		}
	}
	start := time.Now()
	r.progressf("creating %d pools", len(wants))
	err := parallel(ctx, len(wants), 16, func(ctx context.Context, i int) error {
		w := &wants[i]
		var out poolJSON
		if err := r.t.admin(ctx, http.MethodPost, "/v1/pools", w.body, &out); err != nil {
			return fmt.Errorf("create pool %q: %w", w.name, err)
		}
		w.p.id, w.p.key = out.ID, out.Key
		return nil
	})
	if err != nil {
		return err
	}
	numbers := 0
	for _, w := range wants {
		numbers += w.body["size"].(int)
	}
	if err := r.waitActive(ctx, numbers, start); err != nil {
		return err
	}
	took := time.Since(start)
	r.res.Provisioning = Provisioning{Numbers: numbers, Seconds: took.Seconds(), PerS: float64(numbers) / took.Seconds()}
	return nil
}

// waitActive waits until the run's pools hold all their numbers.
func (r *run) waitActive(ctx context.Context, numbers int, start time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.ProvisionTimeout)
	defer cancel()
	mine := r.poolIDs()
	for {
		pools, err := r.listPools(ctx)
		if err == nil {
			have, active := 0, 0
			var notice string
			for _, p := range pools {
				if _, ok := mine[p.ID]; ok {
					have += p.Stats.Numbers
					if p.Status == "active" {
						active++
					} else if p.Notice != "" {
						notice = p.Notice
					}
				}
			}
			r.tickf("provisioning: %d of %d numbers bought (%.0f/s), %d of %d pools active",
				have, numbers, float64(have)/time.Since(start).Seconds(), active, len(mine))
			if active == len(mine) {
				return nil
			}
			if notice != "" {
				r.log.Warn("a pool says", "notice", notice)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the pools did not get their numbers within %v (last error: %v)", r.o.ProvisionTimeout, err)
		case <-time.After(time.Second):
		}
	}
}

func (r *run) poolIDs() map[string]*benchPool {
	out := map[string]*benchPool{}
	for _, pol := range r.policies {
		for _, p := range pol.pools {
			out[p.id] = p
		}
	}
	if r.probe != nil {
		out[r.probe.id] = r.probe
	}
	for _, p := range r.live {
		out[p.id] = p
	}
	return out
}

func (r *run) listPools(ctx context.Context) ([]poolJSON, error) {
	var out struct {
		Pools []poolJSON `json:"pools"`
	}
	err := r.t.admin(ctx, http.MethodGet, "/v1/pools", nil, &out)
	return out.Pools, err
}

// deletePools deletes the run's pools from a cluster it did not start,
// which releases their numbers.
func (r *run) deletePools(ctx context.Context) {
	var ids []string
	for id := range r.poolIDs() {
		ids = append(ids, id)
	}
	parallel(ctx, len(ids), 16, func(ctx context.Context, i int) error {
		if err := r.t.admin(ctx, http.MethodDelete, "/v1/pools/"+ids[i], nil, nil); err != nil {
			r.log.Warn("could not delete a bench pool", "pool", ids[i], "err", err)
		}
		return nil
	})
}

// sampler reads the pools' counters from the cluster every interval and
// keeps the utilisation of each policy's pools.
type sampler struct {
	mu      sync.Mutex
	held    []float64 // per policy: sum over samples of held/numbers
	min     []float64
	max     []float64
	waiting []float64
	n       int
	last    []float64 // the latest sample, for the progress line
}

func (r *run) sample(ctx context.Context, s *sampler, counting func() bool) {
	mine := r.poolIDs()
	pools, err := r.listPools(ctx)
	if err != nil {
		r.log.Debug("utilisation sample failed", "err", err)
		return
	}
	numbers := make([]int, len(r.policies))
	held := make([]int, len(r.policies))
	waiting := make([]int, len(r.policies))
	for _, p := range pools {
		if bp, ok := mine[p.ID]; ok && bp.policy >= 0 {
			numbers[bp.policy] += p.Stats.Numbers
			held[bp.policy] += p.Stats.Numbers - p.Stats.Free
			waiting[bp.policy] += p.Stats.Waiting
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		k := len(r.policies)
		s.held, s.min, s.max, s.waiting, s.last = make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
		for i := range s.min {
			s.min[i] = 1
		}
	}
	for i := range numbers {
		u := 0.0
		if numbers[i] > 0 {
			u = float64(held[i]) / float64(numbers[i])
		}
		s.last[i] = u
		if counting() {
			s.held[i] += u
			s.min[i] = min(s.min[i], u)
			s.max[i] = max(s.max[i], u)
			s.waiting[i] += float64(waiting[i])
		}
	}
	if counting() {
		s.n++
	}
}

func (s *sampler) latest() []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]float64(nil), s.last...)
}

func (s *sampler) results(policies []*policy) []Utilisation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Utilisation
	for i, p := range policies {
		u := Utilisation{Policy: string(p.name), Samples: s.n}
		if s.n > 0 {
			u.Mean, u.Min, u.Max, u.Waiting = s.held[i]/float64(s.n), s.min[i], s.max[i], s.waiting[i]/float64(s.n)
		}
		out = append(out, u)
	}
	return out
}

// admin calls the admin API on a node that is up, trying the next one if
// a node cannot be reached, and decodes a 2xx answer into out.
func (t *target) admin(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		payload = b
	}
	var last error
	for _, n := range t.pick() {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+n.addr+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+t.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := adminHTTP.Do(req)
		if err != nil {
			last = err
			if ctx.Err() != nil {
				return err
			}
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			last = err
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(b, out)
	}
	if last == nil {
		last = errNoNode
	}
	return last
}

var adminHTTP = &http.Client{Timeout: 60 * time.Second}

// parallel calls do for 0..n-1, at most limit at a time, and returns the
// first error; after one, the calls not started yet are not made.
func parallel(ctx context.Context, n, limit int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, limit)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := do(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return first
}
