package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
)

var binaries struct {
	mu    sync.Mutex
	dir   string
	built map[bool]string // race detector on → path
}

// Binary builds dninode once per test binary and returns its path. Under
// -race the binary has the race detector too, and a process's race report
// fails its test.
func Binary(t testing.TB) string { return build(t, raceEnabled) }

// BinaryNoRace is Binary without the race detector, for a test whose own
// code is the harness that drives the nodes, not the nodes.
func BinaryNoRace(t testing.TB) string { return build(t, false) }

func build(t testing.TB, race bool) string {
	t.Helper()
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if path, ok := binaries.built[race]; ok {
		return path
	}
	if binaries.dir == "" {
		dir, err := os.MkdirTemp("", "dninode-test-")
		if err != nil {
			t.Fatal(err)
		}
		binaries.dir, binaries.built = dir, map[bool]string{}
	}
	path := filepath.Join(binaries.dir, fmt.Sprintf("dninode-race-%v", race))
	args := []string{"build", "-o", path}
	if race {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, "github.com/dni-dev/dni/cmd/dninode")...).CombinedOutput(); err != nil {
		t.Fatalf("build dninode: %v\n%s", err, out)
	}
	binaries.built[race] = path
	return path
}

// FastFlags make a process's elections take a fraction of a second, as
// they can on one host, and its snapshots frequent, so that restarts read
// them.
var FastFlags = []string{
	"--heartbeat-timeout", "500ms", "--election-timeout", "500ms", "--leader-lease", "250ms",
	"--commit-timeout", "5ms", "--leader-grace", "2s",
	"--snapshot-threshold", "100", "--snapshot-interval", "1s", "--trailing-logs", "50",
}

// Process is one dninode process that a test can kill and start again with
// the same flags, data dir and ports. Each run's stdout and stderr are kept
// in files, and its log also goes to the test's output.
type Process struct {
	Name     string
	HTTPAddr string
	// ClusterAddr is where its cluster port listens (--raft-addr or
	// DNI_RAFT_ADDR): its Raft and its internal API.
	ClusterAddr string
	Dir         string // the working dir

	t      testing.TB
	bin    string
	args   []string
	env    []string // on top of the test's environment, without its DNI_ variables
	logs   string
	out    *testWriter
	runs   int
	cmd    *exec.Cmd
	exited chan struct{} // closed once the current run has been waited for
}

// NewProcess prepares a process of Binary(t) with the given arguments and
// environment; Start runs it. httpAddr is where it serves HTTP.
func NewProcess(t testing.TB, name, httpAddr string, args, env []string) *Process {
	t.Helper()
	p := &Process{
		Name: name, HTTPAddr: httpAddr, Dir: t.TempDir(),
		t: t, bin: Binary(t), args: args, env: env, logs: t.TempDir(), out: newTestWriter(t),
	}
	p.ClusterAddr = p.Arg("--raft-addr")
	for _, kv := range env {
		if addr, ok := strings.CutPrefix(kv, "DNI_RAFT_ADDR="); ok && p.ClusterAddr == "" {
			p.ClusterAddr = addr
		}
	}
	t.Cleanup(func() {
		p.Kill()
		p.checkRaces()
	})
	return p
}

// Arg returns the value given for a flag, such as "--raft-addr".
func (p *Process) Arg(flag string) string {
	if i := slices.Index(p.args, flag); i >= 0 && i+1 < len(p.args) {
		return p.args[i+1]
	}
	return ""
}

// Start runs the process (again); it does not wait for it to be ready.
func (p *Process) Start() {
	p.t.Helper()
	p.runs++
	stdout, err1 := os.Create(p.logFile("out"))
	stderr, err2 := os.Create(p.logFile("err"))
	if err1 != nil || err2 != nil {
		p.t.Fatal(err1, err2)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir, cmd.Env = p.Dir, childEnv(p.env)
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(stderr, &prefixWriter{w: p.out, prefix: []byte(fmt.Sprintf("%s run %d: ", p.Name, p.runs))})
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		stdout.Close()
		stderr.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
}

// childEnv is the test's environment without its DNI_ variables, plus
// extra. A race-enabled child would sleep a second on exit waiting for late
// race reports; the tests time exits, and a race shows up before then.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DNI_") {
			env = append(env, kv)
		}
	}
	if _, set := os.LookupEnv("GORACE"); !set {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	return append(env, extra...)
}

// Command prepares a run of Binary(t) that is not a node, such as an
// operator command, in dir (empty: the test's), with the environment a
// Process has: the test's without its DNI_ variables, plus env.
func Command(t testing.TB, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Dir, cmd.Env = dir, childEnv(env)
	return cmd
}

func (p *Process) logFile(stream string) string {
	return filepath.Join(p.logs, fmt.Sprintf("%s.%d.%s", p.Name, p.runs, stream))
}

// PID is the current run's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Running reports whether the process runs.
func (p *Process) Running() bool {
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

// Kill ends the process at once, as a crash would, and waits for it.
func (p *Process) Kill() {
	if p.Running() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// Terminate asks the process to stop, as an operator or a supervisor
// would, and returns its exit code.
func (p *Process) Terminate() int {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(45 * time.Second):
		p.t.Fatalf("%s did not stop within 45s of SIGTERM", p.Name)
		return -1
	}
}

// Stdout is what the current run printed on stdout so far.
func (p *Process) Stdout() string {
	b, _ := os.ReadFile(p.logFile("out"))
	return string(b)
}

// Stderr is what the current run logged so far.
func (p *Process) Stderr() string {
	b, _ := os.ReadFile(p.logFile("err"))
	return string(b)
}

// checkRaces fails the test if the race detector reported a race in any
// run of the process.
func (p *Process) checkRaces() {
	for run := 1; run <= p.runs; run++ {
		b, _ := os.ReadFile(filepath.Join(p.logs, fmt.Sprintf("%s.%d.err", p.Name, run)))
		if i := bytes.Index(b, []byte("WARNING: DATA RACE")); i >= 0 {
			p.t.Errorf("%s run %d: the race detector found a race:\n%s", p.Name, run, b[i:min(len(b), i+6000)])
		}
	}
}

var readyClient = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// WaitReady waits until the process answers /readyz with 200, and fails
// the test if it exits first.
func (p *Process) WaitReady() {
	p.t.Helper()
	Eventually(p.t, p.Name+" to be ready", func() error {
		if !p.Running() {
			p.t.Fatalf("%s exited (%v) before it was ready", p.Name, p.cmd.ProcessState)
		}
		resp, err := readyClient.Get("http://" + p.HTTPAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answers %d", resp.StatusCode)
		}
		return nil
	})
}

// prefixWriter starts every line with a prefix.
type prefixWriter struct {
	w       io.Writer
	prefix  []byte
	midLine bool
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !pw.midLine {
			out = append(out, pw.prefix...)
		}
		out = append(out, line...)
		pw.midLine = line[len(line)-1] != '\n'
	}
	if _, err := pw.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// FreeAddrs returns n addresses on 127.0.0.1 that were free a moment ago.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// ProcessCluster is a cluster of dninode processes.
type ProcessCluster struct {
	T      testing.TB
	Secret string
	Client *httpapi.Client // the internal API, on the nodes' cluster ports
	Nodes  []*Process
}

// OperatorClient reaches the internal API of a cluster whose secret is
// given, as the operator's dninode commands do: with a certificate derived
// from the secret.
func OperatorClient(t testing.TB, secret string) *httpapi.Client {
	t.Helper()
	tls, err := cluster.TLSFromSecret(secret, "operator")
	if err != nil {
		t.Fatal(err)
	}
	return httpapi.NewClient(&cluster.Dialer{TLS: tls})
}

// StartProcessCluster starts n nodes, n1 to n<n>, with FastFlags: the first
// starts the cluster, the others join it; extra flags go to every node,
// and per-node ones to that node. It returns once every node is ready and
// a member.
func StartProcessCluster(t testing.TB, n int, extra func(i int) []string) *ProcessCluster {
	t.Helper()
	c := &ProcessCluster{T: t, Secret: "test-secret-" + NewVisitID().String()}
	c.Client = OperatorClient(t, c.Secret)
	addrs := FreeAddrs(t, 2*n)
	for i := range n {
		httpAddr, raftAddr := addrs[2*i], addrs[2*i+1]
		args := append(slices.Clone(FastFlags),
			"--node-id", fmt.Sprintf("n%d", i+1), "--http-addr", httpAddr, "--raft-addr", raftAddr,
			"--data-dir", filepath.Join(t.TempDir(), "data"), "--cluster-secret", c.Secret)
		if i == 0 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", c.Nodes[0].ClusterAddr)
		}
		if extra != nil {
			args = append(args, extra(i)...)
		}
		c.Nodes = append(c.Nodes, NewProcess(t, fmt.Sprintf("n%d", i+1), httpAddr, args, nil))
	}
	c.Nodes[0].Start()
	c.Nodes[0].WaitReady()
	for _, p := range c.Nodes[1:] {
		p.Start()
	}
	for _, p := range c.Nodes[1:] {
		p.WaitReady()
	}
	c.WaitMembers(n)
	return c
}

// Running lists the nodes that run.
func (c *ProcessCluster) Running() []*Process {
	var out []*Process
	for _, p := range c.Nodes {
		if p.Running() {
			out = append(out, p)
		}
	}
	return out
}

// Node returns the node with the given name.
func (c *ProcessCluster) Node(name string) *Process {
	c.T.Helper()
	for _, p := range c.Nodes {
		if p.Name == name {
			return p
		}
	}
	c.T.Fatalf("no node %s", name)
	return nil
}

// WaitMembers waits until a running node lists n members, each ready.
func (c *ProcessCluster) WaitMembers(n int) {
	c.T.Helper()
	Eventually(c.T, fmt.Sprintf("%d ready members", n), func() error {
		var last error = errors.New("no node runs")
		for _, p := range c.Running() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ms, err := c.Client.Members(ctx, p.ClusterAddr)
			cancel()
			if err != nil {
				last = err
				continue
			}
			ready := 0
			for _, m := range ms {
				if m.Status != nil && m.Status.Ready {
					ready++
				}
			}
			if len(ms) == n && ready == n {
				return nil
			}
			last = fmt.Errorf("%s lists %d members, %d of them ready", p.Name, len(ms), ready)
		}
		return last
	})
}

// Leader returns the node that says it leads.
func (c *ProcessCluster) Leader() *Process {
	c.T.Helper()
	var leader *Process
	Eventually(c.T, "a node to lead", func() bool {
		for _, p := range c.Running() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := c.Client.Status(ctx, p.ClusterAddr)
			cancel()
			if err == nil && st.State == "Leader" {
				leader = p
				return true
			}
		}
		return false
	})
	return leader
}

// Command commits a command through p, retrying while the cluster cannot
// take it yet, and fails the test if it is not acknowledged or the state
// machine refuses it.
func (c *ProcessCluster) Command(p *Process, cmd fsm.Command) fsm.Receipt {
	c.T.Helper()
	r, err := c.RetryCommand([]*Process{p}, cmd, time.Now().Add(Patience))
	if err == nil {
		err = r.Err
	}
	if err != nil {
		c.T.Fatalf("%T through %s: %v", cmd, p.Name, err)
	}
	return r
}

// RetryCommand sends cmd to the nodes in turn, each try bounded by a
// second, until one acknowledges it or the deadline passes. Every command
// is idempotent, so a try whose answer was lost does no harm.
func (c *ProcessCluster) RetryCommand(via []*Process, cmd fsm.Command, deadline time.Time) (fsm.Receipt, error) {
	var last error
	for i := 0; time.Now().Before(deadline); i++ {
		p := via[i%len(via)]
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := c.Client.Command(ctx, p.ClusterAddr, cmd)
		cancel()
		if err == nil {
			return r, nil
		}
		last = err
		time.Sleep(10 * time.Millisecond)
	}
	return fsm.Receipt{}, fmt.Errorf("not acknowledged in time: %w", last)
}

// CreatePool creates a pool of size numbers through p and returns its key.
func (c *ProcessCluster) CreatePool(p *Process, id string, size int) string {
	c.T.Helper()
	key, cmds := PoolCommands(id, size)
	for _, cmd := range cmds {
		c.Command(p, cmd)
	}
	return key
}

// WriteVisit makes one new visit through the given nodes and records it in
// a once acknowledged.
func (c *ProcessCluster) WriteVisit(a *Acked, key string, via ...*Process) {
	c.T.Helper()
	id := NewVisitID()
	r, err := c.RetryCommand(via, &fsm.Assign{Visit: id, PoolKey: key, At: time.Now()}, time.Now().Add(Patience))
	if err == nil && r.Err == nil && r.Number == "" {
		err = fmt.Errorf("no number: %+v", r)
	}
	if err != nil || r.Err != nil {
		c.T.Fatalf("visit through %v: %v %v", names(via), err, r.Err)
	}
	a.Add(id, r.Number)
}

func names(ps []*Process) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// SameState fetches a backup from each node until all of them are byte
// for byte the same, and returns the state they hold, read back whole.
func (c *ProcessCluster) SameState(nodes []*Process) *allocator.State {
	c.T.Helper()
	var same []byte
	Eventually(c.T, "the nodes' states to be the same", func() error {
		var first []byte
		for i, p := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			b, err := c.Client.Backup(ctx, p.ClusterAddr)
			cancel()
			switch {
			case err != nil:
				return fmt.Errorf("backup from %s: %v", p.Name, err)
			case i == 0:
				first = b
			case !bytes.Equal(first, b):
				return fmt.Errorf("backups of %s and %s differ (%d and %d bytes)", nodes[0].Name, p.Name, len(first), len(b))
			}
		}
		same = first
		return nil
	})
	return ReadBackup(c.T, same)
}
