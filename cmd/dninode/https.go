package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// httpsOptions serve the HTTP API over TLS directly, for operators without
// a proxy in front.
type httpsOptions struct {
	addr, cert, key string
}

func registerHTTPSFlags(f *flags, o *httpsOptions) {
	f.stringVar(&o.addr, "https-addr", "", "host:port to serve the HTTP API on over TLS as well, with --https-cert and --https-key (reloaded on SIGHUP)")
	f.stringVar(&o.cert, "https-cert", "", "the HTTPS certificate chain (PEM), such as Let's Encrypt's fullchain.pem")
	f.stringVar(&o.key, "https-key", "", "the key of --https-cert (PEM)")
}

func (o httpsOptions) validate() error {
	switch {
	case o.addr == "" && (o.cert != "" || o.key != ""):
		return errors.New("--https-cert and --https-key need --https-addr, where to serve HTTPS")
	case o.addr != "" && (o.cert == "" || o.key == ""):
		return errors.New("--https-addr needs --https-cert and --https-key")
	case o.addr != "":
		if err := listenAddr(o.addr); err != nil {
			return fmt.Errorf("--https-addr: %v", err)
		}
	}
	return nil
}

// certFiles is a certificate and its key that SIGHUP loads again, so that
// a renewed certificate is served without a restart.
type certFiles struct {
	cert, key string
	current   atomic.Pointer[tls.Certificate]
}

func (c *certFiles) load() error {
	cert, err := tls.LoadX509KeyPair(c.cert, c.key)
	if err != nil {
		return fmt.Errorf("HTTPS certificate %s and key %s: %w", c.cert, c.key, err)
	}
	c.current.Store(&cert)
	return nil
}

func (c *certFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.current.Load(), nil }

// listenHTTPS listens for HTTPS with the certificate files, and loads them
// again on every SIGHUP until stop is closed; a file that does not load
// leaves the certificate served as it was, and says why in the log.
func listenHTTPS(o httpsOptions, log *slog.Logger, stop <-chan struct{}) (net.Listener, error) {
	files := &certFiles{cert: o.cert, key: o.key}
	if err := files.load(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("listen for HTTPS: %w", err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-stop:
				return
			case <-hup:
				if err := files.load(); err != nil {
					log.Error("SIGHUP: the HTTPS certificate did not load; serving the one before", "err", err)
				} else {
					log.Info("SIGHUP: loaded the HTTPS certificate again", "cert", o.cert)
				}
			}
		}
	}()
	return tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: files.get}), nil
}
