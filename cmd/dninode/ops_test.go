package main

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/internal/testkit"
)

func TestPeersJSONIsWhatRaftReadsForRecovery(t *testing.T) {
	out := filepath.Join(t.TempDir(), "peers.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"peers-json", "--out", out, "n1=10.0.0.1:8081", "n2=10.0.0.2:8081", "n3=10.0.0.3:8081", "--nonvoter", "n3"},
		&stdout, &stderr, env(nil))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	conf, err := raft.ReadConfigJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []raft.Server{
		{Suffrage: raft.Voter, ID: "n1", Address: "10.0.0.1:8081"},
		{Suffrage: raft.Voter, ID: "n2", Address: "10.0.0.2:8081"},
		{Suffrage: raft.Nonvoter, ID: "n3", Address: "10.0.0.3:8081"},
	}
	if len(conf.Servers) != len(want) {
		t.Fatalf("servers %+v", conf.Servers)
	}
	for i := range want {
		if conf.Servers[i] != want[i] {
			t.Fatalf("server %d is %+v, want %+v", i, conf.Servers[i], want[i])
		}
	}
	if !strings.Contains(stdout.String(), "raft/peers.json") {
		t.Fatalf("no recovery steps printed:\n%s", stdout.String())
	}
}

func TestPeersJSONRefusesWhatRaftWouldNot(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"n1=10.0.0.1:8081"}, // no --out
		{"--out", filepath.Join(dir, "p")},
		{"--out", filepath.Join(dir, "p"), "n1"},
		{"--out", filepath.Join(dir, "p"), "n1=10.0.0.1"},
		{"--out", filepath.Join(dir, "p"), "n1=0.0.0.0:8081"},
		{"--out", filepath.Join(dir, "p"), "n1=10.0.0.1:8081", "n1=10.0.0.2:8081"},
		{"--out", filepath.Join(dir, "p"), "n1=10.0.0.1:8081", "n2=10.0.0.1:8081"},
		{"--out", filepath.Join(dir, "p"), "n1=10.0.0.1:8081", "--nonvoter", "n1"},
		{"--out", filepath.Join(dir, "p"), "n1=10.0.0.1:8081", "--nonvoter", "n9"},
	} {
		var stderr bytes.Buffer
		if code := run(append([]string{"peers-json"}, args...), io.Discard, &stderr, env(nil)); code != 2 {
			t.Errorf("peers-json %q: exit %d, want 2", args, code)
		}
	}
}

func TestHelpListsTheCommandsAndEachHasItsOwn(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"help"}, &stdout, io.Discard, env(nil)); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range commands {
		if !strings.Contains(stdout.String(), "  "+c.name+" ") {
			t.Errorf("help does not list %s:\n%s", c.name, stdout.String())
		}
		var own bytes.Buffer
		if code := run([]string{c.name, "--help"}, &own, io.Discard, env(nil)); code != 0 || !strings.Contains(own.String(), "usage: dninode "+c.name) {
			t.Errorf("%s --help: exit %d\n%s", c.name, code, own.String())
		}
		var viaHelp bytes.Buffer
		if run([]string{"help", c.name}, &viaHelp, io.Discard, env(nil)); viaHelp.String() != own.String() {
			t.Errorf("help %s differs from %s --help", c.name, c.name)
		}
	}
	var own bytes.Buffer
	run([]string{"nodes", "--help"}, &own, io.Discard, env(nil))
	if !strings.Contains(own.String(), "--addr (env DNI_ADDR)") || !strings.Contains(own.String(), "--cluster-secret (env DNI_CLUSTER_SECRET)") {
		t.Errorf("nodes --help:\n%s", own.String())
	}
}

func TestCommandsRefuseWrongArgumentsWithStatus2(t *testing.T) {
	for _, args := range [][]string{
		{"no-such-command"},
		{"help", "no-such-command"},
		{"remove-node"},
		{"remove-node", "a", "b"},
		{"transfer-leadership", "a", "b"},
		{"snapshot", "save"},
		{"snapshot", "take", "f"},
		{"add-node", "--id", "n4"},
		{"nodes", "extra"},
		{"bench"}, // no rate
		{"bench", "--rate", "10", "--pool-size", "60"},
		{"bench", "--url", "127.0.0.1:1", "--rate", "10"}, // no admin token
		{"bench", "--trace", "--pool-size", "60"},
		{"bench", "--trace", "--hours", "-1", "--utilisation", "0.5"},
		// No secret given and no secret file where --data-dir points.
		{"nodes", "--data-dir", filepath.Join(t.TempDir(), "none")},
	} {
		var stderr bytes.Buffer
		if code := run(args, io.Discard, &stderr, env(nil)); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}

// TestBenchTracePrintsTheAdviceAndTheAccuracyAtTheAdvisedSize: bench
// --trace needs no cluster; it prints a row per utilisation and the
// advice's reason.
func TestBenchTracePrintsTheAdviceAndTheAccuracyAtTheAdvisedSize(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "--trace", "--hours", "25"}, &stdout, &stderr, env(nil)); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"ADVISED SIZE", "\n95%", "\n20%", "advice for 25 numbers at 95%: ", "busiest hour"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %q in:\n%s", want, stdout.String())
		}
	}
}

func TestACommandThatCannotReachTheNodeExitsWithStatus1(t *testing.T) {
	addr := testkit.FreeAddrs(t, 1)[0]
	var stderr bytes.Buffer
	code := run([]string{"nodes", "--addr", addr, "--timeout", "2s"}, io.Discard, &stderr, env(map[string]string{"DNI_CLUSTER_SECRET": strings.Repeat("s", 32)}))
	if code != 1 || !strings.Contains(stderr.String(), "list nodes") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestNodesPrintsOneLinePerNodeWithItsRole(t *testing.T) {
	ms := []cluster.Member{
		{ID: "n2", RaftAddr: "h2:81", HTTPAddr: "h2:80", Voter: true, Status: &cluster.Status{LastContact: 12345678 * time.Nanosecond, AppliedIndex: 41, Ready: true}},
		{ID: "n1", RaftAddr: "h1:81", HTTPAddr: "h1:80", Voter: true, Leader: true, Status: &cluster.Status{AppliedIndex: 42, Ready: true}},
		{ID: "n3", RaftAddr: "h3:81", Error: "connection refused"},
	}
	var out bytes.Buffer
	if err := printMembers(&out, ms); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := [][]string{
		{"ID", "ROLE", "RAFT", "HTTP", "LAST", "CONTACT", "APPLIED", "READY", "ERROR"},
		{"n1", "leader", "h1:81", "h1:80", "-", "42", "yes"},
		{"n2", "follower", "h2:81", "h2:80", "12ms", "41", "yes"},
		{"n3", "nonvoter", "h3:81", "-", "-", "-", "-", "connection", "refused"},
	}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, line := range lines {
		if got := strings.Fields(line); strings.Join(got, " ") != strings.Join(want[i], " ") {
			t.Errorf("line %d: %q, want %q", i, got, want[i])
		}
	}
}
