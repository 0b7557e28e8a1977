package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// withRaftState makes dir look like the data dir of a node that ran.
func withRaftState(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "raft", "raft.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func TestANodeDrawsItsIDOnceAndKeepsItForever(t *testing.T) {
	dir := t.TempDir()
	id, err := resolveNodeID(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^node-[0-9a-f]{8}$`).MatchString(id) {
		t.Fatalf("new id %q", id)
	}
	path := filepath.Join(dir, nodeIDFile)
	if m := mode(t, path); m != 0o600 {
		t.Fatalf("node-id file mode %v, want 0600", m)
	}
	again, err := resolveNodeID(dir, "")
	if err != nil || again != id {
		t.Fatalf("second start: %q %v, want %q", again, err, id)
	}
	if same, err := resolveNodeID(dir, id); err != nil || same != id {
		t.Fatalf("the stored id given again: %q %v", same, err)
	}
	_, err = resolveNodeID(dir, "other")
	if !isUsage(err) || !strings.Contains(err.Error(), "belongs to node "+id) {
		t.Fatalf("a different --node-id: %v, want a refusal", err)
	}
}

func TestAGivenNodeIDIsStoredForTheNextStart(t *testing.T) {
	dir := t.TempDir()
	if id, err := resolveNodeID(dir, "n1"); err != nil || id != "n1" {
		t.Fatalf("%q %v", id, err)
	}
	if id, err := resolveNodeID(dir, ""); err != nil || id != "n1" {
		t.Fatalf("next start without --node-id: %q %v", id, err)
	}
}

func TestNodeIDsThatCannotBeUsedAreRefused(t *testing.T) {
	for _, id := range []string{"-n", "has space", strings.Repeat("x", 65), "a/b"} {
		if _, err := resolveNodeID(t.TempDir(), id); !isUsage(err) {
			t.Errorf("--node-id %q: %v, want a usage error", id, err)
		}
	}
	withState := t.TempDir()
	withRaftState(t, withState)
	if _, err := resolveNodeID(withState, ""); !isUsage(err) || !strings.Contains(err.Error(), "pass the node's --node-id") {
		t.Errorf("a data dir with state but no id: %v", err)
	}
}

func TestTheClusterSecretComesFromTheFlagOrTheDataDir(t *testing.T) {
	dir := t.TempDir()
	given := "given-given-given-given-given-given"
	if s, path, err := resolveSecret(dir, given, true); err != nil || s != given || path != "" {
		t.Fatalf("given: %q %q %v", s, path, err)
	}
	// A secret an attacker could guess is refused: it is every node's key.
	if _, _, err := resolveSecret(dir, "x", true); !isUsage(err) || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("a one-character secret: %v, want a refusal", err)
	}
	if _, _, err := resolveSecret(dir, "", true); !isUsage(err) || !strings.Contains(err.Error(), "DNI_CLUSTER_SECRET") {
		t.Fatalf("joining without a secret: %v, want a refusal", err)
	}
	s, path, err := resolveSecret(dir, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(s) || path != filepath.Join(dir, secretFile) {
		t.Fatalf("new secret %q in %q", s, path)
	}
	if m := mode(t, path); m != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", m)
	}
	if again, _, err := resolveSecret(dir, "", false); err != nil || again != s {
		t.Fatalf("second start: %q %v", again, err)
	}
	withState := t.TempDir()
	withRaftState(t, withState)
	if _, _, err := resolveSecret(withState, "", false); !isUsage(err) {
		t.Fatalf("a node with state but no secret file made a new secret: %v", err)
	}
}

func TestWriteFileAtomicReplacesWholeAndLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f")
	for _, content := range []string{"first", "second"} {
		if err := writeFileAtomic(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Fatalf("read %q, want %q", b, content)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("left behind %v", entries)
	}
}
