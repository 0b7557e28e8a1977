package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/dni-dev/dni/httpapi"
)

// roleNeeded is the role each admin route needs, as routes.go says.
var roleNeeded = map[string]string{
	"POST /v1/pools": "admin", "GET /v1/pools": "reporting", "GET /v1/pools/pl_x": "reporting",
	"PATCH /v1/pools/pl_x": "admin", "DELETE /v1/pools/pl_x": "admin",
	"GET /v1/pools/pl_x/numbers": "reporting", "POST /v1/pools/pl_x/numbers": "admin",
	"GET /v1/pools/pl_x/visits": "reporting", "GET /v1/calls": "reporting", "GET /v1/reports/calls": "reporting",
	"GET /v1/cluster": "operator", "POST /v1/cluster/nodes": "operator", "DELETE /v1/cluster/nodes/n9": "operator",
	"POST /v1/cluster/leader": "operator", "GET /v1/cluster/snapshot": "operator", "POST /v1/cluster/restore": "operator",
	"GET /v1/tokens": "operator", "POST /v1/tokens": "admin", "DELETE /v1/tokens/tok_x": "admin",
	"GET /v1/calls/CA1": "reporting", "PATCH /v1/calls/CA1": "admin", "GET /v1/reports/campaigns": "reporting",
	"GET /v1/spend": "reporting", "POST /v1/spend": "admin",
	"DELETE /v1/spend?day=2026-12-01&source=google&medium=cpc&campaign=x": "admin",
	"GET /v1/settings/marketing":                                          "reporting", "PATCH /v1/settings/marketing": "admin",
	"GET /v1/webhooks": "operator", "POST /v1/webhooks": "admin", "GET /v1/webhooks/wh_x": "operator",
	"PATCH /v1/webhooks/wh_x": "admin", "DELETE /v1/webhooks/wh_x": "admin",
}

var roleRank = map[string]int{"export": 0, "reporting": 1, "operator": 2, "admin": 3}

func TestATokenBelowARoutesRoleIsRefused403AndChangesNothing(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	tokens := map[string]*testAPI{
		"reporting": a.as(a.makeToken("reports", "reporting").Token), "operator": a.as(a.makeToken("ops", "operator").Token),
		"export": a.as(a.makeToken("google ads", "export").Token),
	}
	before := a.tokens()
	for _, role := range []string{"reporting", "operator", "export"} {
		for _, rt := range adminRoutes {
			need, ok := roleNeeded[rt.method+" "+rt.path]
			if !ok {
				t.Fatalf("%s %s: no role listed here", rt.method, rt.path)
			}
			if roleRank[role] >= roleRank[need] {
				continue
			}
			p := wantProblem(t, tokens[role].Send(rt.method, rt.path, rt.body, "Authorization", "Bearer "+tokens[role].Token), http.StatusForbidden, "")
			want := "this token's role, " + role + ", may not do this: it needs the role " + need
			if role == "export" {
				want = "this is an export token: it fetches the conversion files under /v1/conversions/ and nothing else"
			}
			if p.Error != want {
				t.Errorf("%s %s as %s: %q, want %q", rt.method, rt.path, role, p.Error, want)
			}
		}
	}
	var pools struct{ Pools []poolReply }
	a.AdminOK("GET", "/v1/pools", nil, http.StatusOK, &pools)
	if len(pools.Pools) != 0 || len(a.tokens()) != len(before) {
		t.Errorf("refused requests left %d pools and %d tokens", len(pools.Pools), len(a.tokens()))
	}
}

func TestAReportingTokenReadsCallsButNeitherRunsTheClusterNorChangesPools(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	pool := a.createPool(nil, numbersFrom(123, 4)...)
	r := a.Admin("GET", "/v1/cluster/snapshot", nil)
	wantStatus(t, r, http.StatusOK)
	backup := r.Body
	rep := a.as(a.makeToken("the marketing dashboard", "reporting").Token)

	wantProblem(t, rep.Admin("POST", "/v1/cluster/nodes", `{"id":"n9","raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2","voter":true}`), http.StatusForbidden, "")
	wantProblem(t, rep.Admin("POST", "/v1/cluster/restore", backup, "Content-Type", "application/octet-stream"), http.StatusForbidden, "")
	wantProblem(t, rep.Admin("GET", "/v1/cluster/snapshot", nil), http.StatusForbidden, "")
	wantProblem(t, rep.Admin("POST", "/v1/pools", poolRequest(nil)), http.StatusForbidden, "")
	wantStatus(t, rep.Admin("GET", "/v1/calls", nil), http.StatusOK)
	wantStatus(t, rep.Admin("GET", "/v1/reports/calls", nil), http.StatusOK)
	wantStatus(t, rep.Admin("GET", "/v1/pools/"+pool.ID, nil), http.StatusOK)
	if ms, _ := a.Node.Node.Members(t.Context()); len(ms) != 1 {
		t.Errorf("the cluster has %d members", len(ms))
	}
}

func TestAnOperatorTokenTakesBackupsButChangesNoPoolAndNoToken(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	ops := a.as(a.makeToken("the on-call engineer", "operator").Token)

	wantStatus(t, ops.Admin("GET", "/v1/cluster/snapshot", nil), http.StatusOK)
	wantStatus(t, ops.Admin("GET", "/v1/cluster", nil), http.StatusOK)
	wantStatus(t, ops.Admin("GET", "/v1/tokens", nil), http.StatusOK)
	wantStatus(t, ops.Admin("GET", "/v1/pools", nil), http.StatusOK)
	wantProblem(t, ops.Admin("POST", "/v1/pools", poolRequest(nil)), http.StatusForbidden, "")
	wantProblem(t, ops.Admin("POST", "/v1/tokens", map[string]any{"name": "mine", "role": "admin"}), http.StatusForbidden, "")
	wantProblem(t, ops.Admin("DELETE", "/v1/tokens/"+a.tokens()[0].ID, nil), http.StatusForbidden, "")
}

// An operator restores, but a backup can be made by hand: its restore
// must not hand the operator an admin token it wrote into one.
func TestAnOperatorsRestoreKeepsTheClustersTokens(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	ops := a.makeToken("the on-call engineer", "operator")
	r := a.Admin("GET", "/v1/cluster/snapshot", nil)
	wantStatus(t, r, http.StatusOK)
	backup := r.Body
	later := a.makeToken("made after the backup", "reporting")

	wantStatus(t, a.as(ops.Token).Admin("POST", "/v1/cluster/restore", backup, "Content-Type", "application/octet-stream"), http.StatusNoContent)
	var got []string
	for _, tok := range a.tokens() {
		got = append(got, tok.Name)
	}
	if !slices.Contains(got, later.Name) || len(got) != 3 {
		t.Errorf("tokens after an operator's restore: %v", got)
	}
}

func TestATokenIsMadeWithTheRoleAskedForOrReportingAndABadRoleIsAFieldError(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	for _, role := range []string{"admin", "operator", "reporting"} {
		if got := a.makeToken("a "+role, role); got.Role != role {
			t.Errorf("asked for %s, got %q", role, got.Role)
		}
	}
	var unsaid tokenReply
	a.AdminOK("POST", "/v1/tokens", map[string]any{"name": "no role said"}, http.StatusCreated, &unsaid)
	if unsaid.Role != "reporting" {
		t.Errorf("a token made without a role has the role %q", unsaid.Role)
	}
	for _, role := range []any{"root", "Admin", 3} {
		r := a.Admin("POST", "/v1/tokens", map[string]any{"name": "x", "role": role})
		if role == 3 {
			wantProblem(t, r, http.StatusBadRequest, "")
		} else {
			wantProblem(t, r, http.StatusBadRequest, "role")
		}
	}
	roles := map[string]string{}
	for _, tok := range a.tokens() {
		roles[tok.Name] = tok.Role
	}
	if roles["made at first start"] != "admin" || roles["a operator"] != "operator" || roles["no role said"] != "reporting" || len(roles) != 5 {
		t.Errorf("the token list's roles: %v", roles)
	}
}
