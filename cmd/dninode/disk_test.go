package main

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/dni-dev/dni/internal/testkit"
)

// The tests in this file are about the files a node keeps on its disk.

// logRoot returns the page the Raft log's bucket starts on in a bolt file.
func logRoot(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var root int64
	db.View(func(tx *bbolt.Tx) error {
		root = int64(tx.Bucket([]byte("logs")).Root())
		return nil
	})
	if root == 0 {
		t.Fatal("the log's bucket is inline: write more before damaging it")
	}
	return root
}

// scribble overwrites n bytes of the file at off with random ones.
func scribble(t *testing.T, path string, off int64, n int) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestANodeWithADamagedFileExitsNamingItAndTheWayToRecover(t *testing.T) {
	page := int64(os.Getpagesize())
	for _, tc := range []struct {
		name   string
		file   string // in the data dir
		damage func(t *testing.T, path string)
	}{
		{"the log's meta pages", "raft/raft.db", func(t *testing.T, path string) { scribble(t, path, 0, int(2*page)) }},
		{"the page the log's entries start on", "raft/raft.db", func(t *testing.T, path string) {
			scribble(t, path, logRoot(t, path)*page, int(page))
		}},
		{"the outbox's meta pages", "outbox.db", func(t *testing.T, path string) { scribble(t, path, 0, int(2*page)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, dataDir := oneNode(t, "damaged")
			path := filepath.Join(dataDir, tc.file)
			tc.damage(t, path)
			code, out := runUntilExit(t, args...)
			noPanic(t, out)
			last := out[strings.LastIndex(strings.TrimSuffix(out, "\n"), "\n")+1:]
			if code == 0 || !strings.HasPrefix(last, "dninode: ") || !strings.Contains(last, path+" is corrupt") ||
				!strings.Contains(last, "docs/operations.md") {
				t.Fatalf("exit code %d, output:\n%s\nwant a non-zero exit and a last line naming %s and the operator's guide", code, out, path)
			}
			t.Log(strings.TrimSpace(last))
		})
	}
}

func TestANodeStartedWithUmask0KeepsEveryFileItWritesToItself(t *testing.T) {
	addrs := testkit.FreeAddrs(t, 2)
	dataDir := filepath.Join(t.TempDir(), "data")
	secret := "test-secret-" + testkit.NewVisitID().String()
	// A snapshot every 5 entries, checked for every 100 ms, so that the
	// snapshot store writes its directories and files.
	cmd := testkit.Command(t, "", nil, "--heartbeat-timeout", "500ms", "--election-timeout", "500ms", "--leader-lease", "250ms",
		"--snapshot-threshold", "5", "--snapshot-interval", "100ms", "--trailing-logs", "5",
		"--node-id", "n1", "--http-addr", addrs[0], "--raft-addr", addrs[1], "--data-dir", dataDir, "--cluster-secret", secret)
	cmd.Args = append([]string{"sh", "-c", `umask 0; umask; exec "$0" "$@"`}, cmd.Args...)
	cmd.Path = "/bin/sh"
	stdout, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			out, _ := os.ReadFile(stdout.Name())
			t.Logf("the node's output:\n%s", out)
		}
	}()
	testkit.Eventually(t, "the node to be ready", func() error {
		resp, err := http.Get("http://" + addrs[0] + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answers %d", resp.StatusCode)
		}
		return nil
	})
	out, _ := os.ReadFile(stdout.Name())
	if first, _, _ := strings.Cut(string(out), "\n"); first != "0000" {
		t.Fatalf("the shell's umask was %q, not 0: the test proves nothing", first)
	}
	c := &testkit.ProcessCluster{T: t, Secret: secret, Client: testkit.OperatorClient(t, secret)}
	p := &testkit.Process{Name: "umask0", HTTPAddr: addrs[0], ClusterAddr: addrs[1]}
	key := c.CreatePool(p, "private", 20)
	var a testkit.Acked
	snapshots := filepath.Join(dataDir, "raft", "snapshots")
	testkit.Eventually(t, "a snapshot", func() bool {
		c.WriteVisit(&a, key, p)
		matches, _ := filepath.Glob(filepath.Join(snapshots, "*", "state.bin"))
		return len(matches) > 0
	})

	var readable []string
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			readable = append(readable, fmt.Sprintf("%v %s", info.Mode(), strings.TrimPrefix(path, dataDir)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(readable) > 0 {
		t.Fatalf("under the data dir, open to group or others:\n%s", strings.Join(readable, "\n"))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(45 * time.Second):
		t.Fatal("the node did not stop within 45 s of SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
