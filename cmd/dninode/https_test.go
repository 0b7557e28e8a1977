package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/internal/testkit"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key, as an operator's files would be, and returns its serial number.
func writeSelfSigned(t *testing.T, certPath, keyPath string) *big.Int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(keyPath, cluster.EncodePEM("PRIVATE KEY", keyDER), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, cluster.EncodePEM("CERTIFICATE", der), 0o644); err != nil {
		t.Fatal(err)
	}
	return serial
}

func TestANodeServesHTTPSAndTakesARenewedCertificateOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "key.pem")
	first := writeSelfSigned(t, certPath, keyPath)
	httpsAddr := testkit.FreeAddrs(t, 1)[0]
	c := testkit.StartProcessCluster(t, 1, func(int) []string {
		return []string{"--https-addr", httpsAddr, "--https-cert", certPath, "--https-key", keyPath}
	})
	n := c.Nodes[0]
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true,
	}}
	served := func() (*big.Int, error) {
		resp, err := client.Get("https://" + httpsAddr + "/healthz")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("/healthz over HTTPS: %s", resp.Status)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber, nil
	}
	if got, err := served(); err != nil || got.Cmp(first) != 0 {
		t.Fatalf("HTTPS serves %v (%v), want the certificate given", got, err)
	}
	second := writeSelfSigned(t, certPath, keyPath)
	if err := syscall.Kill(n.PID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the renewed certificate to be served", func() error {
		got, err := served()
		if err == nil && got.Cmp(second) != 0 {
			err = fmt.Errorf("still serving serial %v", got)
		}
		return err
	})
	// A file that does not load leaves the certificate served as it was.
	if err := os.WriteFile(certPath, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(n.PID(), syscall.SIGHUP)
	testkit.Eventually(t, "the node to say the certificate did not load", func() bool {
		return bytes.Contains([]byte(n.Stderr()), []byte("the HTTPS certificate did not load"))
	})
	if got, err := served(); err != nil || got.Cmp(second) != 0 {
		t.Fatalf("after a bad file: %v %v, want the certificate before", got, err)
	}
}

func TestRealTwilioNeedsAnHTTPSPublicURL(t *testing.T) {
	base := []string{"--twilio-account-sid", "AC" + fmt.Sprintf("%032d", 1), "--twilio-auth-token", fmt.Sprintf("%032d", 2)}
	for _, extra := range [][]string{nil, {"--public-url", "http://calls.example.com"}} {
		var stderr bytes.Buffer
		args := append(slices.Clone(base), extra...)
		if code := run(args, &stderr, &stderr, env(nil)); code != 2 || !bytes.Contains(stderr.Bytes(), []byte("https://")) {
			t.Errorf("%q: exit %d, want 2 naming https://\n%s", args, code, stderr.String())
		}
	}
}
