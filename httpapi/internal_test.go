package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

func TestHealthReadinessAndMetricsAnswerWithoutTheSecret(t *testing.T) {
	n := testkit.StartNode(t, testkit.Options{})
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/metrics": "go_goroutines"} {
		if r := n.Send("GET", path, nil); r.Status != 200 || !bytes.Contains(r.Body, []byte(want)) {
			t.Errorf("%s: %s", path, r)
		}
	}
}

// The internal API is served on the cluster port alone, where every
// connection proves with the cluster's certificate that it belongs: the
// HTTP port, which the internet reaches, does not answer it at all.
func TestTheInternalAPIIsNotOnTheHTTPPort(t *testing.T) {
	n := testkit.StartNode(t, testkit.Options{})
	for _, path := range []string{"/internal/v1/status", "/internal/v1/apply", "/internal/v1/backup"} {
		if r := n.Send("GET", path, nil); r.Status != 404 || !bytes.Contains(r.Body, []byte(`"error"`)) {
			t.Errorf("%s on the HTTP port: %s", path, r)
		}
	}
	st, err := n.Internal().Status(context.Background(), n.RaftAddr)
	if err != nil || st.State != "Leader" {
		t.Fatalf("status on the cluster port: %+v %v", st, err)
	}
}

func TestCommandsGoThroughTheNodeAndComeBackAsReceipts(t *testing.T) {
	n := testkit.StartNode(t, testkit.Options{})
	addr, c := n.RaftAddr, n.Internal()
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
	n := testkit.StartNode(t, testkit.Options{})
	before := n.Node.Status().LastIndex
	c := n.Internal()
	_, err := c.Forward(context.Background(), n.RaftAddr, []byte{byte(fsm.TypeAssign), 1, 2, 3})
	var se *httpapi.StatusError
	if !errors.As(err, &se) || se.Status != 400 {
		t.Fatalf("malformed entry: %v", err)
	}
	if n.Node.Status().LastIndex != before {
		t.Fatal("a malformed entry reached the log")
	}
}

func TestMembersAndBackupAnswerTheOperator(t *testing.T) {
	n := testkit.StartNode(t, testkit.Options{})
	addr, c := n.RaftAddr, n.Internal()
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
	if err := c.Remove(context.Background(), addr, "n1"); err == nil {
		t.Fatal("the leader removed itself")
	}
}
