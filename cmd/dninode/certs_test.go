package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/internal/testkit"
)

// The certificates dninode certs makes are the ones a node loads, and
// stock openssl verifies them against the CA.
func TestCertsMakesACAAndNodeCertificatesOpenSSLVerifies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if out, err := testkit.Command(t, "", nil, "certs", "ca", "--dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("certs ca: %v\n%s", err, out)
	}
	for _, name := range []string{"n1", "n2"} {
		if out, err := testkit.Command(t, "", nil, "certs", "node", "--dir", dir, "--name", name, "--host", name, "--host", "127.0.0.1").CombinedOutput(); err != nil {
			t.Fatalf("certs node %s: %v\n%s", name, err, out)
		}
	}
	ca := filepath.Join(dir, "ca.pem")
	for _, name := range []string{"n1", "n2"} {
		out, err := exec.Command("openssl", "verify", "-CAfile", ca, filepath.Join(dir, name+".pem")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Fatalf("openssl verify %s: %v\n%s", name, err, out)
		}
		if _, err := cluster.TLSFromFiles(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"), ca); err != nil {
			t.Fatalf("a node cannot load %s's files: %v", name, err)
		}
	}
	for _, key := range []string{"ca-key.pem", "n1-key.pem"} {
		info, err := os.Stat(filepath.Join(dir, key))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want a file only its owner reads", key, info.Mode(), err)
		}
	}
	// A second CA over the first would orphan every certificate it signed.
	if out, err := testkit.Command(t, "", nil, "certs", "ca", "--dir", dir).CombinedOutput(); err == nil {
		t.Fatalf("certs ca ran over an existing CA:\n%s", out)
	}
}
