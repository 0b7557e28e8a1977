package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/provision/standin"
)

// target is the cluster under load: its nodes' HTTP addresses, the admin
// token that runs it (the harness reaches the cluster's members and
// backups through the admin API, as an operator's tools would), and the
// Twilio stand-in its numbers come from. When the harness started the
// cluster itself, it also holds the node processes, so faults can be
// injected.
type target struct {
	nodes []*node
	token string         // admin API bearer token
	calls standin.Caller // places simulated calls; nil when none can be made
	local *localCluster  // nil when the harness did not start the cluster
	next  atomic.Uint64  // round robin over the nodes
}

// node is one node of the cluster.
type node struct {
	name string
	addr string // host:port of its HTTP API
	proc *process
	// down is set while the harness has the node stopped; requests go to
	// the other nodes then, as a load balancer's health check would make
	// them.
	down atomic.Bool
}

// pick returns the nodes in the order a request should try them: the
// next in turn first, skipping nodes the harness stopped.
func (t *target) pick() []*node {
	start := int(t.next.Add(1))
	out := make([]*node, 0, len(t.nodes))
	for i := range t.nodes {
		if n := t.nodes[(start+i)%len(t.nodes)]; !n.down.Load() {
			out = append(out, n)
		}
	}
	return out
}

// up returns the nodes the harness has not stopped.
func (t *target) up() []*node {
	var out []*node
	for _, n := range t.nodes {
		if !n.down.Load() {
			out = append(out, n)
		}
	}
	return out
}

// members asks node n for the cluster's members (GET /v1/cluster).
func (t *target) members(ctx context.Context, n *node) ([]cluster.Member, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+"/v1/cluster", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	resp, err := adminHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("members from %s: HTTP %d", n.name, resp.StatusCode)
	}
	var ms []cluster.Member
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, fmt.Errorf("members from %s: %w", n.name, err)
	}
	return ms, nil
}

// leader returns the node that says it leads, or nil and why not.
func (t *target) leader(ctx context.Context) (*node, error) {
	var last error = errors.New("no node says it leads")
	for _, n := range t.up() {
		ms, err := t.members(ctx, n)
		if err != nil {
			last = err
			continue
		}
		for _, m := range ms {
			if m.Leader && m.Status != nil && m.Status.State == "Leader" {
				for _, cand := range t.up() {
					if cand.name == m.ID {
						return cand, nil
					}
				}
			}
		}
	}
	return nil, last
}

// waitLeader waits until a node says it leads.
func (t *target) waitLeader(ctx context.Context, within time.Duration) (*node, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		n, err := t.leader(ctx)
		if err == nil {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leader within %v: %w", within, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitWhole waits until every node is a member and reports ready.
func (t *target) waitWhole(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	last := "no answer"
	for {
		for _, n := range t.up() {
			ms, err := t.members(ctx, n)
			if err != nil {
				last = err.Error()
				continue
			}
			ready := 0
			for _, m := range ms {
				if m.Status != nil && m.Status.Ready {
					ready++
				}
			}
			if len(ms) == len(t.nodes) && ready == len(ms) {
				return nil
			}
			last = fmt.Sprintf("%d members, %d ready", len(ms), ready)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cluster did not get all %d nodes ready within %v: %s", len(t.nodes), within, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// localCluster is a cluster the harness runs: N dninode processes in a
// temporary directory, with a Twilio stand-in in the harness's own
// process that they all buy numbers from and that calls them as Twilio
// would.
type localCluster struct {
	dir     string
	sandbox *standin.Server
	log     *slog.Logger
}

// publicHost is the cluster's public URL as Twilio knows it. No such host
// exists: the stand-in's webhook client sends its requests to a node that
// is up, as the load balancer in front of a cluster would.
const publicHost = "dni-bench.invalid"

// nodeFlags tune every node for one host: elections in a fraction of a
// second, no limit on new visits or connections per address (the harness
// is one address, with up to --workers connections to each node), and
// only warnings in the logs.
var nodeFlags = []string{
	"--heartbeat-timeout", "500ms", "--election-timeout", "500ms", "--leader-lease", "250ms",
	"--commit-timeout", "5ms", "--visits-per-minute", "-1", "--max-conns-per-address", "-1", "--log-level", "warn",
}

// startLocal starts the stand-in and n nodes, the first bootstrapping and
// the others joining it, and waits until they form a cluster.
func startLocal(ctx context.Context, o *Options, log *slog.Logger) (*target, error) {
	dir := o.Dir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	} else {
		d, err := os.MkdirTemp("", "dni-bench-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	lc := &localCluster{dir: dir, log: log}
	t := &target{local: lc, token: "bench-admin-" + randomHex(16)}
	secret := "bench-secret-" + randomHex(16)
	sb, err := standin.New(standin.Options{HTTPClient: webhookClient(t), Log: log.With("part", "sandbox")})
	if err != nil {
		return nil, err
	}
	sbURL, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lc.sandbox, t.calls = sb, sb
	addrs, err := freeAddrs(2 * o.Nodes)
	if err != nil {
		lc.close(t)
		return nil, err
	}
	for i := range o.Nodes {
		name := fmt.Sprintf("n%d", i+1)
		args := append([]string{
			"--node-id", name, "--http-addr", addrs[2*i], "--raft-addr", addrs[2*i+1],
			"--data-dir", filepath.Join(dir, name), "--cluster-secret", secret, "--admin-token", t.token,
			"--twilio-api-url", sbURL, "--twilio-account-sid", sb.AccountSID(), "--twilio-auth-token", sb.AuthToken(),
			"--public-url", "http://" + publicHost,
		}, nodeFlags...)
		if i == 0 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", addrs[1])
		}
		args = append(args, o.NodeArgs...)
		n := &node{name: name, addr: addrs[2*i], proc: &process{name: name, binary: o.Binary, args: args, logs: dir}}
		t.nodes = append(t.nodes, n)
	}
	for i, n := range t.nodes {
		if err := n.proc.start(); err != nil {
			lc.close(t)
			return nil, err
		}
		if i == 0 {
			if err := waitReady(ctx, n, 30*time.Second); err != nil {
				lc.close(t)
				return nil, err
			}
		}
	}
	for _, n := range t.nodes[1:] {
		if err := waitReady(ctx, n, 30*time.Second); err != nil {
			lc.close(t)
			return nil, err
		}
	}
	if err := t.waitWhole(ctx, 30*time.Second); err != nil {
		lc.close(t)
		return nil, err
	}
	// Each node records the admin token once it serves: until every node
	// has it, some answer 401.
	for _, n := range t.nodes {
		if err := waitAdmin(ctx, t, n, 30*time.Second); err != nil {
			lc.close(t)
			return nil, err
		}
	}
	return t, nil
}

// waitAdmin waits until the node's admin API takes the admin token.
func waitAdmin(ctx context.Context, t *target, n *node, within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: 2 * time.Second}
	last := "no answer"
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+"/v1/tokens", nil)
		req.Header.Set("Authorization", "Bearer "+t.token)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("node %s did not take the admin token within %v: %s", n.name, within, last)
}

// close stops the nodes and the stand-in.
func (lc *localCluster) close(t *target) {
	var wg sync.WaitGroup
	for _, n := range t.nodes {
		wg.Go(func() { n.proc.kill() })
	}
	wg.Wait()
	lc.sandbox.Close()
}

// webhookClient is the stand-in's HTTP client: Twilio's patience, and a
// dialer that reaches the public host through any node that is up, trying
// the next when one refuses.
func webhookClient(t *target) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var last error = errors.New("every node is down")
			for _, n := range t.pick() {
				c, err := d.DialContext(ctx, network, n.addr)
				if err == nil {
					return c, nil
				}
				last = err
			}
			return nil, last
		},
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// waitReady waits until the node answers /readyz with 200.
func waitReady(ctx context.Context, n *node, within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if n.proc != nil && !n.proc.running() {
			return fmt.Errorf("node %s exited before it was ready; see %s", n.name, n.proc.logFile())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+"/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("node %s was not ready within %v", n.name, within)
}

// process is one dninode node process, which can be stopped and started
// again with the same flags and data dir.
type process struct {
	name   string
	binary string
	args   []string
	logs   string // directory of its log files, one per run
	runs   int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

func (p *process) logFile() string {
	return filepath.Join(p.logs, fmt.Sprintf("%s.%d.log", p.name, p.runs))
}

// start runs the process again; it does not wait for it to be ready.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.runs++
	out, err := os.Create(p.logFile())
	if err != nil {
		return err
	}
	cmd := exec.Command(p.binary, p.args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = out, out, childEnv()
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start node %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		out.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	return nil
}

func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill ends the process at once, as a crash would, and waits for it.
func (p *process) kill() { p.signal(syscall.SIGKILL, 0) }

// terminate asks the process to stop, as an operator would, and waits for
// it; after within it kills it.
func (p *process) terminate(within time.Duration) { p.signal(syscall.SIGTERM, within) }

func (p *process) signal(sig syscall.Signal, within time.Duration) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	if within == 0 {
		<-exited
		return
	}
	select {
	case <-exited:
	case <-time.After(within):
		cmd.Process.Kill()
		<-exited
	}
}

// childEnv is the harness's environment without dni's and Twilio's
// variables, which would override the nodes' flags' defaults.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DNI_") && !strings.HasPrefix(kv, "TWILIO_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddrs returns n addresses on 127.0.0.1 that were free a moment ago.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
