package httpapi

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestTheOpenAPIDocumentDescribesEveryFieldOfAPoolsUsageAndAdvice: each
// JSON field the advisor's types write is a property of its schema, and
// each property is a field.
func TestTheOpenAPIDocumentDescribesEveryFieldOfAPoolsUsageAndAdvice(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	type schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]schema `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc.Components.Schemas
	pool := schemas["Pool"].Properties
	for _, tc := range []struct {
		name  string
		typ   reflect.Type
		props map[string]json.RawMessage
	}{
		{"PoolUsage", reflect.TypeFor[PoolUsage](), nil},
		{"Pool.advice", reflect.TypeFor[PoolAdvice](), pool["advice"].Properties},
	} {
		props := tc.props
		if props == nil {
			props = map[string]json.RawMessage{}
			for k := range schemas[tc.name].Properties {
				props[k] = nil
			}
		}
		fields := map[string]bool{}
		for f := range tc.typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[name] = true
			if _, ok := props[name]; !ok {
				t.Errorf("%s: field %q is not documented", tc.name, name)
			}
		}
		for name := range props {
			if !fields[name] {
				t.Errorf("%s: property %q is no field", tc.name, name)
			}
		}
	}
	if len(pool["usage"].Properties) != 2 {
		t.Errorf("Pool.usage documents %d windows, want 7d and 30d", len(pool["usage"].Properties))
	}
}
