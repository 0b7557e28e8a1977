package cluster

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// TLS is how a node proves to the others that it belongs to the cluster,
// and checks that they do: mutual TLS, every connection between nodes
// presenting a certificate the cluster's CA signed. Nodes trust each other
// by that alone: any certificate of the cluster CA is a member, whatever
// host it names, so the CA must sign nothing else.
type TLS struct {
	ca   *x509.CertPool
	cert tls.Certificate
	// Derived says the CA comes from the cluster secret.
	Derived bool
}

// MinSecretLen is the shortest cluster secret a node takes: 32 bytes.
const MinSecretLen = 32

// ErrShortSecret: a cluster secret under MinSecretLen bytes.
var ErrShortSecret = fmt.Errorf("the cluster secret must be at least %d bytes", MinSecretLen)

// TLSFromSecret derives the cluster CA from the cluster secret and issues a
// certificate for name signed by it. Every holder of the secret derives the
// same CA, so nodes without certificates of an operator's still speak
// mutual TLS, encrypted and checked before anything else is read: whoever
// lacks the secret cannot finish a handshake.
func TLSFromSecret(secret, name string) (*TLS, error) {
	if len(secret) < MinSecretLen {
		return nil, ErrShortSecret
	}
	seed, err := hkdf.Key(sha256.New, []byte(secret), []byte("dni cluster CA"), "ed25519 seed", ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	caKey := ed25519.NewKeyFromSeed(seed)
	caCert, err := derivedCA(caKey)
	if err != nil {
		return nil, err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := IssueCertificate(caCert, caKey, key.Public(), name, nil, 10*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &TLS{ca: pool, cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, Derived: true}, nil
}

// derivedCA is the self-signed certificate of the CA derived from the
// secret. Its fields are fixed and ed25519 signatures deterministic, so
// every node makes the same certificate.
func derivedCA(key ed25519.PrivateKey) (*x509.Certificate, error) {
	pub := key.Public().(ed25519.PublicKey)
	skid := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dni cluster CA (derived from the cluster secret)"},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid[:20],
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("derive the cluster CA: %w", err)
	}
	return x509.ParseCertificate(der)
}

// IssueCertificate signs a certificate for a node (or an operator's tool)
// called name, good for both ends of a connection, naming hosts (DNS names
// or IP addresses) if any, valid for the given time from an hour ago.
func IssueCertificate(ca *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey, name string, hosts []string, valid time.Duration) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(valid),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("issue a certificate for %s: %w", name, err)
	}
	return der, nil
}

// TLSFromFiles loads a node's certificate and key and the cluster CA from
// PEM files, as `dninode certs` writes them or an operator's own CA does.
func TLSFromFiles(certFile, keyFile, caFile string) (*TLS, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("cluster CA: %s holds no PEM certificate", caFile)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("node certificate %s is not one the cluster CA %s signed for clients and servers: %w", certFile, caFile, err)
	}
	return &TLS{ca: pool, cert: cert}, nil
}

// ServerConfig is the TLS configuration of a node's cluster port: it asks
// every client for a certificate of the cluster CA.
func (t *TLS) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{t.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    t.ca,
	}
}

// ClientConfig is the TLS configuration of a connection to another node's
// cluster port: it presents this node's certificate and accepts a server
// whose certificate the cluster CA signed, whatever host it names (nodes
// are reached by names and addresses that change).
func (t *TLS) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{t.cert},
		InsecureSkipVerify: true, // the chain is checked below, the host name is not
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the node presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots: t.ca, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				return fmt.Errorf("the node's certificate is not the cluster's: %w", err)
			}
			return nil
		},
	}
}

// EncodePEM writes a DER block as PEM of the given type ("CERTIFICATE",
// "PRIVATE KEY").
func EncodePEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
