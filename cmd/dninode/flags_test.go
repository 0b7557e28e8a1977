package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/cluster"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestAFlagWinsOverItsEnvironmentTwinWhichWinsOverTheDefault(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(o nodeOptions) bool
	}{
		{"defaults", nil, nil, func(o nodeOptions) bool {
			return o.httpAddr == "127.0.0.1:8080" && o.cfg.RaftAddr == "127.0.0.1:8081" && o.cfg.DataDir == "./dni-data" &&
				o.cfg.HeartbeatTimeout == cluster.DefaultHeartbeatTimeout && o.cfg.BatchMax == cluster.DefaultBatchMax && !o.cfg.Bootstrap
		}},
		{"env", nil, map[string]string{"DNI_RAFT_ADDR": "127.0.0.1:9001", "DNI_HEARTBEAT_TIMEOUT": "2s", "DNI_ELECTION_TIMEOUT": "2s", "DNI_BOOTSTRAP": "true", "DNI_BATCH_MAX": "7"},
			func(o nodeOptions) bool {
				return o.cfg.RaftAddr == "127.0.0.1:9001" && o.cfg.HeartbeatTimeout == 2*time.Second && o.cfg.Bootstrap && o.cfg.BatchMax == 7
			}},
		{"flag over env", []string{"--raft-addr", "127.0.0.1:9002", "--heartbeat-timeout=3s"},
			map[string]string{"DNI_RAFT_ADDR": "127.0.0.1:9001", "DNI_HEARTBEAT_TIMEOUT": "2s", "DNI_ELECTION_TIMEOUT": "4s"},
			func(o nodeOptions) bool {
				return o.cfg.RaftAddr == "127.0.0.1:9002" && o.cfg.HeartbeatTimeout == 3*time.Second && o.cfg.ElectionTimeout == 4*time.Second
			}},
		{"a false flag beats a true twin", []string{"--bootstrap=false"}, map[string]string{"DNI_BOOTSTRAP": "1"},
			func(o nodeOptions) bool { return !o.cfg.Bootstrap }},
		{"join: repeated and comma-separated", []string{"--join", "a:1,b:2", "--join", "c:3"}, map[string]string{"DNI_JOIN": "x:9"},
			func(o nodeOptions) bool { return slices.Equal(o.cfg.Join, []string{"a:1", "b:2", "c:3"}) }},
		{"join from env", nil, map[string]string{"DNI_JOIN": "a:1, b:2", "DNI_NONVOTER": "yes"},
			func(o nodeOptions) bool {
				return slices.Equal(o.cfg.Join, []string{"a:1", "b:2"}) && o.cfg.JoinAsNonvoter
			}},
		{"every tunable", []string{"--snapshot-threshold", "10", "--snapshot-interval", "3s", "--trailing-logs", "11",
			"--election-timeout", "2s", "--leader-lease", "100ms", "--commit-timeout", "1ms", "--batch-wait", "2ms",
			"--write-timeout", "4s", "--heartbeat-flush", "5s", "--expire-every", "6s", "--leader-grace", "7s", "--log-level", "debug"}, nil,
			func(o nodeOptions) bool {
				c := o.cfg
				return c.SnapshotThreshold == 10 && c.SnapshotInterval == 3*time.Second && c.TrailingLogs == 11 &&
					c.ElectionTimeout == 2*time.Second && c.LeaderLease == 100*time.Millisecond && c.CommitTimeout == time.Millisecond &&
					c.BatchWait == 2*time.Millisecond && c.WriteTimeout == 4*time.Second && c.HeartbeatFlush == 5*time.Second &&
					c.ExpireEvery == 6*time.Second && c.LeaderGrace == 7*time.Second && o.logLevel.String() == "DEBUG"
			}},
		{"any free HTTP port", []string{"--http-addr", "127.0.0.1:0"}, nil,
			func(o nodeOptions) bool { return o.httpAddr == "127.0.0.1:0" }},
		{"ids, addresses and the secret", []string{"--node-id", "n9", "--advertise", "10.0.0.9:80", "--raft-advertise", "10.0.0.9:81"},
			map[string]string{"DNI_CLUSTER_SECRET": "s3", "DNI_DATA_DIR": "/var/lib/dni", "DNI_HTTP_ADDR": "0.0.0.0:80"},
			func(o nodeOptions) bool {
				return o.cfg.NodeID == "n9" && o.cfg.HTTPAdvertise == "10.0.0.9:80" && o.cfg.RaftAdvertise == "10.0.0.9:81" &&
					o.secret == "s3" && o.cfg.DataDir == "/var/lib/dni" && o.httpAddr == "0.0.0.0:80"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseNode(tt.args, env(tt.env), io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(o) {
				t.Fatalf("got %+v", o)
			}
		})
	}
}

func TestMistakesInTheNodesFlagsExitWithStatus2AndSayWhat(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--bootstrap", "--join", "a:1"}, nil, "--bootstrap starts a new cluster"},
		{[]string{"--nonvoter"}, nil, "--nonvoter says how to join"},
		{[]string{"--leader-lease", "2s"}, nil, "--leader-lease 2s must not exceed --heartbeat-timeout 1s"},
		{[]string{"--election-timeout", "100ms"}, nil, "--election-timeout 100ms must not be less than"},
		{[]string{"--commit-timeout", "-1s"}, nil, "--commit-timeout must be positive"},
		{[]string{"--batch-max", "0"}, nil, "--batch-max must be at least 1"},
		{[]string{"--http-addr", "0.0.0.0:8080"}, nil, "set --advertise"},
		{[]string{"--raft-addr", ":8081"}, nil, "set --raft-advertise"},
		{[]string{"--http-addr", "localhost"}, nil, "--http-addr"},
		{[]string{"--raft-addr", "127.0.0.1:0"}, nil, "Raft needs a fixed port"},
		{[]string{"--advertise", "0.0.0.0:80"}, nil, `--advertise "0.0.0.0:80"`},
		{[]string{"--join", "nowhere"}, nil, `--join "nowhere"`},
		{[]string{"--log-level", "loud"}, nil, `--log-level "loud"`},
		{[]string{"--admin-token", "dni_a"}, nil, "--admin-token is 5 characters; it must be at least 16"},
		{nil, map[string]string{"DNI_ADMIN_TOKEN": "dni_0123456789a"}, "--admin-token is 15 characters"},
		{nil, map[string]string{"DNI_HEARTBEAT_TIMEOUT": "soon"}, `DNI_HEARTBEAT_TIMEOUT="soon"`},
		{nil, map[string]string{"DNI_SNAPSHOT_THRESHOLD": "-3"}, `DNI_SNAPSHOT_THRESHOLD="-3"`},
		{[]string{"--no-such-flag"}, nil, "flag provided but not defined"},
		{[]string{"--bootstrap", "stray"}, nil, `unexpected argument "stray"`},
		{[]string{"stray"}, nil, `unknown command "stray"`},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		for k, v := range tt.env {
			name += k + "=" + v
		}
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr, env(tt.env)); code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("stderr does not say %q:\n%s", tt.want, stderr.String())
			}
		})
	}
}

func TestHelpShowsEveryFlagWithItsEnvironmentTwin(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"--help"}, &stdout, io.Discard, env(nil)); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, name := range []string{
		"node-id", "http-addr", "raft-addr", "advertise", "raft-advertise", "data-dir", "join", "bootstrap", "nonvoter",
		"cluster-secret", "snapshot-threshold", "snapshot-interval", "trailing-logs", "heartbeat-timeout",
		"election-timeout", "leader-lease", "commit-timeout", "batch-max", "batch-wait", "write-timeout",
		"heartbeat-flush", "expire-every", "leader-grace", "log-level",
	} {
		want := "--" + name + " (env " + envName(name) + ")\n"
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if !strings.Contains(stdout.String(), "(default 127.0.0.1:8081)") {
		t.Errorf("--help does not show the defaults:\n%s", stdout.String())
	}
}

func TestVersionPrintsTheVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"--version"}, &stdout, io.Discard, env(nil)); code != 0 || stdout.String() != "dninode dev\n" {
		t.Fatalf("exit %d, %q", code, stdout.String())
	}
}

func TestPositionalArgumentsMayComeBeforeBetweenAndAfterFlags(t *testing.T) {
	f := newFlags("x", "", env(map[string]string{"DNI_ADDR": "env:1"}), io.Discard, io.Discard)
	var addr, other string
	f.stringVar(&addr, "addr", "def:1", "")
	f.plain((*stringValue)(&other), "other", "")
	rest, err := f.parse([]string{"one", "--other", "o", "two", "--", "--addr", "three"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rest, []string{"one", "two", "--addr", "three"}) || other != "o" || addr != "env:1" {
		t.Fatalf("rest %q, other %q, addr %q", rest, other, addr)
	}
	if _, err := f.parse([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
}
