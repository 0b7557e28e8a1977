package cluster_test

import (
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/cluster"
)

const secretA = "0123456789abcdef0123456789abcdef-a"

// handshake runs a TLS handshake between a server and a client over
// loopback TCP, and returns what each side got.
func handshake(t *testing.T, server, client *cluster.TLS) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer s.Close()
		s.SetDeadline(time.Now().Add(5 * time.Second))
		conn := tls.Server(s, server.ServerConfig())
		err = conn.Handshake()
		if err == nil {
			// TLS 1.3 settles the client's certificate with its first bytes.
			_, err = conn.Read(make([]byte, 1))
		}
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	conn := tls.Client(c, client.ClientConfig())
	clientErr = conn.Handshake()
	if clientErr == nil {
		_, clientErr = conn.Write([]byte{'R'})
	}
	if clientErr != nil {
		c.Close()
	}
	return <-done, clientErr
}

func TestNodesHoldingTheSameSecretTrustEachOther(t *testing.T) {
	n1, err := cluster.TLSFromSecret(secretA, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := cluster.TLSFromSecret(secretA, "n2")
	if err != nil {
		t.Fatal(err)
	}
	if serverErr, clientErr := handshake(t, n1, n2); serverErr != nil || clientErr != nil {
		t.Fatalf("n2 to n1: server %v, client %v", serverErr, clientErr)
	}
}

func TestANodeWithAnotherSecretIsRefusedBothWays(t *testing.T) {
	ours, _ := cluster.TLSFromSecret(secretA, "n1")
	theirs, _ := cluster.TLSFromSecret(strings.Replace(secretA, "-a", "-b", 1), "intruder")
	if serverErr, _ := handshake(t, ours, theirs); serverErr == nil {
		t.Fatal("a node accepted a client whose certificate another secret signed")
	}
	if _, clientErr := handshake(t, theirs, ours); clientErr == nil {
		t.Fatal("a node trusted a server whose certificate another secret signed")
	}
}

func TestASecretShorterThan32BytesIsRefused(t *testing.T) {
	if _, err := cluster.TLSFromSecret("x", "n1"); !errors.Is(err, cluster.ErrShortSecret) {
		t.Fatalf("a one-byte secret: %v, want ErrShortSecret", err)
	}
}
