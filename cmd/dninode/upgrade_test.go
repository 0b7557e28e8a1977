package main

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
)

// The tests in this file give a node a log written by a newer version.

// oneNode starts a one-node cluster with FastFlags, writes a pool and a few
// visits through it, and stops it; it returns the node's flags, to start
// it again with, and its data dir.
func oneNode(t *testing.T, name string) (args []string, dataDir string) {
	t.Helper()
	addrs := testkit.FreeAddrs(t, 2)
	dataDir = filepath.Join(t.TempDir(), "data")
	secret := "test-secret-" + testkit.NewVisitID().String()
	args = append(append([]string{}, testkit.FastFlags...),
		"--node-id", "n1", "--http-addr", addrs[0], "--raft-addr", addrs[1], "--data-dir", dataDir, "--cluster-secret", secret)
	p := testkit.NewProcess(t, name, addrs[0], args, nil)
	p.Start()
	p.WaitReady()
	c := &testkit.ProcessCluster{T: t, Secret: secret, Client: testkit.OperatorClient(t, secret), Nodes: []*testkit.Process{p}}
	key := c.CreatePool(p, "disk", 30)
	var a testkit.Acked
	for range 20 {
		c.WriteVisit(&a, key, p)
	}
	if code := p.Terminate(); code != 0 {
		t.Fatalf("%s exited with %d after SIGTERM", name, code)
	}
	return args, dataDir
}

// runUntilExit runs the binary with args, as a supervisor restarting the
// node would, and returns its exit code and all it wrote; it fails the test
// if the process runs longer than testkit.Patience.
func runUntilExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := testkit.Command(t, "", nil, args...)
	timer := time.AfterFunc(testkit.Patience, func() { cmd.Process.Kill() })
	out, err := cmd.CombinedOutput()
	if !timer.Stop() {
		t.Fatalf("dninode still ran %v after it started:\n%s", testkit.Patience, out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// noPanic fails the test if a run's output holds a Go panic or a
// goroutine dump.
func noPanic(t *testing.T, out string) {
	t.Helper()
	for _, trace := range []string{"panic:", "goroutine ", "fatal error:"} {
		if strings.Contains(out, trace) {
			t.Fatalf("the node's output holds %q, a Go crash, not a message:\n%s", trace, out)
		}
	}
}

// appendEntry appends an entry to a stopped node's Raft log, as a newer
// version of dni, the leader, would have written it there, and returns its
// index.
func appendEntry(t *testing.T, dataDir string, data []byte) uint64 {
	t.Helper()
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dataDir, "raft", "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	last, err := store.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var prev raft.Log
	if err := store.GetLog(last, &prev); err != nil {
		t.Fatal(err)
	}
	if err := store.StoreLog(&raft.Log{Index: last + 1, Term: prev.Term, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return last + 1
}

// batchOf encodes a batch of encoded commands, known to this version or not.
func batchOf(bodies ...[]byte) []byte {
	b := []byte{byte(fsm.TypeBatch), byte(len(bodies))}
	for _, body := range bodies {
		b = append(b, byte(len(body)))
		b = append(b, body...)
	}
	return b
}

func TestANodeWhoseLogHoldsACommandItDoesNotKnowStopsAtEveryStart(t *testing.T) {
	const unknown = 100 // no command has this type; IgnoreUnknown is not set
	expire := fsm.Encode(&fsm.Expire{At: time.Now()})
	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"alone", []byte{unknown, 1, 2, 3}},
		{"in a batch", batchOf(expire, []byte{unknown, 1, 2, 3}, expire)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, dataDir := oneNode(t, "older")
			index := appendEntry(t, dataDir, tc.entry)
			want := fmt.Sprintf("log entry %d holds command type %d, which this version does not know: "+
				"upgrade this node to the version that wrote it; it stops now", index, unknown)
			for start := 1; start <= 2; start++ {
				code, out := runUntilExit(t, args...)
				if code == 0 || !strings.Contains(out, "level=ERROR msg=\""+want+"\"") || !strings.Contains(out, "dninode: "+want+"\n") {
					t.Fatalf("start %d: exit code %d, output:\n%s\nwant a non-zero exit, and the log and the last line saying %q", start, code, out, want)
				}
				noPanic(t, out)
			}
		})
	}
}
