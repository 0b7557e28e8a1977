package bench

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// NoopRate is the host's HTTP yardstick: how many requests a fasthttp
// server whose handler does nothing answers, from the same client code and
// the same number of workers that then drive the cluster.
type NoopRate struct {
	Requests uint64     `json:"requests"`
	PerS     float64    `json:"per_s"`
	Workers  int        `json:"workers"`
	Latency  Quantiles  `json:"latency"`
	hist     *Histogram // the latencies behind Latency
}

// measureNoop runs the no-op server in this process and sends it empty
// POSTs from workers for d.
func measureNoop(ctx context.Context, workers int, d time.Duration) (NoopRate, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return NoopRate{}, err
	}
	srv := &fasthttp.Server{Handler: func(*fasthttp.RequestCtx) {}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	t := &target{nodes: []*node{{name: "noop", addr: ln.Addr().String()}}}
	c := newLoadClient(t, workers)
	h := new(Histogram)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var failed atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod(fasthttp.MethodPost)
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := c.do(req, resp, "/"); err != nil {
					failed.Store(err)
					return
				}
				h.Record(time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, ok := failed.Load().(error); ok {
		return NoopRate{}, err
	}
	return NoopRate{
		Requests: h.Count(), PerS: float64(h.Count()) / elapsed.Seconds(), Workers: workers,
		Latency: quantiles(h), hist: h,
	}, nil
}
