package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/dni-dev/dni/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// eventMetrics are metrics a node registers but shows only once something
// happened that a lone, healthy node does not live through. The test
// checks that the source still registers each of them.
var eventMetrics = map[string]string{
	"dni_provider_errors_total":  "a Twilio request failed",
	"raft_state_candidate":       "an election was called (raft.state.candidate)",
	"dni_webhook_attempts_total": "the leader tried to deliver a webhook event",
}

// The dashboard and the alerts must only use metrics a node exposes: this
// test runs a node, gives it a pool, a visit and a heartbeat, reads its
// /metrics, and looks up every metric name the dashboard's and the alerts'
// expressions use.
func TestTheDashboardAndAlertsUseOnlyMetricsANodeExposes(t *testing.T) {
	exposed := scrapeANode(t)
	for _, name := range []string{"dni_leader", "dni_ready"} {
		if exposed[name] != "1" {
			t.Errorf("a lone node shows %s %q, want 1", name, exposed[name])
		}
	}

	exprs := map[string][]string{} // file → expressions
	b, err := os.ReadFile("grafana/dni.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana/dni.json: %v", err)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, q := range p.Targets {
			exprs["grafana/dni.json"] = append(exprs["grafana/dni.json"], q.Expr)
		}
	}
	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for,omitempty"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	b, err = os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &rules); err != nil {
		t.Fatalf("prometheus/alerts.yml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %q needs a name, a severity and a summary", r.Alert)
			}
			exprs["prometheus/alerts.yml"] = append(exprs["prometheus/alerts.yml"], r.Expr)
		}
	}

	source := registeredNames(t)
	metricName := regexp.MustCompile(`\b(?:dni|raft)_[A-Za-z0-9_]+\b`)
	for file, es := range exprs {
		for _, e := range es {
			for _, name := range metricName.FindAllString(e, -1) {
				if _, ok := exposed[name]; ok {
					continue
				}
				family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				why, known := eventMetrics[family]
				switch {
				case !known:
					t.Errorf("%s uses %s, which a node does not expose", file, name)
				case why != "" && !source[family]:
					t.Errorf("%s uses %s (shown once %s), which no Go file registers any more", file, name, why)
				}
			}
		}
	}
	if len(exprs["grafana/dni.json"]) < 10 || len(exprs["prometheus/alerts.yml"]) < 5 {
		t.Errorf("the dashboard has %d queries and the alerts %d: fewer than expected", len(exprs["grafana/dni.json"]), len(exprs["prometheus/alerts.yml"]))
	}

	var prom struct {
		Global        map[string]string `json:"global"`
		RuleFiles     []string          `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			MetricsPath   string `json:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	b, err = os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &prom); err != nil {
		t.Fatalf("prometheus/prometheus.yml: %v", err)
	}
	if len(prom.ScrapeConfigs) != 1 || prom.ScrapeConfigs[0].JobName != "dni" || prom.ScrapeConfigs[0].MetricsPath != "/metrics" ||
		!slices.Equal(prom.ScrapeConfigs[0].StaticConfigs[0].Targets, []string{"node1:8080", "node2:8080", "node3:8080"}) ||
		!slices.Equal(prom.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("prometheus.yml must scrape job dni on compose.yaml's three nodes and load alerts.yml: %+v", prom)
	}
}

// scrapeANode runs a node of its own, exercises it and returns the sample
// names its /metrics shows, with the value of the last sample of each.
func scrapeANode(t *testing.T) map[string]string {
	t.Helper()
	addrs := testkit.FreeAddrs(t, 2)
	addr, token := addrs[0], "dni_metrics_"+randomHex(16)
	node := testkit.NewProcess(t, "node1", addr, []string{"--data-dir", filepath.Join(t.TempDir(), "data"),
		"--http-addr", addr, "--raft-addr", addrs[1], "--admin-token", token, "--log-level", "warn"}, nil)
	node.Start()
	node.WaitReady()
	c := &composeCluster{t: t, token: token, addr: map[string]string{"node1": addr}, http: &http.Client{Timeout: 10 * time.Second}}
	var p pool
	// The node takes the admin token a moment after it is ready.
	testkit.Eventually(t, "the node to take its admin token", func() error {
		return c.admin("POST", "node1", "/v1/pools", map[string]any{
			"name": "metrics", "size": 4, "area_code": "415", "swap_target": "(415) 555-0100", "forward_to": []string{"+14155550100"},
		}, &p)
	})
	testkit.Eventually(t, "the pool to get its numbers", func() error {
		var got pool
		if err := c.admin("GET", "node1", "/v1/pools/"+p.ID, nil, &got); err != nil {
			return err
		}
		if got.Status != "active" {
			return fmt.Errorf("the pool is %s", got.Status)
		}
		return nil
	})
	v, err := c.visitor(addr, p.Key, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.visitor(addr, p.Key, v.Visit); err != nil {
		t.Fatal(err)
	}

	resp, err := c.http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	exposed := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, rest = line[:i], line[strings.LastIndexByte(line, '}')+2:]
		}
		exposed[name] = rest
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return exposed
}

// registeredNames is every dni_ metric name written in a Go file outside
// tests, and every raft metric name raft's own source writes, as
// "state", "candidate" → raft_state_candidate.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	quoted := regexp.MustCompile(`"(dni_[a-z0-9_]+)"`)
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range quoted.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/hashicorp/raft").Output()
	if err != nil {
		t.Fatalf("find raft's source: %v", err)
	}
	raftSrc, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "raft.go"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raftSrc, []byte(`metrics.IncrCounter([]string{"raft", "state", "candidate"}`)) {
		names["raft_state_candidate"] = true
	}
	return names
}
