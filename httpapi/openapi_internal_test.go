package httpapi

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/fsm"
)

// openAPIDoc is as much of openapi.json as the checks below read.
type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"` // path -> method (or "parameters") -> operation
}

type openAPIOperation struct {
	Security   []map[string][]string      `json:"security"`
	Role       fsm.Role                   `json:"x-dni-role"`
	Parameters []openAPIParameter         `json:"parameters"`
	Responses  map[string]json.RawMessage `json:"responses"`
}

type openAPIParameter struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

// documentedRoutes reads openapi.json from disk (the file the server
// embeds) into its operations by "METHOD /path".
func documentedRoutes(t testing.TB) (map[string]openAPIOperation, []byte) {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	ops := map[string]openAPIOperation{}
	for path, item := range doc.Paths {
		var shared []openAPIParameter
		if p, ok := item["parameters"]; ok {
			if err := json.Unmarshal(p, &shared); err != nil {
				t.Fatalf("%s parameters: %v", path, err)
			}
		}
		for method, body := range item {
			if method == "parameters" {
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(body, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			op.Parameters = append(op.Parameters, shared...)
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops, raw
}

// routedRoutes lists the server's routes by "METHOD /pattern".
func routedRoutes() map[string]*route {
	reg := prometheus.NewRegistry()
	s := New(nil, Options{Registry: reg, Gatherer: reg})
	out := map[string]*route{}
	for _, rs := range s.router.static {
		for _, r := range rs {
			out[r.method+" "+r.pattern] = r
		}
	}
	for _, r := range s.router.dynamic {
		out[r.method+" "+r.pattern] = r
	}
	return out
}

func TestEveryPublicRouteIsInTheOpenAPIDocumentAndEveryOperationIsRouted(t *testing.T) {
	ops, _ := documentedRoutes(t)
	routes := routedRoutes()
	for key, r := range routes {
		_, documented := ops[key]
		switch {
		case r.access == internalAccess && documented:
			t.Errorf("%s is internal but documented", key)
		case r.access == internalAccess && !strings.HasPrefix(r.pattern, "/internal/"):
			t.Errorf("%s is internal but not under /internal/", key)
		case r.access != internalAccess && !documented:
			t.Errorf("%s is routed but not in openapi.json", key)
		}
	}
	for key := range ops {
		if r, ok := routes[key]; !ok || r.access == internalAccess {
			t.Errorf("openapi.json describes %s, which the server does not answer", key)
		}
	}
}

func TestTheOpenAPIDocumentSaysWhoMayCallEachOperationAndNamesItsPathParameters(t *testing.T) {
	ops, _ := documentedRoutes(t)
	routes := routedRoutes()
	param := regexp.MustCompile(`\{([^}]+)\}`)
	for key, op := range ops {
		r, ok := routes[key]
		if !ok {
			continue // reported by the test above
		}
		admin := slices.ContainsFunc(op.Security, func(req map[string][]string) bool { _, ok := req["admin"]; return ok })
		if admin != (r.access == adminAccess) {
			t.Errorf("%s: admin security %v, but the route's access is %d", key, admin, r.access)
		}
		export := slices.ContainsFunc(op.Security, func(req map[string][]string) bool { _, ok := req["export"]; return ok })
		if export != (r.access == exportAccess) {
			t.Errorf("%s: export security %v, but the route's access is %d", key, export, r.access)
		}
		if _, ok := op.Responses["401"]; ok != (r.access == adminAccess || r.access == exportAccess) {
			t.Errorf("%s: documents a 401 %v, but the route's access is %d", key, ok, r.access)
		}
		// An admin route answers a token below its role 403, and an
		// address that guessed too often 429.
		for _, status := range []string{"403", "429"} {
			if _, ok := op.Responses[status]; r.access == adminAccess && !ok {
				t.Errorf("%s: an admin route without a documented %s", key, status)
			}
		}
		if op.Role != r.role {
			t.Errorf("%s: x-dni-role %q, but the route needs %q", key, op.Role, r.role)
		}
		if r.access == adminAccess && !r.role.Valid() {
			t.Errorf("%s: an admin route that names no role lets no token in", key)
		}
		if r.access == visitorAccess {
			if _, ok := op.Responses["400"]; !ok {
				t.Errorf("%s: a visitor route without a documented 400", key)
			}
		}
		for _, m := range param.FindAllStringSubmatch(r.pattern, -1) {
			if !slices.ContainsFunc(op.Parameters, func(p openAPIParameter) bool {
				return p.Name == m[1] && p.In == "path" && p.Required
			}) {
				t.Errorf("%s: path parameter %s is not declared as a required path parameter", key, m[1])
			}
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s: no responses", key)
		}
	}
}

func TestEveryReferenceInTheOpenAPIDocumentResolves(t *testing.T) {
	_, raw := documentedRoutes(t)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	refs := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if ref, ok := x.(string); ok && k == "$ref" {
					refs++
					var at any = doc
					for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
						m, _ := at.(map[string]any)
						at = m[part]
					}
					if !strings.HasPrefix(ref, "#/") || at == nil {
						t.Errorf("$ref %q does not resolve", ref)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if refs == 0 {
		t.Error("no $ref at all: the walk is broken")
	}
}
