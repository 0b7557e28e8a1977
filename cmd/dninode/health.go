package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthCmd asks a node whether it is ready (/readyz: it knows a leader and
// has applied the log) or, with --live, whether it serves at all
// (/healthz), and fails unless it is. It is the check a container's
// HEALTHCHECK runs: a scratch image has no curl.
func healthCmd(e *opEnv, args []string) error {
	f := e.flags()
	var addr string
	var live bool
	timeout := 2 * time.Second
	f.stringVar(&addr, "addr", "", "HTTP address of the node to ask (default: 127.0.0.1 and the port of DNI_HTTP_ADDR, else 127.0.0.1:8080)")
	f.plain((*boolValue)(&live), "live", "ask /healthz, whether the node serves, instead of /readyz, whether it is ready")
	f.plain((*durationValue)(&timeout), "timeout", "how long to wait for the answer")
	if _, err := e.parse(f, args, 0, 0); err != nil {
		return err
	}
	if addr == "" {
		addr = localAddr(e.lookup)
	}
	path := "/readyz"
	if live {
		path = "/healthz"
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return usagef("--addr %q: %v", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	var body struct{ Status, Error string }
	json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s at %s: %s: %s", path, addr, resp.Status, body.Error)
	}
	fmt.Fprintf(e.stdout, "%s at %s: %s\n", path, addr, body.Status)
	return nil
}

// localAddr is where a node on this host serves HTTP, as its own
// DNI_HTTP_ADDR says: the health check runs beside the node, with its
// environment.
func localAddr(lookup func(string) (string, bool)) string {
	listen, _ := lookup(envName("http-addr"))
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		return "127.0.0.1:8080"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
