package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
)

// The tests in this file run the real binary as separate processes on real
// ports, and kill them as an operator or a crash would.

func TestMain(m *testing.M) { testkit.Main(m) }

func TestThreeProcessesSurviveKillingTheLeader(t *testing.T) {
	c := testkit.StartProcessCluster(t, 3, nil)
	// Three pools of 50 hold every visit this test makes (130), so none is
	// displaced and each must still hold the number it was given.
	var keys []string
	for i, p := range c.Nodes {
		keys = append(keys, c.CreatePool(p, fmt.Sprintf("failover-%d", i), 50))
	}
	var a testkit.Acked
	visit := func(via ...*testkit.Process) {
		c.WriteVisit(&a, keys[a.Len()%len(keys)], via...)
	}
	for i := range 30 {
		visit(c.Nodes[i%3])
	}

	const kills = 10
	var failovers []time.Duration
	for k := range kills {
		leader := c.Leader()
		var survivors []*testkit.Process
		for _, p := range c.Running() {
			if p != leader {
				survivors = append(survivors, p)
			}
		}
		killed := time.Now()
		leader.Kill()
		// The first write after the kill, retried through the survivors
		// until one takes it, measures how long writes were refused.
		id := testkit.NewVisitID()
		key := keys[a.Len()%len(keys)]
		r, err := c.RetryCommand(survivors, &fsm.Assign{Visit: id, PoolKey: key, At: time.Now()}, killed.Add(30*time.Second))
		if err != nil || r.Err != nil || r.Number == "" {
			t.Fatalf("kill %d: no write after killing %s: %v %+v", k+1, leader.Name, err, r)
		}
		took := time.Since(killed)
		failovers = append(failovers, took)
		a.Add(id, r.Number)
		t.Logf("kill %2d: leader %s killed; writes resumed after %v", k+1, leader.Name, took.Round(time.Millisecond))
		for i := range 6 {
			visit(survivors[i%len(survivors)])
		}
		leader.Start()
		leader.WaitReady()
		for _, p := range c.Nodes {
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

	c.WaitMembers(3)
	s := c.SameState(c.Nodes)
	a.Check(t, s)
	t.Logf("%d acknowledged visits, all present on all three nodes", a.Len())
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

func TestSigtermLosesNothing(t *testing.T) {
	c := testkit.StartProcessCluster(t, 3, nil)
	var keys []string
	for i, p := range c.Nodes {
		keys = append(keys, c.CreatePool(p, fmt.Sprintf("graceful-%d", i), 50))
	}
	leader := c.Leader()

	// One writer per node, each into its own pool, writing until it has
	// made 50 visits or is told to stop. Writes through the leader fail
	// once it stops; what any node acknowledged must survive.
	var a testkit.Acked
	var wg sync.WaitGroup
	ctx, stop := context.WithCancel(context.Background())
	defer func() { stop(); wg.Wait() }()
	written := make([]atomic.Int32, len(c.Nodes))
	for i, p := range c.Nodes {
		wg.Go(func() {
			for range 50 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(15 * time.Millisecond):
				}
				id := testkit.NewVisitID()
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				r, err := c.Client.Command(rctx, p.ClusterAddr, &fsm.Assign{Visit: id, PoolKey: keys[i], At: time.Now()})
				cancel()
				if err == nil && r.Err == nil && r.Number != "" {
					a.Add(id, r.Number)
					written[i].Add(1)
				}
			}
		})
	}
	testkit.Eventually(t, "10 writes through each node", func() error {
		for i, p := range c.Nodes {
			if n := written[i].Load(); n < 10 {
				return fmt.Errorf("%d writes through %s", n, p.Name)
			}
		}
		return nil
	})
	before := a.Len()
	signalled := time.Now()
	if code := leader.Terminate(); code != 0 {
		t.Errorf("the leader %s exited with %d after SIGTERM, want 0", leader.Name, code)
	}
	stopped := time.Since(signalled)
	if out := leader.Stderr(); !strings.Contains(out, "msg=stopped") {
		t.Errorf("the leader's log does not say it stopped:\n%s", out)
	}
	atExit := a.Len()
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	t.Logf("the leader %s stopped %v after SIGTERM; visits acknowledged: %d before, %d until it exited, %d in all",
		leader.Name, stopped.Round(time.Millisecond), before, atExit, a.Len())
	if a.Len() == atExit {
		t.Error("the survivors took no write after the leader stopped")
	}

	survivors := c.Running()
	s := c.SameState(survivors)
	a.Check(t, s)
}

func TestTheDefaultNodeStartsWithNoFlags(t *testing.T) {
	addrs := testkit.FreeAddrs(t, 2)
	// The environment twins move the ports off the defaults, which another
	// program may hold; everything else is the default.
	p := testkit.NewProcess(t, "default", addrs[0], nil, []string{"DNI_HTTP_ADDR=" + addrs[0], "DNI_RAFT_ADDR=" + addrs[1]})
	p.Start()
	p.WaitReady()

	id, err := os.ReadFile(filepath.Join(p.Dir, "dni-data", "node-id"))
	if err != nil {
		t.Fatalf("no node id in ./dni-data: %v", err)
	}
	wantReady := fmt.Sprintf("dni node %s ready: http://%s (cluster port %s, mutual TLS with certificates derived from the cluster secret; data ./dni-data)\n",
		strings.TrimSpace(string(id)), addrs[0], addrs[1])
	wantHealth := fmt.Sprintf("health: http://%s/healthz  readiness: http://%s/readyz\n", addrs[0], addrs[0])
	wantPages := fmt.Sprintf("admin pages: http://%s/admin/", addrs[0])
	if out := p.Stdout(); !strings.Contains(out, wantReady) || !strings.Contains(out, wantHealth) || !strings.Contains(out, wantPages) {
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
	secretPath := filepath.Join(p.Dir, "dni-data", "cluster-secret")
	info, err := os.Stat(secretPath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("cluster secret file: %v %v", info, err)
	}
	secret, _ := os.ReadFile(secretPath)
	c := &testkit.ProcessCluster{T: t, Secret: strings.TrimSpace(string(secret)), Nodes: []*testkit.Process{p}}
	c.Client = testkit.OperatorClient(t, c.Secret)
	key := c.CreatePool(p, "default", 4)
	var a testkit.Acked
	c.WriteVisit(&a, key, p)

	// The operator commands find the secret in ./dni-data as well.
	out := runBinary(t, p.Dir, []string{"DNI_ADDR=" + addrs[1]}, "nodes")
	if !strings.Contains(out, strings.TrimSpace(string(id))) || !strings.Contains(out, "leader") {
		t.Fatalf("dninode nodes:\n%s", out)
	}
	runBinary(t, p.Dir, []string{"DNI_ADDR=" + addrs[1]}, "snapshot", "save", "backup.snap")
	b, err := os.ReadFile(filepath.Join(p.Dir, "backup.snap"))
	if err != nil {
		t.Fatal(err)
	}
	a.Check(t, testkit.ReadBackup(t, b))

	// With no Twilio credentials it runs the sandbox: a new pool gets its
	// numbers from it, and a simulated call is forwarded and attributed.
	// The line comes after the admin token is settled, which may be after
	// the node is ready.
	testkit.Eventually(t, "stdout to announce the sandbox", func() error {
		if out := p.Stdout(); !strings.Contains(out, "sandbox: no Twilio credentials") {
			return fmt.Errorf("stdout:\n%s", out)
		}
		return nil
	})
	st := allocator.Settings{Name: "bought", Size: 4, SwapTarget: testkit.BusinessNumber, ForwardTo: []string{"+14155550100"}, AreaCode: "628", Whisper: true}.WithDefaults()
	c.Command(p, &fsm.CreatePool{ID: "bought", Key: "key-bought", Settings: st, At: time.Now()})
	testkit.Eventually(t, "the sandbox to fill the pool", func() error {
		b, err := c.Client.Backup(context.Background(), addrs[1])
		if err != nil {
			return err
		}
		if status := testkit.ReadBackup(t, b).Pool("bought").Status(); status != allocator.PoolActive {
			return fmt.Errorf("the pool is %s", status)
		}
		return nil
	})
	visit := postVisit(t, addrs[0], `{"pool":"key-bought","url":"https://shop.example/?utm_campaign=spring&gclid=G"}`)
	if !strings.HasPrefix(visit, "+1628") {
		t.Fatalf("the visit got %q, not a number from area code 628", visit)
	}
	out = runBinary(t, p.Dir, []string{"DNI_ADDR=" + addrs[1]}, "call", visit)
	for _, want := range []string{"completed, answered by +14155550100", `the agent heard: "Call from Google Ads"`, `recorded: from Google Ads, match live, campaign "spring"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("dninode call %s:\n%s\nwant %q", visit, out, want)
		}
	}

	if code := p.Terminate(); code != 0 {
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
	cmd := testkit.Command(t, dir, env, args...)
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
func waitRoles(t *testing.T, c *testkit.ProcessCluster, addr string, ok func(map[string]string) bool) {
	t.Helper()
	testkit.Eventually(t, "the roles dninode nodes --addr "+addr+" prints", func() error {
		out := runBinary(t, "", []string{"DNI_CLUSTER_SECRET=" + c.Secret}, "nodes", "--addr", addr)
		got := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Scan() // the header
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 {
				got[f[0]] = f[1]
			}
		}
		if !ok(got) {
			return fmt.Errorf("dninode nodes --addr %s:\n%s", addr, out)
		}
		return nil
	})
}

func TestTheOperatorCommandsPromoteTransferRemoveAndRestore(t *testing.T) {
	c := testkit.StartProcessCluster(t, 3, func(i int) []string {
		if i == 2 {
			return []string{"--nonvoter"}
		}
		return nil
	})
	n1, n2, n3 := c.Node("n1"), c.Node("n2"), c.Node("n3")
	env := []string{"DNI_CLUSTER_SECRET=" + c.Secret}
	waitRoles(t, c, n2.ClusterAddr, func(got map[string]string) bool {
		return len(got) == 3 && got["n3"] == "nonvoter" && got["n1"] != got["n2"]
	})

	// Through a follower: it answers that it is not the leader, and the
	// command asks the leader.
	runBinary(t, "", env, "add-node", "--addr", n2.ClusterAddr, "--id", "n3", "--raft-addr", n3.Arg("--raft-addr"), "--http-addr", n3.HTTPAddr)
	waitRoles(t, c, n1.ClusterAddr, func(got map[string]string) bool { return got["n3"] == "follower" })
	runBinary(t, "", env, "transfer-leadership", "--addr", n2.ClusterAddr, "n3")
	if leader := c.Leader(); leader != n3 {
		t.Fatalf("leader is %s after transfer-leadership n3", leader.Name)
	}
	runBinary(t, "", env, "remove-node", "--addr", n2.ClusterAddr, "n2")
	waitRoles(t, c, n1.ClusterAddr, func(got map[string]string) bool { return len(got) == 2 && got["n2"] == "" })
	n2.Kill()

	key := c.CreatePool(n1, "ops", 4)
	var before, after testkit.Acked
	c.WriteVisit(&before, key, n1)
	file := filepath.Join(t.TempDir(), "state.snap")
	runBinary(t, "", env, "snapshot", "save", file, "--addr", n1.ClusterAddr)
	c.WriteVisit(&after, key, n1)
	runBinary(t, "", env, "snapshot", "restore", file, "--addr", n1.ClusterAddr)
	s := c.SameState([]*testkit.Process{n1, n3})
	before.Check(t, s)
	for _, id := range after.IDs() {
		if s.Visit(id) != nil {
			t.Fatalf("visit %s, written after the snapshot, survived its restore", id)
		}
	}
}

func TestPeersJSONRecoversAClusterThatLostItsQuorum(t *testing.T) {
	c := testkit.StartProcessCluster(t, 3, nil)
	n1 := c.Node("n1")
	key := c.CreatePool(n1, "recover", 10)
	var a testkit.Acked
	for _, p := range c.Nodes {
		c.WriteVisit(&a, key, p)
	}
	for _, p := range c.Nodes {
		p.Kill()
	}
	// Only n1 comes back: alone it is no quorum of three, until peers.json
	// says the cluster is n1 alone.
	dataDir := n1.Arg("--data-dir")
	runBinary(t, "", nil, "peers-json", "--out", filepath.Join(dataDir, "raft", "peers.json"), "n1="+n1.Arg("--raft-addr"))
	n1.Start()
	n1.WaitReady()
	a.Check(t, c.SameState([]*testkit.Process{n1}))
	c.WriteVisit(&a, key, n1)
	if _, err := os.Stat(filepath.Join(dataDir, "raft", "peers.json.applied")); err != nil {
		t.Fatalf("peers.json was not applied: %v", err)
	}
}
