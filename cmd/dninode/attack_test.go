package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
)

// The tests in this file replay, against a real node, the attacks that
// once worked on it from anywhere that reached its ports, and see them
// fail.

// plantedToken is the admin token an attacker tries to write into the log.
const plantedToken = "dni_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// plantToken sends hand-made AppendEntries through trans to the node at
// addr, carrying a command that records plantedToken, for the terms a
// leader could have; it returns the first error the transport met, or nil
// if every call went through.
func plantToken(trans *raft.NetworkTransport, addr string, last uint64) error {
	hash := sha256.Sum256([]byte(plantedToken))
	entry := fsm.Encode(&fsm.CreateToken{ID: "tok_attacker", Name: "planted", Hash: hash, CreatedAt: time.Now()})
	for prevTerm := uint64(1); prevTerm <= 3; prevTerm++ {
		req := &raft.AppendEntriesRequest{
			RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("attacker"), Addr: []byte(trans.LocalAddr())},
			Term:              100,
			PrevLogEntry:      last,
			PrevLogTerm:       prevTerm,
			Entries:           []*raft.Log{{Index: last + 1, Term: 100, Type: raft.LogCommand, Data: entry}},
			LeaderCommitIndex: last + 1,
		}
		var resp raft.AppendEntriesResponse
		if err := trans.AppendEntries("n1", raft.ServerAddress(addr), req, &resp); err != nil {
			return err
		}
	}
	return nil
}

// foreignStream dials with TLS and a certificate of another cluster's CA,
// then says "Raft" as a node would.
type foreignStream struct {
	net.Listener
	tls *tls.Config
}

func (s foreignStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(addr), s.tls)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{'R'}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func TestAppendEntriesFromOutsideTheClusterPlantsNoToken(t *testing.T) {
	c := testkit.StartProcessCluster(t, 1, nil)
	n := c.Nodes[0]
	ctx := context.Background()
	before, err := c.Client.Status(ctx, n.ClusterAddr)
	if err != nil {
		t.Fatal(err)
	}

	// Plain TCP, as raft's own transport speaks it.
	plain, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plantToken(plain, n.ClusterAddr, before.LastIndex); err == nil {
		t.Error("AppendEntries over plain TCP went through")
	}

	// TLS, with a certificate another secret's CA signed.
	other, err := cluster.TLSFromSecret("another-cluster-secret-0123456789abcdef", "attacker")
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	foreign := raft.NewNetworkTransport(foreignStream{Listener: ln, tls: other.ClientConfig()}, 1, 2*time.Second, io.Discard)
	defer foreign.Close()
	if err := plantToken(foreign, n.ClusterAddr, before.LastIndex); err == nil {
		t.Error("AppendEntries with another cluster's certificate went through")
	}

	// TLS with no certificate at all.
	bare := raft.NewNetworkTransport(foreignStream{Listener: ln, tls: &tls.Config{InsecureSkipVerify: true}}, 1, 2*time.Second, io.Discard)
	defer bare.Close()
	if err := plantToken(bare, n.ClusterAddr, before.LastIndex); err == nil {
		t.Error("AppendEntries over TLS without a certificate went through")
	}

	after, err := c.Client.Status(ctx, n.ClusterAddr)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastIndex != before.LastIndex {
		t.Errorf("the log grew from %d to %d entries during the attack", before.LastIndex, after.LastIndex)
	}
	req, _ := http.NewRequest("GET", "http://"+n.HTTPAddr+"/v1/pools", nil)
	req.Header.Set("Authorization", "Bearer "+plantedToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the planted token opens the admin API: HTTP %d", resp.StatusCode)
	}
	if !strings.Contains(n.Stderr(), "cluster port: refused a connection") {
		t.Error("the node did not log the connections it refused")
	}
}

func TestTheInternalAPIRefusesAClientWithoutTheClustersCertificate(t *testing.T) {
	c := testkit.StartProcessCluster(t, 1, nil)
	n := c.Nodes[0]
	get := func(client *http.Client, url string) error {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	// Plain HTTP to the cluster port.
	if err := get(&http.Client{Timeout: 3 * time.Second}, "http://"+n.ClusterAddr+"/internal/v1/status"); err == nil {
		t.Error("plain HTTP to the cluster port was answered")
	}
	// HTTPS with no client certificate, and with another cluster's.
	other, _ := cluster.TLSFromSecret("another-cluster-secret-0123456789abcdef", "attacker")
	for name, cfg := range map[string]*tls.Config{
		"no certificate":    {InsecureSkipVerify: true},
		"another cluster's": other.ClientConfig(),
	} {
		client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		if err := get(client, "https://"+n.ClusterAddr+"/internal/v1/status"); err == nil {
			t.Errorf("HTTPS with %s certificate was answered", name)
		}
	}
	// The operator's own tool, with a certificate of the cluster, is.
	if _, err := c.Client.Status(context.Background(), n.ClusterAddr); err != nil {
		t.Fatalf("the cluster's own client: %v", err)
	}
	// And the HTTP port, which the internet reaches, has no internal API.
	resp, err := http.Get("http://" + n.HTTPAddr + "/internal/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the internal API on the HTTP port: HTTP %d, want 404", resp.StatusCode)
	}
}

// residentKB is a process's resident memory, from /proc.
func residentKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// Four header-only requests declaring 512 MiB bodies once took a node from
// 34 MB to 2.1 GB resident before any credential was checked. A request is
// now held to a few kilobytes until its headers authenticate it.
func TestARestoreDeclaringAHugeBodyWithoutACredentialIsRefusedBeforeItIsRead(t *testing.T) {
	c := testkit.StartProcessCluster(t, 1, nil)
	n := c.Nodes[0]
	before := residentKB(t, n.PID())
	for i, auth := range []string{"", "", "Bearer dni_wrong-wrong-wrong-wrong", "Basic YWRtaW46YWRtaW4="} {
		conn, err := net.Dial("tcp", n.HTTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		req := "POST /v1/cluster/restore HTTP/1.1\r\nHost: dni\r\nContent-Type: application/octet-stream\r\nContent-Length: 536870912\r\n"
		if auth != "" {
			req += "Authorization: " + auth + "\r\n"
		}
		if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		status, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if err != nil || !strings.Contains(status, " 413 ") {
			t.Errorf("request %d (Authorization %q): answered %q %v, want 413 at once", i, auth, status, err)
		}
	}
	after := residentKB(t, n.PID())
	t.Logf("figure: resident memory %d kB before, %d kB after four requests declaring 512 MiB each", before, after)
	if after-before > 32<<10 {
		t.Errorf("resident memory grew from %d kB to %d kB", before, after)
	}
}
