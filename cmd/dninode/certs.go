package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/dni-dev/dni/cluster"
)

// certsCmd makes the certificates of a cluster's mutual TLS: a CA for the
// cluster alone, and a certificate for each node (and each operator's
// machine), signed by it.
//
//	dninode certs ca --dir DIR
//	dninode certs node --dir DIR --name NAME [--host HOST ...]
func certsCmd(e *opEnv, args []string) error {
	f := e.flags()
	var dir, name string
	var hosts []string
	var days int
	f.plain((*stringValue)(&dir), "dir", "the directory of the CA's files (ca.pem, ca-key.pem), where the new files go too (default .)")
	f.plain((*stringValue)(&name), "name", "node: the node's id, or a name for an operator's machine; its files are NAME.pem and NAME-key.pem")
	f.plain((*listValue)(&hosts), "host", "node: a DNS name or IP address the node is reached at, repeated or comma-separated (optional: nodes check the CA, not host names)")
	f.plain((*intValue)(&days), "days", "how many days the certificate is valid (default: CA 3650, node 825)")
	rest, err := e.parse(f, args, 1, 1)
	if err != nil {
		return err
	}
	if dir == "" {
		dir = "."
	}
	switch rest[0] {
	case "ca":
		if days == 0 {
			days = 3650
		}
		return makeCA(e, dir, days)
	case "node":
		if name == "" {
			return usagef("dninode certs node needs --name: the node's id")
		}
		if days == 0 {
			days = 825
		}
		return makeNodeCert(e, dir, name, hosts, days)
	}
	return usagef("usage: %s", e.synopsis())
}

// Files of a CA made by certs ca.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca-key.pem"
)

func makeCA(e *opEnv, dir string, days int) error {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists: a new CA would orphan every certificate it signed; remove it first if that is what you want", p)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "dni cluster CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := writeKeyPair(dir, certPath, keyPath, der, key); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "cluster CA: %s (give it to every node: --tls-ca), its key %s (keep it off the nodes)\n", certPath, keyPath)
	return nil
}

func makeNodeCert(e *opEnv, dir, name string, hosts []string, days int) error {
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := cluster.IssueCertificate(ca, caKey, &key.PublicKey, name, hosts, time.Duration(days)*24*time.Hour)
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := writeKeyPair(dir, certPath, keyPath, der, key); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "certificate for %s: %s, its key %s (node flags: --tls-cert %s --tls-key %s --tls-ca %s)\n",
		name, certPath, keyPath, certPath, keyPath, filepath.Join(dir, caCertFile))
	return nil
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if err != nil {
		return nil, nil, fmt.Errorf("the cluster CA: %w (dninode certs ca --dir %s makes one)", err, dir)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("the cluster CA's key: %w", err)
	}
	cert, err := x509.ParseCertificate(pemBlock(certPEM))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", caCertFile, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(pemBlock(keyPEM))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", caKeyFile, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New(caKeyFile + " is not the ECDSA key dninode certs ca makes")
	}
	return cert, key, nil
}

func writeKeyPair(dir, certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, cluster.EncodePEM("PRIVATE KEY", keyDER), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, cluster.EncodePEM("CERTIFICATE", der), 0o644)
}

// pemBlock returns the bytes of the first PEM block, or nil.
func pemBlock(b []byte) []byte {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil
	}
	return block.Bytes
}
