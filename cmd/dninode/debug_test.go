package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestProfilesAreServedOnlyWhereAskedAndOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1:6060", "[::1]:0", "localhost:6060"} {
		if err := (debugOptions{addr: addr}).validate(); err != nil {
			t.Errorf("--debug-addr %q: %v", addr, err)
		}
	}
	for _, addr := range []string{":6060", "0.0.0.0:6060", "192.0.2.7:6060", "example.com:6060", "127.0.0.1"} {
		if err := (debugOptions{addr: addr}).validate(); err == nil {
			t.Errorf("--debug-addr %q is taken", addr)
		}
	}
	if url, stop, err := serveDebug(debugOptions{}, slog.New(slog.DiscardHandler)); err != nil || url != "" {
		t.Fatalf("off by default: %q %v", url, err)
	} else {
		stop()
	}

	url, stop, err := serveDebug(debugOptions{addr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	get := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Fatalf("the heap profile: %d %.200s", code, body)
	}
	if code, body := get("mutex?debug=1"); code != http.StatusOK || !strings.Contains(body, "sampling period=") {
		t.Fatalf("the mutex profile: %d %.200s", code, body)
	}
	// The command line may carry --cluster-secret: not served.
	if code, body := get("cmdline"); code != http.StatusNotFound || strings.Contains(body, "dninode") {
		t.Fatalf("the command line is served: %d %q", code, body)
	}
}
