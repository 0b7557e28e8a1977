package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dni-dev/dni/internal/testkit"
)

var aToken = regexp.MustCompile(`dni_[0-9a-f]{64}`)

func TestTheAdminTokenIsShownOnlyOnATerminalAndAlwaysKeptInItsFile(t *testing.T) {
	const token = "dni_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, terminal := range []bool{false, true} {
		dir := t.TempDir()
		var out bytes.Buffer
		if err := announceAdminToken(&out, terminal, dir, token); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "admin-token")
		if shown := strings.Contains(out.String(), token); shown != terminal || !strings.Contains(out.String(), path) {
			t.Errorf("on a terminal %v, the node printed %q", terminal, out.String())
		}
		info, err := os.Stat(path)
		b, _ := os.ReadFile(path)
		if err != nil || info.Mode().Perm() != 0o600 || strings.TrimSpace(string(b)) != token {
			t.Errorf("the token file: %v %v %q", info, err, b)
		}
	}
	// A data dir the node cannot write in: the token is shown anyway, or
	// nobody could ever sign in.
	var out bytes.Buffer
	blocked := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocked, nil, 0o600)
	if err := announceAdminToken(&out, false, blocked, token); err == nil || !strings.Contains(out.String(), token) {
		t.Errorf("with no file: %v, printed %q", err, out.String())
	}
	if isTerminal(&out) {
		t.Error("a buffer is a terminal")
	}
}

func TestTheFirstAdminTokenGoesToAFileInTheDataDirNotToTheLog(t *testing.T) {
	addrs := testkit.FreeAddrs(t, 2)
	p := testkit.NewProcess(t, "first", addrs[0], nil, []string{"DNI_HTTP_ADDR=" + addrs[0], "DNI_RAFT_ADDR=" + addrs[1]})
	p.Start()
	p.WaitReady()
	want := "admin token: made at first start and kept in dni-data/admin-token, readable by its owner only"
	testkit.Eventually(t, "stdout to say where the admin token is", func() error {
		if !strings.Contains(p.Stdout(), want) {
			return fmt.Errorf("stdout:\n%s", p.Stdout())
		}
		return nil
	})
	if aToken.MatchString(p.Stdout()) || aToken.MatchString(p.Stderr()) {
		t.Fatalf("the node printed its admin token:\n%s\n%s", p.Stdout(), p.Stderr())
	}
	path := filepath.Join(p.Dir, "dni-data", "admin-token")
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the admin token file: %v %v", info, err)
	}
	b, _ := os.ReadFile(path)
	token := strings.TrimSpace(string(b))
	if !aToken.MatchString(token) {
		t.Fatalf("the admin token file holds %q", b)
	}
	req, _ := http.NewRequest("GET", "http://"+addrs[0]+"/v1/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Tokens []struct{ Name, Role string }
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(list.Tokens) != 1 || list.Tokens[0].Role != "admin" {
		t.Fatalf("the admin API with the file's token: %d %+v", resp.StatusCode, list)
	}

	// Started again, the node makes no token and leaves the file alone.
	if code := p.Terminate(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	p.Start()
	p.WaitReady()
	testkit.Eventually(t, "the second start to print its URLs", func() bool { return strings.Contains(p.Stdout(), "admin API: ") })
	if again, _ := os.ReadFile(path); !bytes.Equal(again, b) || strings.Contains(p.Stdout(), "admin token:") || strings.Contains(p.Stdout(), "admin token (") {
		t.Fatalf("the second start: file %q, stdout:\n%s", again, p.Stdout())
	}
}
