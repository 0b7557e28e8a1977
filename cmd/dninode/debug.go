package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// debugOptions serve Go's profiles (net/http/pprof) on an address of
// their own, for an operator who wants to see where a node's time goes.
// The profiles answer anyone who reaches them, so the address must be a
// loopback one: from another host, an SSH tunnel reaches it. The command
// line is not served, since it may carry --cluster-secret.
type debugOptions struct {
	addr string
}

func registerDebugFlags(f *flags, o *debugOptions) {
	f.stringVar(&o.addr, "debug-addr", "", "loopback host:port to serve Go's profiles on (/debug/pprof/), such as 127.0.0.1:6060; port 0 picks a free one, which the start-up lines name. Off by default")
}

func (o debugOptions) validate() error {
	if o.addr == "" {
		return nil
	}
	if err := listenAddr(o.addr); err != nil {
		return fmt.Errorf("--debug-addr: %v", err)
	}
	host, _, _ := net.SplitHostPort(o.addr)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--debug-addr %s: the profiles answer anyone who reaches them; give a loopback address such as 127.0.0.1:6060, and reach it from elsewhere through an SSH tunnel", o.addr)
	}
	return nil
}

// serveDebug serves the profiles on o.addr until the returned function is
// called, and returns their URL ("" when off). Mutex and block profiles
// are switched on, sampled lightly: a contended lock or a long wait shows,
// at a small cost.
func serveDebug(o debugOptions, log *slog.Logger) (url string, stop func(), err error) {
	if o.addr == "" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen for --debug-addr: %w", err)
	}
	runtime.SetMutexProfileFraction(100)
	runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("the debug server stopped", "err", err)
		}
	}()
	return "http://" + ln.Addr().String() + "/debug/pprof/", func() { srv.Close() }, nil
}
