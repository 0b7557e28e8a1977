package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// The HTTP benchmarks drive a three-node cluster in this process over
// loopback, from benchWorkers concurrent clients (many browsers at once)
// spread over all nodes, and
// report requests per second and the 99th percentile latency. BenchmarkNoop
// measures, the same way, a fasthttp server whose handler does nothing; the
// others report their rate as a share of it (noop-ratio), measured in the
// same run.
const (
	benchWorkers = 256
	benchPools   = 100
)

// benchCluster is a benchmark's three nodes, with benchPools pools of 50
// numbers and no cap on visits per address (the workers share one).
type benchCluster struct {
	*testkit.Cluster
	addrs []string // the nodes' HTTP addresses
	keys  []string // the pools' keys
}

var (
	noopOnce sync.Once
	noopRate float64
)

// asInProduction makes a benchmark's nodes snapshot and commit as a
// production node does: FastConfig's frequent snapshots would cost the
// figures.
func asInProduction(cfg *cluster.Config) {
	cfg.SnapshotThreshold = cluster.DefaultSnapshotThreshold
	cfg.TrailingLogs = cluster.DefaultTrailingLogs
	cfg.CommitTimeout = cluster.DefaultCommitTimeout
}

// startBenchCluster starts the cluster of one run of a benchmark (testing
// ends what a run started when it returns), rules unchecked as a
// production node runs, and measures the no-op rate once, beside the
// first.
func startBenchCluster(b *testing.B) *benchCluster {
	b.Helper()
	c := &benchCluster{Cluster: testkit.StartCluster(b, 3, testkit.Options{
		HTTP: httpapi.Options{VisitsPerMinute: -1}, Config: asInProduction, Unchecked: true,
	})}
	for _, n := range c.Running() {
		c.addrs = append(c.addrs, n.HTTPAddr)
	}
	leader := c.Leader()
	for p := range benchPools {
		// Pools with no guard against scripts: the benchmarks start visits
		// far faster than any site, and measure the write path, which
		// recycles once the pools are full.
		key, cmds := testkit.PoolCommands(fmt.Sprintf("bench%03d", p), 50)
		st := &cmds[0].(*fsm.CreatePool).Settings
		st.DisplaceAfter, st.VisitsPerMinute, st.VisitBurst = 0, allocator.MaxVisitsPerMinute, allocator.MaxVisitBurst
		for _, cmd := range cmds {
			leader.Command(cmd)
		}
		c.keys = append(c.keys, key)
	}
	c.EnsureSame()
	noopOnce.Do(func() { noopRate = measureNoop(b) })
	return c
}

// load sends n requests from benchWorkers workers, worker w to addrs[w%len],
// each made by fill, and returns the rate and the latencies.
func load(b *testing.B, addrs []string, n int, fill func(i int, req *fasthttp.Request), check func(*fasthttp.Response) error) (float64, []time.Duration) {
	clients := make([]*fasthttp.HostClient, len(addrs))
	for i, a := range addrs {
		clients[i] = &fasthttp.HostClient{Addr: a, MaxConns: benchWorkers}
	}
	var next atomic.Int64
	lat := make([][]time.Duration, benchWorkers)
	var failed atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for w := range benchWorkers {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			client := clients[w%len(clients)]
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				req.Reset()
				fill(i, req)
				t0 := time.Now()
				err := client.Do(req, resp)
				lat[w] = append(lat[w], time.Since(t0))
				if err == nil {
					err = check(resp)
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return float64(n) / elapsed.Seconds(), all
}

func report(b *testing.B, rate float64, lat []time.Duration) {
	b.ReportMetric(rate, "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	if noopRate > 0 {
		b.ReportMetric(rate/noopRate, "noop-ratio")
	}
}

// measureNoop runs the no-op server through the same load, for 200,000
// requests, and returns its rate.
func measureNoop(b *testing.B) float64 {
	rate, _ := runNoop(b, 200_000)
	return rate
}

func runNoop(b *testing.B, n int) (float64, []time.Duration) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(*fasthttp.RequestCtx) {}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	addr := ln.Addr().String()
	return load(b, []string{addr, addr, addr}, n, func(_ int, req *fasthttp.Request) {
		req.SetRequestURI("http://" + addr + "/")
	}, func(*fasthttp.Response) error { return nil })
}

// BenchmarkNoop is the yardstick: a fasthttp handler that does nothing.
func BenchmarkNoop(b *testing.B) {
	rate, lat := runNoop(b, max(b.N, 1000))
	report(b, rate, lat)
}

var visitBody = []byte(`{"pool":"%s","url":"https://example.com/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=EAIaIQobChMI3t7Jx9eS-gIVjSiRCh1f3wOAEAAYASAAEgJb5PD_BwE"}`)

// BenchmarkVisitCreate starts visits through all three nodes. Pools recycle
// once full, as a busy site's would.
func BenchmarkVisitCreate(b *testing.B) {
	c := startBenchCluster(b)
	b.ResetTimer()
	rate, lat := load(b, c.addrs, max(b.N, 1000), func(i int, req *fasthttp.Request) {
		req.SetRequestURI("http://" + c.addrs[i%3] + "/v1/visits")
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("text/plain")
		req.Header.SetUserAgent("Mozilla/5.0 (bench)")
		req.SetBody(fmt.Appendf(nil, string(visitBody), c.keys[i%benchPools]))
	}, expect(fasthttp.StatusCreated))
	report(b, rate, lat)
}

// BenchmarkHeartbeat sends heartbeats for 5,000 live visits through all
// three nodes.
func BenchmarkHeartbeat(b *testing.B) {
	c := startBenchCluster(b)
	ids := make([]string, 5000)
	var mu sync.Mutex
	load(b, c.addrs, len(ids), func(i int, req *fasthttp.Request) {
		req.SetRequestURI("http://" + c.addrs[i%3] + "/v1/visits")
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetUserAgent("Mozilla/5.0 (bench)")
		req.SetBody(fmt.Appendf(nil, string(visitBody), c.keys[i%benchPools]))
	}, func(resp *fasthttp.Response) error {
		var a struct{ Visit string }
		if err := json.Unmarshal(resp.Body(), &a); err != nil || a.Visit == "" {
			return fmt.Errorf("visit: %d %s", resp.StatusCode(), resp.Body())
		}
		mu.Lock()
		ids = append(ids[1:], a.Visit)
		mu.Unlock()
		return nil
	})
	c.EnsureSame()
	b.ResetTimer()
	rate, lat := load(b, c.addrs, max(b.N, 1000), func(i int, req *fasthttp.Request) {
		req.SetRequestURI("http://" + c.addrs[i%3] + "/v1/visits/" + ids[(i*7919)%len(ids)] + "/heartbeat")
		req.Header.SetMethod(fasthttp.MethodPost)
	}, expect(fasthttp.StatusOK))
	report(b, rate, lat)
}

func expect(status int) func(*fasthttp.Response) error {
	return func(resp *fasthttp.Response) error {
		if resp.StatusCode() != status {
			return fmt.Errorf("HTTP %d: %s", resp.StatusCode(), resp.Body())
		}
		return nil
	}
}
