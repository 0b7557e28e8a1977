package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dni-dev/dni/internal/testkit"
)

// TestTheAdminTokenGivenAtStartWorksTheMomentTheNodeIsReady starts fresh
// nodes with --admin-token and, as a load balancer or a deploy script
// would, calls the admin API with it the moment /readyz first says 200.
func TestTheAdminTokenGivenAtStartWorksTheMomentTheNodeIsReady(t *testing.T) {
	const starts = 10
	const token = "dni_a-token-given-at-start"
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range starts {
		addrs := testkit.FreeAddrs(t, 2)
		args := append(slices.Clone(testkit.FastFlags), "--http-addr", addrs[0], "--raft-addr", addrs[1],
			"--data-dir", filepath.Join(t.TempDir(), "data"), "--admin-token", token)
		p := testkit.NewProcess(t, fmt.Sprintf("fresh%d", i+1), addrs[0], args, nil)
		p.Start()
		base := "http://" + addrs[0]
		for {
			if !p.Running() {
				t.Fatalf("start %d: the node exited before it was ready", i+1)
			}
			resp, err := client.Get(base + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			time.Sleep(time.Millisecond)
		}
		req, _ := http.NewRequest("GET", base+"/v1/pools", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("start %d: /readyz said 200, then the admin API answered %d to the token given with --admin-token", i+1, resp.StatusCode)
		}
		p.Kill()
	}
}
