package deploy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/internal/testkit"
)

// This test proves deploy/compose.yaml and the image deploy/docker/build.sh
// makes, on the Docker engine of the machine it runs on: it builds the
// image, starts the three-node cluster, and puts it through what an
// operator's cluster lives through. It needs Docker and docker-compose, and
// fails without them; DNI_SKIP_DOCKER=1 skips it, and says so.
func TestTheComposeClusterSurvivesLeaderLossPartitionRollingRestartAndMembershipChanges(t *testing.T) {
	requireDocker(t)
	c := startCompose(t)
	keys := c.createPools(6, 50)
	var a testkit.Acked
	for i := range 12 {
		node := nodes[i%3]
		if _, err := c.visitVia(&a, keys[i%len(keys)], node); err != nil {
			t.Fatalf("visit through %s: %v", node, err)
		}
	}

	c.killTheLeader(&a, keys)
	c.partitionAFollower(&a, keys)
	c.rollingRestart(&a, keys)
	c.addAndRemoveAFourthNode(&a, keys)

	s := c.sameState(nodes)
	a.Check(t, s)
	t.Logf("figure: %d acknowledged visits, every one live with its number on all three nodes", a.Len())
}

// dockerPatience bounds the waits for containers: they start, build and
// elect more slowly than nodes in a test's process.
const dockerPatience = 90 * time.Second

var nodes = []string{"node1", "node2", "node3"}

func requireDocker(t *testing.T) {
	t.Helper()
	if os.Getenv("DNI_SKIP_DOCKER") == "1" {
		t.Skip("DNI_SKIP_DOCKER=1: deploy/compose.yaml and the image are NOT proven in this run")
	}
	for _, tool := range []string{"docker", "docker-compose"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: this test proves deploy/ on a Docker engine with docker-compose "+
				"(set DNI_SKIP_DOCKER=1 to skip it on a machine without them)", tool)
		}
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Fatalf("the Docker engine does not answer: %v\n%s(set DNI_SKIP_DOCKER=1 to skip this test)", err, out)
	}
}

// composeCluster is one run of deploy/compose.yaml under a project name of
// its own, with its own image tag and published ports.
type composeCluster struct {
	t               *testing.T
	project, image  string
	envFile         string // empty: the test's settings are all in env
	secret, token   string
	env             []string
	addr            map[string]string // service → the host address its HTTP API is published on
	http            *http.Client
	containerByName map[string]string
	// capacity is the numbers the pools hold, and unacked the visits that
	// failed but may hold one all the same: the test makes fewer visits
	// than that, so that no visit is displaced.
	capacity, unacked int
}

func startCompose(t *testing.T) *composeCluster {
	t.Helper()
	suffix := randomHex(4)
	c := &composeCluster{
		t: t, project: "dnitest" + suffix, image: "dni:test-" + suffix,
		secret: "secret-" + randomHex(16), token: "dni_test_" + randomHex(16),
		addr: map[string]string{}, containerByName: map[string]string{},
		// A new connection for every request, as from many browsers; and
		// no connection outlives the node it went to.
		http: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	for _, kv := range os.Environ() {
		// The developer's own settings must not leak into the file.
		if !strings.HasPrefix(kv, "DNI_") && !strings.HasPrefix(kv, "TWILIO_") {
			c.env = append(c.env, kv)
		}
	}
	for i, addr := range testkit.FreeAddrs(t, 4) {
		_, port, _ := net.SplitHostPort(addr)
		c.addr[fmt.Sprintf("node%d", i+1)] = addr
		c.env = append(c.env, fmt.Sprintf("DNI_PORT_%d=%s", i+1, port))
	}
	c.env = append(c.env, "DNI_IMAGE="+c.image, "DNI_CLUSTER_SECRET="+c.secret, "DNI_ADMIN_TOKEN="+c.token,
		"DNI_PUBLISH_ADDR=127.0.0.1",
		// Every visit of this test comes from one address.
		"DNI_VISITS_PER_MINUTE=-1")

	c.envFile = filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(c.envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.cleanup)
	start := time.Now()
	build := exec.Command("bash", "docker/build.sh")
	build.Env = append(slices.Clone(c.env), "IMAGE="+c.image, "VERSION=test-"+suffix)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/docker/build.sh: %v\n%s", err, out)
	}
	t.Logf("built %s in %v", c.image, time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	c.compose("up", "-d")
	for _, n := range nodes {
		c.waitReady(n)
	}
	c.waitMembers(3, nodes)
	t.Logf("figure: the compose cluster formed (node1 bootstrapped, node2 and node3 joined) in %v", time.Since(start).Round(100*time.Millisecond))
	return c
}

// cleanup removes everything the test made: containers, the network,
// volumes and the image, whether the test passed or not.
func (c *composeCluster) cleanup() {
	if c.t.Failed() {
		out, _ := c.run("docker-compose", c.composeArgs("--profile", "extra", "logs", "--no-color", "--tail", "60")...)
		c.t.Logf("logs of %s:\n%s", c.project, out)
	}
	if out, err := c.run("docker-compose", c.composeArgs("--profile", "extra", "down", "--volumes", "--remove-orphans", "--timeout", "5")...); err != nil {
		c.t.Errorf("docker-compose down: %v\n%s", err, out)
	}
	if out, err := c.run("docker", "image", "rm", "--force", c.image); err != nil && !strings.Contains(out, "No such image") {
		c.t.Errorf("docker image rm %s: %v\n%s", c.image, err, out)
	}
}

func (c *composeCluster) composeArgs(args ...string) []string {
	// An operator's deploy/.env (real Twilio credentials, say) must not
	// reach the test's cluster.
	return append([]string{"--file", "compose.yaml", "--project-name", c.project, "--env-file", c.envFile}, args...)
}

// run runs a command with the test's environment and returns its output.
func (c *composeCluster) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *composeCluster) compose(args ...string) string {
	c.t.Helper()
	out, err := c.run("docker-compose", c.composeArgs(args...)...)
	if err != nil {
		c.t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *composeCluster) docker(args ...string) string {
	c.t.Helper()
	out, err := c.run("docker", args...)
	if err != nil {
		c.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// container is the id of a service's container.
func (c *composeCluster) container(service string) string {
	c.t.Helper()
	if id, ok := c.containerByName[service]; ok {
		return id
	}
	id := strings.TrimSpace(c.compose("--profile", "extra", "ps", "-q", service))
	if id == "" {
		c.t.Fatalf("no container for %s", service)
	}
	c.containerByName[service] = id
	return id
}

// waitReady waits until a node answers /readyz with 200 on its published
// port.
func (c *composeCluster) waitReady(service string) {
	c.t.Helper()
	testkit.EventuallyWithin(c.t, dockerPatience, service+" to be ready", func() error {
		resp, err := c.http.Get("http://" + c.addr[service] + "/readyz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %s", resp.Status, body)
		}
		return nil
	})
}

// member is what GET /v1/cluster says of a node.
type member struct {
	ID     string        `json:"id"`
	Leader bool          `json:"leader"`
	Status *memberStatus `json:"status"`
	Error  string        `json:"error"`
}

type memberStatus struct {
	Ready        bool   `json:"ready"`
	AppliedIndex uint64 `json:"applied_index"`
}

// ownStatus is how the node at service sees itself, through the admin API.
func (c *composeCluster) ownStatus(service string) (memberStatus, error) {
	ms, err := c.members(service)
	if err != nil {
		return memberStatus{}, err
	}
	for _, m := range ms {
		if m.ID == service && m.Status != nil {
			return *m.Status, nil
		}
	}
	return memberStatus{}, fmt.Errorf("%s does not list itself: %+v", service, ms)
}

// backup downloads a backup of the state through the node at service's
// admin API.
func (c *composeCluster) backup(service string) ([]byte, error) {
	req, err := http.NewRequest("GET", "http://"+c.addr[service]+"/v1/cluster/snapshot", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("backup from %s: %s %s", service, resp.Status, b)
	}
	return b, err
}

// members asks the node at service for the cluster's nodes, through the
// admin API.
func (c *composeCluster) members(service string) ([]member, error) {
	var ms []member
	err := c.admin("GET", service, "/v1/cluster", nil, &ms)
	return ms, err
}

// waitMembers waits until one of the given nodes lists n members, every one
// ready, and returns them.
func (c *composeCluster) waitMembers(n int, via []string) []member {
	c.t.Helper()
	var ms []member
	testkit.EventuallyWithin(c.t, dockerPatience, fmt.Sprintf("%d ready members", n), func() error {
		var last error
		for _, s := range via {
			var err error
			if ms, err = c.members(s); err != nil {
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
			last = fmt.Errorf("%s lists %d members, %d ready: %+v", s, len(ms), ready, ms)
		}
		return last
	})
	return ms
}

func (c *composeCluster) leader(via []string) string {
	c.t.Helper()
	for _, m := range c.waitMembers(3, via) {
		if m.Leader {
			return m.ID
		}
	}
	c.t.Fatal("no leader")
	return ""
}

// admin calls the admin API of the node at service.
func (c *composeCluster) admin(method, service, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+c.addr[service]+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s on %s: %s %s", method, path, service, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type pool struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Status string `json:"status"`
	Stats  struct {
		Numbers int `json:"numbers"`
		Free    int `json:"free"`
	} `json:"stats"`
}

// createPools creates n pools of size numbers, each in its own area code,
// with an idle timeout that outlasts the test, and waits until the leader
// has bought every number from the sandbox. It returns the pools' keys.
func (c *composeCluster) createPools(n, size int) []string {
	c.t.Helper()
	start := time.Now()
	areaCodes := []string{"415", "212", "312", "646", "718", "303"}
	var created []pool
	for i := range n {
		var p pool
		err := c.admin("POST", nodes[i%3], "/v1/pools", map[string]any{
			"name": fmt.Sprintf("compose %d", i), "size": size, "area_code": areaCodes[i],
			"swap_target": "(415) 555-0100", "forward_to": []string{"+14155550100"}, "idle_timeout_s": 3600,
		}, &p)
		if err != nil {
			c.t.Fatal(err)
		}
		created = append(created, p)
	}
	var keys []string
	for i, p := range created {
		testkit.EventuallyWithin(c.t, dockerPatience, fmt.Sprintf("pool %s to get its %d numbers", p.ID, size), func() error {
			var got pool
			if err := c.admin("GET", nodes[i%3], "/v1/pools/"+p.ID, nil, &got); err != nil {
				return err
			}
			if got.Status != "active" || got.Stats.Numbers != size {
				return fmt.Errorf("%+v", got)
			}
			return nil
		})
		keys = append(keys, p.Key)
	}
	c.capacity = n * size
	c.t.Logf("%d pools of %d numbers bought from the sandbox in %v", n, size, time.Since(start).Round(100*time.Millisecond))
	return keys
}

const browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

// visitAnswer is what POST /v1/visits answers.
type visitAnswer struct {
	Visit  string `json:"visit"`
	Number string `json:"number"`
}

// errConnection marks a request that never reached a node: the client may
// send it to another one.
var errConnection = errors.New("connection failed")

// visitor makes one visitor request to the node at addr: a new visit in
// the pool key, or, with visit set, a heartbeat. A request that gets no
// answer wraps errConnection; any answer but the expected 201 or 200 is
// an error.
func (c *composeCluster) visitor(addr, key, visit string) (visitAnswer, error) {
	path, body, want := "/v1/visits", fmt.Sprintf(`{"pool":%q,"url":"https://shop.example/?gclid=compose&utm_source=google"}`, key), http.StatusCreated
	if visit != "" {
		path, body, want = "/v1/visits/"+visit+"/heartbeat", "", http.StatusOK
	}
	req, err := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return visitAnswer{}, err
	}
	req.Header.Set("User-Agent", browser)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		var timeout interface{ Timeout() bool }
		if errors.As(err, &timeout) && timeout.Timeout() {
			return visitAnswer{}, fmt.Errorf("%s: no answer: %w", addr, err)
		}
		return visitAnswer{}, fmt.Errorf("%w: %s: %v", errConnection, addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return visitAnswer{}, fmt.Errorf("%s %s: %s %s", addr, path, resp.Status, b)
	}
	var v visitAnswer
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%s %s: %v: %s", addr, path, err, b)
	}
	if v.Number == "" {
		return v, fmt.Errorf("%s %s: no number: %s", addr, path, b)
	}
	return v, nil
}

// ack records a visit a node acknowledged.
func (c *composeCluster) ack(a *testkit.Acked, v visitAnswer) {
	id, err := allocator.ParseVisitID(v.Visit)
	if err != nil {
		c.t.Errorf("a visit id that does not parse: %q: %v", v.Visit, err)
		return
	}
	a.Add(id, v.Number)
}

// visitVia makes a new visit through the first of the given nodes that
// takes the connection, and records it once acknowledged.
func (c *composeCluster) visitVia(a *testkit.Acked, key string, via ...string) (visitAnswer, error) {
	var err error
	for _, s := range via {
		var v visitAnswer
		if v, err = c.visitor(c.addr[s], key, ""); err == nil {
			c.ack(a, v)
			return v, nil
		}
		if !errors.Is(err, errConnection) {
			return v, err
		}
	}
	return visitAnswer{}, fmt.Errorf("no node took the connection: %w", err)
}

// killTheLeader kills the leader's container, as a crash would, and
// measures how long it takes until a visit sent to a survivor is
// acknowledged again. A visit starts every 50 ms from the kill on, each
// waiting for its answer on its own, as visitors' browsers would.
func (c *composeCluster) killTheLeader(a *testkit.Acked, keys []string) {
	c.t.Helper()
	leader := c.leader(nodes)
	survivors := slices.DeleteFunc(slices.Clone(nodes), func(s string) bool { return s == leader })
	c.docker("kill", c.container(leader))
	killed := time.Now()

	type result struct {
		done time.Time
		took time.Duration
		err  error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	resumed := func() (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			if r.err == nil {
				return r.done, true
			}
		}
		return time.Time{}, false
	}
	for i := 0; time.Since(killed) < 20*time.Second; i++ {
		if at, ok := resumed(); ok && time.Since(at) > 500*time.Millisecond {
			break
		}
		if i >= 100 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			_, err := c.visitVia(a, keys[i%len(keys)], survivors[i%2], survivors[(i+1)%2])
			mu.Lock()
			results = append(results, result{done: time.Now(), took: time.Since(sent), err: err})
			mu.Unlock()
		}()
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	var failed int
	var slowest time.Duration
	var first time.Time
	for _, r := range results {
		slowest = max(slowest, r.took)
		if r.err != nil {
			failed++
			c.unacked++
			c.t.Logf("a visit during the failover failed: %v", r.err)
		} else if first.IsZero() || r.done.Before(first) {
			first = r.done
		}
	}
	sent := len(results)
	if first.IsZero() {
		c.t.Fatalf("no visit was acknowledged within 20s of killing the leader %s", leader)
	}
	failover := first.Sub(killed)
	c.t.Logf("figure: leader %s killed (docker kill); writes resumed on %v after %v (target ≤ 3s); "+
		"%d visits sent meanwhile, %d failed, the slowest answered after %v",
		leader, survivors, failover.Round(10*time.Millisecond), sent, failed, slowest.Round(10*time.Millisecond))
	if failover > 10*time.Second {
		c.t.Errorf("writes resumed only %v after the leader was killed", failover)
	}

	start := time.Now()
	c.docker("start", c.container(leader))
	c.waitReady(leader)
	c.waitMembers(3, nodes)
	c.t.Logf("figure: the killed node %s restarted from its volume and was ready again after %v", leader, time.Since(start).Round(10*time.Millisecond))
}

// partitionAFollower cuts a follower off the network while the others take
// writes, reconnects it, and measures how long it takes to catch up.
func (c *composeCluster) partitionAFollower(a *testkit.Acked, keys []string) {
	c.t.Helper()
	leader := c.leader(nodes)
	var follower string
	for _, s := range nodes {
		if s != leader {
			follower = s
			break
		}
	}
	others := slices.DeleteFunc(slices.Clone(nodes), func(s string) bool { return s == follower })
	network := c.project + "_default"
	c.docker("network", "disconnect", network, c.container(follower))
	for i := range 20 {
		if _, err := c.visitVia(a, keys[i%len(keys)], others[i%2], others[(i+1)%2]); err != nil {
			c.t.Fatalf("a visit while %s was cut off: %v", follower, err)
		}
	}
	var target uint64
	for _, m := range c.waitMembersExcept(follower, others) {
		if m.Leader {
			target = m.Status.AppliedIndex
		}
	}
	c.docker("network", "connect", "--alias", follower, network, c.container(follower))
	reconnected := time.Now()
	deadline := reconnected.Add(60 * time.Second)
	for {
		st, err := c.ownStatus(follower)
		if err == nil && st.AppliedIndex >= target && st.Ready {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s did not catch up with log index %d within 60s of reconnecting: %+v %v", follower, target, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Logf("figure: follower %s cut off (docker network disconnect) while 20 visits were written; "+
		"after reconnecting it caught up to log index %d in %v", follower, target, time.Since(reconnected).Round(10*time.Millisecond))
	c.waitMembers(3, nodes)
}

// waitMembersExcept waits until the nodes in via agree that every member
// but the one cut off is ready, and returns the members.
func (c *composeCluster) waitMembersExcept(cut string, via []string) []member {
	c.t.Helper()
	var ms []member
	testkit.EventuallyWithin(c.t, dockerPatience, "the nodes other than "+cut+" to be ready", func() error {
		var err error
		if ms, err = c.members(via[0]); err != nil {
			return err
		}
		ok := 0
		for _, m := range ms {
			if m.ID != cut && m.Status != nil && m.Status.Ready {
				ok++
			}
		}
		if ok != len(ms)-1 {
			return fmt.Errorf("%+v", ms)
		}
		return nil
	})
	return ms
}

// traffic is a visitor load: one request at a time, round-robin over the
// nodes, a new visit every fourth request and heartbeats of acknowledged
// visits between them. A request whose connection fails goes to the next
// node; a failed request is one that got any other answer than success,
// or that no node took.
type traffic struct {
	c      *composeCluster
	a      *testkit.Acked
	keys   []string
	budget int // most new visits, so that no pool runs out of numbers

	mu       sync.Mutex
	sent     int
	retried  int
	failures []string
}

func (tr *traffic) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		visit := ""
		if i%4 != 0 || tr.a.Len() >= tr.budget {
			ids := tr.a.IDs()
			visit = ids[mrand.IntN(len(ids))].String()
		}
		var err error
		for try := range nodes {
			addr := tr.c.addr[nodes[(i+try)%len(nodes)]]
			var v visitAnswer
			if v, err = tr.c.visitor(addr, tr.keys[i%len(tr.keys)], visit); err == nil && visit == "" {
				tr.c.ack(tr.a, v)
			}
			if !errors.Is(err, errConnection) {
				break
			}
			tr.mu.Lock()
			tr.retried++
			tr.mu.Unlock()
		}
		tr.mu.Lock()
		tr.sent++
		if err != nil {
			tr.failures = append(tr.failures, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
		}
		tr.mu.Unlock()
		time.Sleep(25 * time.Millisecond)
	}
}

// rollingRestart restarts the nodes one by one (docker restart: SIGTERM,
// then start), each once the cluster has all three again, while visitors
// keep coming; not one of their requests may fail.
func (c *composeCluster) rollingRestart(a *testkit.Acked, keys []string) {
	c.t.Helper()
	tr := &traffic{c: c, a: a, keys: keys, budget: c.capacity - c.unacked - 30}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	time.Sleep(time.Second)
	var took []string
	start := time.Now()
	for _, s := range nodes {
		began := time.Now()
		c.docker("restart", "--time", "45", c.container(s))
		stopped := time.Since(began)
		c.waitReady(s)
		c.waitMembers(3, nodes)
		took = append(took, fmt.Sprintf("%s %v (stop and start %v)", s, time.Since(began).Round(10*time.Millisecond), stopped.Round(10*time.Millisecond)))
	}
	total := time.Since(start)
	time.Sleep(time.Second)
	stop()
	<-done
	c.t.Logf("figure: rolling restart of all three nodes in %v, each until ready with three ready members: %s",
		total.Round(10*time.Millisecond), strings.Join(took, "; "))
	c.t.Logf("figure: visitor requests during the rolling restart: %d sent, %d failed, %d connections refused and sent to another node",
		tr.sent, len(tr.failures), tr.retried)
	if len(tr.failures) > 0 {
		c.t.Errorf("%d visitor requests failed during the rolling restart:\n%s", len(tr.failures), strings.Join(tr.failures, "\n"))
	}
}

// addAndRemoveAFourthNode starts node4, which joins as every node would,
// serves visits through it, and takes it out with dninode remove-node run
// inside another node's container (the image has no shell, but has the
// binary).
func (c *composeCluster) addAndRemoveAFourthNode(a *testkit.Acked, keys []string) {
	c.t.Helper()
	start := time.Now()
	c.compose("--profile", "extra", "up", "-d", "--no-recreate", "node4")
	c.waitReady("node4")
	ms := c.waitMembers(4, nodes)
	c.t.Logf("figure: node4 joined and was ready in %v", time.Since(start).Round(10*time.Millisecond))
	for i := range 5 {
		if _, err := c.visitVia(a, keys[i%len(keys)], "node4"); err != nil {
			c.t.Fatalf("visit through node4: %v", err)
		}
	}
	for _, m := range ms {
		if m.ID == "node4" && m.Leader {
			c.t.Log(c.docker("exec", c.container("node1"), "/dninode", "transfer-leadership"))
		}
	}
	c.t.Log(c.docker("exec", c.container("node1"), "/dninode", "remove-node", "node4"))
	c.compose("--profile", "extra", "rm", "--stop", "--force", "node4")
	c.waitMembers(3, nodes)
	c.t.Logf("dninode nodes, run in node2's container:\n%s", c.docker("exec", c.container("node2"), "/dninode", "nodes"))
}

// sameState fetches a backup from each node until all of them are byte
// for byte the same, and returns the state they hold, checked whole.
func (c *composeCluster) sameState(services []string) *allocator.State {
	c.t.Helper()
	var same []byte
	testkit.EventuallyWithin(c.t, dockerPatience, "the nodes' states to be the same", func() error {
		var first []byte
		for i, s := range services {
			b, err := c.backup(s)
			switch {
			case err != nil:
				return fmt.Errorf("backup from %s: %v", s, err)
			case i == 0:
				first = b
			case !bytes.Equal(first, b):
				return fmt.Errorf("backups of %s and %s differ (%d and %d bytes)", services[0], s, len(first), len(b))
			}
		}
		same = first
		return nil
	})
	return testkit.ReadBackup(c.t, same)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
