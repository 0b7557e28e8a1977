package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
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
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
)

// The tests in this file run the real binary, built once by TestMain, as
// separate processes on real ports, and kill them as an operator or a
// crash would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dninode-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "dninode")
	build := []string{"build", "-o", binary}
	if raceEnabled {
		build = append(build, "-race")
	}
	if out, err := exec.Command("go", append(build, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build dninode: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fastFlags make elections take a fraction of a second, as they can on one
// host.
var fastFlags = []string{
	"--heartbeat-timeout", "500ms", "--election-timeout", "500ms", "--leader-lease", "250ms",
	"--commit-timeout", "5ms", "--leader-grace", "2s",
	// A snapshot every 100 entries, so that restarts read snapshots too.
	"--snapshot-threshold", "100", "--snapshot-interval", "1s", "--trailing-logs", "50",
}

// proc is one dninode process that can be killed and started again with
// the same flags, data dir and ports.
type proc struct {
	t        *testing.T
	name     string
	args     []string
	env      []string // on top of the test's environment, without its DNI_ variables
	dir      string   // working dir
	logs     string   // each run's stdout and stderr land here
	httpAddr string
	runs     int
	cmd      *exec.Cmd
	exited   chan struct{} // closed once the current run has been waited for
}

func newProc(t *testing.T, name, httpAddr string, args, env []string) *proc {
	p := &proc{t: t, name: name, args: args, env: env, dir: t.TempDir(), logs: t.TempDir(), httpAddr: httpAddr}
	t.Cleanup(func() {
		p.kill()
		p.checkRaces()
		if t.Failed() {
			p.dumpLogs()
		}
	})
	return p
}

// start runs the process again; it does not wait for it to be ready.
func (p *proc) start() {
	p.t.Helper()
	p.runs++
	stdout, err1 := os.Create(p.logFile("out"))
	stderr, err2 := os.Create(p.logFile("err"))
	if err1 != nil || err2 != nil {
		p.t.Fatal(err1, err2)
	}
	cmd := exec.Command(binary, p.args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.Env = p.dir, stdout, stderr, childEnv(p.env)
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
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

func (p *proc) logFile(stream string) string {
	return filepath.Join(p.logs, fmt.Sprintf("%s.%d.%s", p.name, p.runs, stream))
}

func (p *proc) running() bool {
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
func (p *proc) kill() {
	if p.running() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// terminate asks the process to stop, as an operator or a supervisor
// would, and returns its exit code.
func (p *proc) terminate() int {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(45 * time.Second):
		p.t.Fatalf("%s did not stop within 45s of SIGTERM", p.name)
		return -1
	}
}

// output returns what the current run printed on stdout so far.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.logFile("out"))
	return string(b)
}

// checkRaces fails the test if the race detector reported a race in any
// run of the process.
func (p *proc) checkRaces() {
	for run := 1; run <= p.runs; run++ {
		b, _ := os.ReadFile(filepath.Join(p.logs, fmt.Sprintf("%s.%d.err", p.name, run)))
		if i := bytes.Index(b, []byte("WARNING: DATA RACE")); i >= 0 {
			p.t.Errorf("%s run %d: the race detector found a race:\n%s", p.name, run, b[i:min(len(b), i+6000)])
		}
	}
}

func (p *proc) dumpLogs() {
	for run := 1; run <= p.runs; run++ {
		for _, stream := range []string{"out", "err"} {
			b, _ := os.ReadFile(filepath.Join(p.logs, fmt.Sprintf("%s.%d.%s", p.name, run, stream)))
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			lines = lines[max(0, len(lines)-40):]
			p.t.Logf("--- %s run %d %s:\n%s", p.name, run, stream, strings.Join(lines, "\n"))
		}
	}
}

// freeAddrs returns n addresses on 127.0.0.1 that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
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

func randomSecret(t *testing.T) string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("test-secret-%x", b)
}

// procCluster is a cluster of dninode processes.
type procCluster struct {
	t      *testing.T
	secret string
	client *httpapi.Client
	nodes  []*proc
}

// startProcCluster starts n nodes: the first bootstraps, the others join
// it; extra flags go to every node, and per-node ones to that node. It
// waits until every node is ready and a member.
func startProcCluster(t *testing.T, n int, extra func(i int) []string) *procCluster {
	t.Helper()
	c := &procCluster{t: t, secret: randomSecret(t)}
	c.client = httpapi.NewClient(c.secret)
	addrs := freeAddrs(t, 2*n)
	for i := range n {
		httpAddr, raftAddr := addrs[2*i], addrs[2*i+1]
		args := append(slices.Clone(fastFlags),
			"--node-id", fmt.Sprintf("n%d", i+1), "--http-addr", httpAddr, "--raft-addr", raftAddr,
			"--data-dir", filepath.Join(t.TempDir(), "data"), "--cluster-secret", c.secret)
		if i == 0 {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", c.nodes[0].httpAddr)
		}
		if extra != nil {
			args = append(args, extra(i)...)
		}
		c.nodes = append(c.nodes, newProc(t, fmt.Sprintf("n%d", i+1), httpAddr, args, nil))
	}
	c.nodes[0].start()
	c.waitReady(c.nodes[0])
	for _, p := range c.nodes[1:] {
		p.start()
	}
	for _, p := range c.nodes[1:] {
		c.waitReady(p)
	}
	c.waitMembers(n)
	return c
}

func (c *procCluster) running() []*proc {
	var out []*proc
	for _, p := range c.nodes {
		if p.running() {
			out = append(out, p)
		}
	}
	return out
}

func (c *procCluster) node(name string) *proc {
	for _, p := range c.nodes {
		if p.name == name {
			return p
		}
	}
	c.t.Fatalf("no node %s", name)
	return nil
}

var readyClient = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// waitReady waits until the node answers /readyz with 200.
func (c *procCluster) waitReady(p *proc) {
	c.t.Helper()
	waitReady(c.t, p)
}

func waitReady(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if !p.running() {
			t.Fatalf("%s exited (%v) before it was ready", p.name, p.cmd.ProcessState)
		}
		resp, err := readyClient.Get("http://" + p.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s was not ready within 20s", p.name)
}

// waitMembers waits until a node lists n members, each reporting ready.
func (c *procCluster) waitMembers(n int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		for _, p := range c.running() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ms, err := c.client.Members(ctx, p.httpAddr)
			cancel()
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
			if len(ms) == n && ready == n {
				return
			}
			last = fmt.Sprintf("%d members, %d ready", len(ms), ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("the cluster did not reach %d ready members: %s", n, last)
}

// leader returns the node that says it is the leader.
func (c *procCluster) leader() *proc {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range c.running() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := c.client.Status(ctx, p.httpAddr)
			cancel()
			if err == nil && st.State == "Leader" {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("no leader within 20s")
	return nil
}

// mustCommand commits a command through p, retrying for a while if the
// cluster cannot take it yet.
func (c *procCluster) mustCommand(p *proc, cmd fsm.Command) fsm.Receipt {
	c.t.Helper()
	r, err := retryCommand(c.client, []*proc{p}, cmd, time.Now().Add(15*time.Second))
	if err != nil {
		c.t.Fatalf("%T through %s: %v", cmd, p.name, err)
	}
	if r.Err != nil {
		c.t.Fatalf("%T through %s: %v", cmd, p.name, r.Err)
	}
	return r
}

// retryCommand sends cmd to the nodes in turn, each try bounded by a
// second, until one acknowledges it or the deadline passes. Every command
// is idempotent, so a try whose answer was lost does no harm.
func retryCommand(client *httpapi.Client, via []*proc, cmd fsm.Command, deadline time.Time) (fsm.Receipt, error) {
	var last error
	for i := 0; time.Now().Before(deadline); i++ {
		p := via[i%len(via)]
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := client.Command(ctx, p.httpAddr, cmd)
		cancel()
		if err == nil {
			return r, nil
		}
		last = err
		time.Sleep(10 * time.Millisecond)
	}
	return fsm.Receipt{}, fmt.Errorf("not acknowledged in time: %w", last)
}

// createPool creates a pool of size numbers through p and returns its key.
// The idle timeout is long so that no visit expires during a test.
func (c *procCluster) createPool(p *proc, id string, size int) string {
	c.t.Helper()
	return createPool(c.t, func(cmd fsm.Command) { c.mustCommand(p, cmd) }, id, size)
}

func createPool(t *testing.T, apply func(fsm.Command), id string, size int) string {
	t.Helper()
	st := allocator.Settings{
		Name: id, Size: size, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"},
		IdleTimeout: time.Hour,
	}.WithDefaults()
	key := "key-" + id
	apply(&fsm.CreatePool{ID: id, Key: key, Settings: st, At: time.Now()})
	for i := range size {
		apply(&fsm.AddNumber{Pool: id, E164: fmt.Sprintf("+1%s%04d", numberPrefix(id), i), At: time.Now()})
	}
	return key
}

// numberPrefix gives each pool its own six digits.
func numberPrefix(id string) string {
	h := 0
	for _, c := range id {
		h = (h*31 + int(c)) % 1000
	}
	return fmt.Sprintf("415%03d", h)
}

func newVisitID() allocator.VisitID {
	var id allocator.VisitID
	rand.Read(id[:])
	return id
}

// acked is every visit a node acknowledged, with the number it was given.
type acked struct {
	mu     sync.Mutex
	visits map[allocator.VisitID]string
}

func (a *acked) add(id allocator.VisitID, number string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.visits == nil {
		a.visits = map[allocator.VisitID]string{}
	}
	a.visits[id] = number
}

func (a *acked) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.visits)
}

// writeVisit makes one new visit through the given nodes and records it
// once acknowledged.
func (c *procCluster) writeVisit(a *acked, key string, via ...*proc) {
	c.t.Helper()
	id := newVisitID()
	r, err := retryCommand(c.client, via, &fsm.Assign{Visit: id, PoolKey: key, At: time.Now()}, time.Now().Add(15*time.Second))
	if err == nil && r.Err == nil && r.Number == "" {
		err = fmt.Errorf("no number: %+v", r)
	}
	if err != nil || r.Err != nil {
		c.t.Fatalf("visit through %v: %v %v", names(via), err, r.Err)
	}
	a.add(id, r.Number)
}

func names(ps []*proc) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.name)
	}
	return out
}

// sameState fetches a backup from each node until all of them are byte
// for byte the same, and returns the state they hold, checked whole.
func (c *procCluster) sameState(nodes []*proc) *allocator.State {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var why string
	for time.Now().Before(deadline) {
		var first []byte
		same := true
		for i, p := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			b, err := c.client.Backup(ctx, p.httpAddr)
			cancel()
			switch {
			case err != nil:
				same, why = false, fmt.Sprintf("backup from %s: %v", p.name, err)
			case i == 0:
				first = b
			case !bytes.Equal(first, b):
				same, why = false, fmt.Sprintf("backups of %s and %s differ (%d and %d bytes)", nodes[0].name, p.name, len(first), len(b))
			}
			if !same {
				break
			}
		}
		if same {
			return decodeState(c.t, first)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("the nodes' states never became the same: %s", why)
	return nil
}

func decodeState(t *testing.T, b []byte) *allocator.State {
	t.Helper()
	backup, err := fsm.ReadBackup(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return backup.State
}

// checkAcked checks that every acknowledged visit is in the state and
// holds the number it was given (the tests size their pools so that no
// visit is displaced).
func checkAcked(t *testing.T, s *allocator.State, a *acked) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	lost := 0
	for id, number := range a.visits {
		v := s.Visit(id)
		switch {
		case v == nil:
			lost++
			t.Errorf("acknowledged visit %s is lost", id)
		case v.Number() == nil || v.Number().E164 != number:
			t.Errorf("acknowledged visit %s holds %v, was given %s", id, v.Number(), number)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged visits lost", lost, len(a.visits))
	}
}

func TestThreeProcessesSurviveKillingTheLeader(t *testing.T) {
	c := startProcCluster(t, 3, nil)
	// Three pools of 50 hold every visit this test makes (130), so none is
	// displaced and each must still hold the number it was given.
	var keys []string
	for i, p := range c.nodes {
		keys = append(keys, c.createPool(p, fmt.Sprintf("failover-%d", i), 50))
	}
	var a acked
	visit := func(via ...*proc) {
		c.writeVisit(&a, keys[a.len()%len(keys)], via...)
	}
	for i := range 30 {
		visit(c.nodes[i%3])
	}

	const kills = 10
	var failovers []time.Duration
	for k := range kills {
		leader := c.leader()
		var survivors []*proc
		for _, p := range c.running() {
			if p != leader {
				survivors = append(survivors, p)
			}
		}
		killed := time.Now()
		leader.kill()
		// The first write after the kill, retried through the survivors
		// until one takes it, measures how long writes were refused.
		id := newVisitID()
		key := keys[a.len()%len(keys)]
		r, err := retryCommand(c.client, survivors, &fsm.Assign{Visit: id, PoolKey: key, At: time.Now()}, killed.Add(30*time.Second))
		if err != nil || r.Err != nil || r.Number == "" {
			t.Fatalf("kill %d: no write after killing %s: %v %+v", k+1, leader.name, err, r)
		}
		took := time.Since(killed)
		failovers = append(failovers, took)
		a.add(id, r.Number)
		t.Logf("kill %2d: leader %s killed; writes resumed after %v", k+1, leader.name, took.Round(time.Millisecond))
		for i := range 6 {
			visit(survivors[i%len(survivors)])
		}
		leader.start()
		c.waitReady(leader)
		for _, p := range c.nodes {
			visit(p)
		}
	}
	sorted := slices.Sorted(slices.Values(failovers))
	median := (sorted[kills/2-1] + sorted[kills/2]) / 2
	t.Logf("failover over %d kills: median %v, max %v, all %v", kills, median.Round(time.Millisecond),
		sorted[kills-1].Round(time.Millisecond), roundAll(failovers))
	for k, d := range failovers {
		if d > 15*time.Second {
			t.Errorf("kill %d: writes resumed only after %v", k+1, d)
		}
	}

	c.waitMembers(3)
	s := c.sameState(c.nodes)
	checkAcked(t, s, &a)
	t.Logf("%d acknowledged visits, all present on all three nodes", a.len())
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

func TestSigtermLosesNothing(t *testing.T) {
	c := startProcCluster(t, 3, nil)
	var keys []string
	for i, p := range c.nodes {
		keys = append(keys, c.createPool(p, fmt.Sprintf("graceful-%d", i), 50))
	}
	leader := c.leader()

	// One writer per node, each into its own pool, writing until it has
	// made 50 visits or is told to stop. Writes through the leader fail
	// once it stops; what any node acknowledged must survive.
	var a acked
	var wg sync.WaitGroup
	done := make(chan struct{})
	progress := make([]chan struct{}, len(c.nodes))
	for i, p := range c.nodes {
		progress[i] = make(chan struct{}, 100)
		wg.Go(func() {
			for range 50 {
				select {
				case <-done:
					return
				case <-time.After(15 * time.Millisecond):
				}
				id := newVisitID()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				r, err := c.client.Command(ctx, p.httpAddr, &fsm.Assign{Visit: id, PoolKey: keys[i], At: time.Now()})
				cancel()
				if err == nil && r.Err == nil && r.Number != "" {
					a.add(id, r.Number)
					progress[i] <- struct{}{}
				}
			}
		})
	}
	for i := range c.nodes {
		for range 10 {
			select {
			case <-progress[i]:
			case <-time.After(15 * time.Second):
				close(done)
				wg.Wait()
				t.Fatalf("writes through %s do not go through", c.nodes[i].name)
			}
		}
	}
	before := a.len()
	signalled := time.Now()
	if code := leader.terminate(); code != 0 {
		t.Errorf("the leader %s exited with %d after SIGTERM, want 0", leader.name, code)
	}
	stopped := time.Since(signalled)
	if out, _ := os.ReadFile(leader.logFile("err")); !strings.Contains(string(out), "msg=stopped") {
		t.Errorf("the leader's log does not say it stopped:\n%s", out)
	}
	atExit := a.len()
	time.Sleep(500 * time.Millisecond)
	close(done)
	wg.Wait()
	t.Logf("the leader %s stopped %v after SIGTERM; visits acknowledged: %d before, %d until it exited, %d in all",
		leader.name, stopped.Round(time.Millisecond), before, atExit, a.len())
	if a.len() == atExit {
		t.Error("the survivors took no write after the leader stopped")
	}

	survivors := c.running()
	s := c.sameState(survivors)
	checkAcked(t, s, &a)
}

func TestTheDefaultNodeStartsWithNoFlags(t *testing.T) {
	addrs := freeAddrs(t, 2)
	// The environment twins move the ports off the defaults, which another
	// program may hold; everything else is the default.
	p := newProc(t, "default", addrs[0], nil, []string{"DNI_HTTP_ADDR=" + addrs[0], "DNI_RAFT_ADDR=" + addrs[1]})
	p.start()
	waitReady(t, p)

	id, err := os.ReadFile(filepath.Join(p.dir, "dni-data", "node-id"))
	if err != nil {
		t.Fatalf("no node id in ./dni-data: %v", err)
	}
	wantReady := fmt.Sprintf("dni node %s ready: http://%s (raft %s, data ./dni-data)\n", strings.TrimSpace(string(id)), addrs[0], addrs[1])
	wantHealth := fmt.Sprintf("health: http://%s/healthz  readiness: http://%s/readyz\n", addrs[0], addrs[0])
	wantPages := fmt.Sprintf("admin pages: http://%s/admin/", addrs[0])
	if out := p.output(); !strings.Contains(out, wantReady) || !strings.Contains(out, wantHealth) || !strings.Contains(out, wantPages) {
		t.Fatalf("stdout:\n%s\nwant the lines\n%s%s%s", out, wantReady, wantHealth, wantPages)
	}
	resp, err := http.Get("http://" + addrs[0] + "/admin/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("the admin pages' login: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	secretPath := filepath.Join(p.dir, "dni-data", "cluster-secret")
	info, err := os.Stat(secretPath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("cluster secret file: %v %v", info, err)
	}
	secret, _ := os.ReadFile(secretPath)
	c := &procCluster{t: t, secret: strings.TrimSpace(string(secret)), nodes: []*proc{p}}
	c.client = httpapi.NewClient(c.secret)
	key := c.createPool(p, "default", 4)
	var a acked
	c.writeVisit(&a, key, p)

	// The operator commands find the secret in ./dni-data as well.
	out := runBinary(t, p.dir, []string{"DNI_ADDR=" + addrs[0]}, "nodes")
	if !strings.Contains(out, strings.TrimSpace(string(id))) || !strings.Contains(out, "leader") {
		t.Fatalf("dninode nodes:\n%s", out)
	}
	runBinary(t, p.dir, []string{"DNI_ADDR=" + addrs[0]}, "snapshot", "save", "backup.snap")
	b, err := os.ReadFile(filepath.Join(p.dir, "backup.snap"))
	if err != nil {
		t.Fatal(err)
	}
	checkAcked(t, decodeState(t, b), &a)

	// With no Twilio credentials it runs the sandbox: a new pool gets its
	// numbers from it, and a simulated call is forwarded and attributed.
	// The line comes after the admin token is settled, which may be after
	// the node is ready.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(p.output(), "sandbox: no Twilio credentials"); {
		if time.Now().After(deadline) {
			t.Fatalf("stdout does not announce the sandbox:\n%s", p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := allocator.Settings{Name: "bought", Size: 4, SwapTarget: "(415) 555-0100", ForwardTo: []string{"+14155550100"}, AreaCode: "628", Whisper: true}.WithDefaults()
	c.mustCommand(p, &fsm.CreatePool{ID: "bought", Key: "key-bought", Settings: st, At: time.Now()})
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := c.client.Backup(context.Background(), addrs[0])
		if err == nil && decodeState(t, b).Pool("bought").Status() == allocator.PoolActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox never filled the pool (last error %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	visit := postVisit(t, addrs[0], `{"pool":"key-bought","url":"https://shop.example/?utm_campaign=spring&gclid=G"}`)
	if !strings.HasPrefix(visit, "+1628") {
		t.Fatalf("the visit got %q, not a number from area code 628", visit)
	}
	out = runBinary(t, p.dir, []string{"DNI_ADDR=" + addrs[0]}, "call", visit)
	for _, want := range []string{"completed, answered by +14155550100", `the agent heard: "Call from Google Ads"`, `recorded: from Google Ads, match live, campaign "spring"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("dninode call %s:\n%s\nwant %q", visit, out, want)
		}
	}

	if code := p.terminate(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

// postVisit starts a visit as the snippet would and returns its number.
func postVisit(t *testing.T, addr, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/visits", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Number string `json:"number"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("visit: HTTP %d, %v", resp.StatusCode, err)
	}
	return v.Number
}

// runBinary runs an operator command and returns its stdout; it fails the
// test if the command fails.
func runBinary(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env = dir, childEnv(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("dninode %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// waitRoles runs dninode nodes against addr until the roles it prints
// (node id → role) satisfy ok, so that an election under way does not fail
// the test.
func waitRoles(t *testing.T, c *procCluster, addr string, ok func(map[string]string) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		out = runBinary(t, "", []string{"DNI_CLUSTER_SECRET=" + c.secret}, "nodes", "--addr", addr)
		got := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Scan() // the header
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 {
				got[f[0]] = f[1]
			}
		}
		if ok(got) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("dninode nodes --addr %s:\n%s", addr, out)
}

func TestTheOperatorCommandsPromoteTransferRemoveAndRestore(t *testing.T) {
	c := startProcCluster(t, 3, func(i int) []string {
		if i == 2 {
			return []string{"--nonvoter"}
		}
		return nil
	})
	n1, n2, n3 := c.node("n1"), c.node("n2"), c.node("n3")
	env := []string{"DNI_CLUSTER_SECRET=" + c.secret}
	waitRoles(t, c, n2.httpAddr, func(got map[string]string) bool {
		return len(got) == 3 && got["n3"] == "nonvoter" && got["n1"] != got["n2"]
	})

	// Through a follower: it answers that it is not the leader, and the
	// command asks the leader.
	n3Raft := n3.args[slices.Index(n3.args, "--raft-addr")+1]
	runBinary(t, "", env, "add-node", "--addr", n2.httpAddr, "--id", "n3", "--raft-addr", n3Raft, "--http-addr", n3.httpAddr)
	waitRoles(t, c, n1.httpAddr, func(got map[string]string) bool { return got["n3"] == "follower" })
	runBinary(t, "", env, "transfer-leadership", "--addr", n2.httpAddr, "n3")
	if leader := c.leader(); leader != n3 {
		t.Fatalf("leader is %s after transfer-leadership n3", leader.name)
	}
	runBinary(t, "", env, "remove-node", "--addr", n2.httpAddr, "n2")
	waitRoles(t, c, n1.httpAddr, func(got map[string]string) bool { return len(got) == 2 && got["n2"] == "" })
	n2.kill()

	key := c.createPool(n1, "ops", 4)
	var before, after acked
	c.writeVisit(&before, key, n1)
	file := filepath.Join(t.TempDir(), "state.snap")
	runBinary(t, "", env, "snapshot", "save", file, "--addr", n1.httpAddr)
	c.writeVisit(&after, key, n1)
	runBinary(t, "", env, "snapshot", "restore", file, "--addr", n1.httpAddr)
	s := c.sameState([]*proc{n1, n3})
	checkAcked(t, s, &before)
	for id := range after.visits {
		if s.Visit(id) != nil {
			t.Fatalf("visit %s, written after the snapshot, survived its restore", id)
		}
	}
}

func TestPeersJSONRecoversAClusterThatLostItsQuorum(t *testing.T) {
	c := startProcCluster(t, 3, nil)
	n1 := c.node("n1")
	key := c.createPool(n1, "recover", 10)
	var a acked
	for _, p := range c.nodes {
		c.writeVisit(&a, key, p)
	}
	for _, p := range c.nodes {
		p.kill()
	}
	// Only n1 comes back: alone it is no quorum of three, until peers.json
	// says the cluster is n1 alone.
	raftAddr := n1.args[slices.Index(n1.args, "--raft-addr")+1]
	dataDir := n1.args[slices.Index(n1.args, "--data-dir")+1]
	runBinary(t, "", nil, "peers-json", "--out", filepath.Join(dataDir, "raft", "peers.json"), "n1="+raftAddr)
	n1.start()
	c.waitReady(n1)
	checkAcked(t, c.sameState([]*proc{n1}), &a)
	c.writeVisit(&a, key, n1)
	if _, err := os.Stat(filepath.Join(dataDir, "raft", "peers.json.applied")); err != nil {
		t.Fatalf("peers.json was not applied: %v", err)
	}
}
