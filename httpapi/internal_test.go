package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
)

const secret = "s3cret"

// startNode runs a single-node cluster with its HTTP API on a real socket.
func startNode(t testing.TB) (addr string, node *cluster.Node) {
	t.Helper()
	return startNodeWith(t, httpapi.Options{})
}

// startNodeWith is startNode serving with opt; the cluster secret and a
// metrics registry of the server's own are filled in.
func startNodeWith(t testing.TB, opt httpapi.Options) (addr string, node *cluster.Node) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	node, err = cluster.Start(context.Background(), cluster.Config{
		NodeID: "solo", DataDir: filepath.Join(t.TempDir(), "data"), RaftAddr: "127.0.0.1:0",
		HTTPAdvertise: ln.Addr().String(), HeartbeatTimeout: 200 * time.Millisecond,
		ElectionTimeout: 200 * time.Millisecond, LeaderLease: 100 * time.Millisecond,
		ExpireEvery: time.Hour, // no background writes: tests read the log index
	}, httpapi.NewClient(secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	opt.Secret, opt.Registry, opt.Gatherer = secret, reg, reg
	srv := httpapi.New(node, opt)
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		node.Shutdown(context.Background())
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, recorded := node.FSM().Node("solo"); !node.Ready() || !node.IsLeader() || !recorded; _, recorded = node.FSM().Node("solo") {
		if time.Now().After(deadline) {
			t.Fatal("node never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ln.Addr().String(), node
}

func get(t testing.TB, url string, header ...string) (int, string) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode(), string(resp.Body())
}

func TestHealthReadinessAndMetricsAnswerWithoutTheSecret(t *testing.T) {
	addr, _ := startNode(t)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/metrics": "go_goroutines"} {
		status, body := get(t, "http://"+addr+path)
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
}

func TestInternalEndpointsRefuseAMissingOrWrongSecret(t *testing.T) {
	addr, _ := startNode(t)
	for _, header := range [][]string{nil, {httpapi.SecretHeader, "wrong"}} {
		status, body := get(t, "http://"+addr+"/internal/v1/status", header...)
		if status != 401 || !strings.Contains(body, `"error"`) {
			t.Errorf("secret %v: %d %s", header, status, body)
		}
	}
	status, body := get(t, "http://"+addr+"/internal/v1/status", httpapi.SecretHeader, secret)
	if status != 200 || !strings.Contains(body, `"state":"Leader"`) {
		t.Errorf("with the secret: %d %s", status, body)
	}
}

func TestCommandsGoThroughTheNodeAndComeBackAsReceipts(t *testing.T) {
	addr, _ := startNode(t)
	c := httpapi.NewClient(secret)
	ctx := context.Background()
	st := allocator.Settings{Name: "Ads", Size: 4, SwapTarget: "415-555-0100", ForwardTo: []string{"+14155550100"}}.WithDefaults()
	if r, err := c.Command(ctx, addr, &fsm.CreatePool{ID: "p", Key: "k", Settings: st, At: time.Now()}); err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	r, err := c.Command(ctx, addr, &fsm.AddNumber{Pool: "nope", E164: "+14155550101", At: time.Now()})
	if err != nil || !errors.Is(r.Err, allocator.ErrUnknownPool) {
		t.Fatalf("number for an unknown pool: %v %v", err, r.Err)
	}
	size := 2
	r, err = c.Command(ctx, addr, &fsm.UpdatePool{ID: "p", Patch: allocator.Patch{Size: &size}, At: time.Now()})
	var ve *allocator.ValidationError
	if err != nil || !errors.As(r.Err, &ve) || ve.Field != "size" {
		t.Fatalf("a bad size: %v %v", err, r.Err)
	}
}

func TestAMalformedEntryIsRefusedBeforeTheLog(t *testing.T) {
	addr, node := startNode(t)
	before := node.Status().LastIndex
	c := httpapi.NewClient(secret)
	_, err := c.Forward(context.Background(), addr, []byte{byte(fsm.TypeAssign), 1, 2, 3})
	var se *httpapi.StatusError
	if !errors.As(err, &se) || se.Status != 400 {
		t.Fatalf("malformed entry: %v", err)
	}
	if node.Status().LastIndex != before {
		t.Fatal("a malformed entry reached the log")
	}
}

func TestMembersAndBackupAnswerTheOperator(t *testing.T) {
	addr, _ := startNode(t)
	c := httpapi.NewClient(secret)
	ms, err := c.Members(context.Background(), addr)
	if err != nil || len(ms) != 1 || !ms[0].Leader || ms[0].Status == nil {
		t.Fatalf("members %+v %v", ms, err)
	}
	b, err := c.Backup(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsm.ReadBackup(bytes.NewReader(b)); err != nil {
		t.Fatalf("backup does not read back: %v", err)
	}
	if err := c.Restore(context.Background(), addr, []byte("not a snapshot")); err == nil {
		t.Fatal("a bad backup was restored")
	}
	if err := c.Remove(context.Background(), addr, "solo"); err == nil {
		t.Fatal("the leader removed itself")
	}
}
