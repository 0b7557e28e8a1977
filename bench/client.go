package bench

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// loadClient sends the visitors' requests, as browsers behind a load
// balancer do: each request to the next node in turn, and to the next one
// after that if a node cannot be reached. The no-op measurement uses it
// too, so both rates come from the same client code.
type loadClient struct {
	t       *target
	hosts   map[*node]*fasthttp.HostClient
	timeout time.Duration
	// unreachable, if set, is told about every try that found a node
	// unreachable (and went on to the next).
	unreachable func(n *node, err error)
}

// requestTimeout is longer than a node holds a write while the cluster
// elects a leader (--write-timeout, 10 s by default).
const requestTimeout = 15 * time.Second

func newLoadClient(t *target, conns int) *loadClient {
	c := &loadClient{t: t, hosts: map[*node]*fasthttp.HostClient{}, timeout: requestTimeout}
	for _, n := range t.nodes {
		c.hosts[n] = &fasthttp.HostClient{
			Addr: n.addr, MaxConns: conns, ReadTimeout: requestTimeout, WriteTimeout: requestTimeout,
			MaxIdleConnDuration: 30 * time.Second, MaxIdemponentCallAttempts: 1,
		}
	}
	return c
}

// do sends req, whose path and body are set, and fills resp. A node that
// cannot be reached is skipped for the next; a timeout is not retried,
// since the node may have done the write.
func (c *loadClient) do(req *fasthttp.Request, resp *fasthttp.Response, path string) error {
	err := errNoNode
	for _, n := range c.t.pick() {
		req.SetRequestURI("http://" + n.addr + path)
		err = c.hosts[n].DoTimeout(req, resp, c.timeout)
		if err == nil || errors.Is(err, fasthttp.ErrTimeout) {
			return err
		}
		if c.unreachable != nil {
			c.unreachable(n, err)
		}
	}
	return err
}

var errNoNode = errors.New("no node can be reached")
