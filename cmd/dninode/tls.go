package main

import (
	"errors"

	"github.com/dni-dev/dni/cluster"
)

// tlsFiles are the certificate files of the cluster's mutual TLS, as
// `dninode certs` makes them: the node's (or the operator's tool's)
// certificate and key, and the cluster CA's certificate. Without them,
// certificates are derived from the cluster secret.
type tlsFiles struct {
	cert, key, ca string
}

func registerTLSFlags(f *flags, t *tlsFiles) {
	f.stringVar(&t.cert, "tls-cert", "", "this node's certificate (PEM), signed by --tls-ca; without the three --tls-* files, certificates come from the cluster secret")
	f.stringVar(&t.key, "tls-key", "", "the key of --tls-cert (PEM)")
	f.stringVar(&t.ca, "tls-ca", "", "the cluster CA's certificate (PEM): the nodes trust every certificate it signed, and nothing else")
}

func (t tlsFiles) given() bool { return t.cert != "" || t.key != "" || t.ca != "" }

func (t tlsFiles) validate() error {
	if t.given() && (t.cert == "" || t.key == "" || t.ca == "") {
		return errors.New("--tls-cert, --tls-key and --tls-ca go together: give all three, or none to derive certificates from the cluster secret")
	}
	return nil
}

// load returns the TLS of a node or tool called name: from the files if
// given, else derived from the cluster secret.
func (t tlsFiles) load(secret, name string) (*cluster.TLS, error) {
	if t.given() {
		return cluster.TLSFromFiles(t.cert, t.key, t.ca)
	}
	tls, err := cluster.TLSFromSecret(secret, name)
	if errors.Is(err, cluster.ErrShortSecret) {
		return nil, usagef("%v: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' makes one", err)
	}
	return tls, err
}

func (t tlsFiles) describe() string {
	if t.given() {
		return "mutual TLS with the certificates of " + t.ca
	}
	return "mutual TLS with certificates derived from the cluster secret"
}
