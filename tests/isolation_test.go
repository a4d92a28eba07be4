package tests

import (
	"strings"
	"testing"
)

// Issue 9, finding 1: namespaced agent ids are unique and gateway-safe.
func TestNamespacedIDsNeverCollide(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "a"}), 201)
	s.must(s.do("POST", "/tenants/a/agents", adminKey, map[string]any{"agent_id": "b-c", "llm_model": "gpt-4o-mini"}), 201)
	// The tenant that would have shared tenant-a-b-c is refused, and nothing is stored.
	r := s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "a-b"}), 400)
	eq(t, "code", r.str("error", "code"), "validation_error")
	eq(t, "message", r.errMsg(), "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)")
	s.must(s.do("GET", "/tenants/a-b", adminKey, nil), 400)
	// Never silently lowercased.
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "ACME"}), 400)
	s.must(s.do("GET", "/tenants/acme", adminKey, nil), 404)
	r = s.must(s.do("POST", "/tenants/a/agents", adminKey, map[string]any{"agent_id": strings.Repeat("x", 25)}), 400)
	eq(t, "message", r.errMsg(), "agent_id must match ^[a-z0-9][a-z0-9_-]{0,23}$ (lowercase letters, digits, underscores and hyphens, at most 24 characters)")
	long := strings.Repeat("t", 32)
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": long, "allowed_models": []string{"gpt-4o-mini"}}), 201)
	r = s.must(s.do("POST", "/tenants/"+long+"/agents", adminKey, map[string]any{"agent_id": strings.Repeat("a", 24), "llm_model": "gpt-4o-mini"}), 201)
	eq(t, "longest namespaced id", len(r.str("agent_id")), 64)
}

// Issue 9, finding 5: exact, duplicate-free JSON keys; metadata numbers kept exactly.
func TestStrictJSONAndExactMetadata(t *testing.T) {
	s := newServer(t, true)
	r := s.must(s.do("POST", "/tenants", adminKey, `{"tenant_id":"n13","TENANT_ID":"n14"}`), 400)
	eq(t, "message", r.errMsg(), "Unknown field 'TENANT_ID'")
	s.must(s.do("GET", "/tenants/n14", adminKey, nil), 404)
	s.must(s.do("GET", "/tenants/n13", adminKey, nil), 404)
	r = s.must(s.do("POST", "/tenants", adminKey, `{"tenant_id":"n13","tenant_id":"n14"}`), 400)
	eq(t, "message", r.errMsg(), "Duplicate field 'tenant_id' in request body")
	s.must(s.do("GET", "/tenants/n14", adminKey, nil), 404)

	body := `{"tenant_id":"n15","metadata":{"big":9007199254740993,"dec":0.10000000000000000555,"neg":-1e400,"nested":{"n":123456789012345678901234567890}}}`
	r = s.must(s.do("POST", "/tenants", adminKey, body), 201)
	for _, got := range []resp{r, s.must(s.do("GET", "/tenants/n15", adminKey, nil), 200)} {
		eq(t, "big", got.num("metadata", "big"), "9007199254740993")
		eq(t, "dec", got.num("metadata", "dec"), "0.10000000000000000555")
		eq(t, "neg", got.num("metadata", "neg"), "-1e400")
		eq(t, "nested", got.num("metadata", "nested", "n"), "123456789012345678901234567890")
		if !strings.Contains(got.raw, `"big":9007199254740993`) {
			t.Fatalf("raw body %s", got.raw)
		}
	}
	r = s.must(s.do("PATCH", "/tenants/n15", adminKey, `{"metadata":{"id":12345678901234567890}}`), 200)
	eq(t, "patched", r.num("metadata", "id"), "12345678901234567890")
	eq(t, "stored", s.must(s.do("GET", "/tenants/n15", adminKey, nil), 200).num("metadata", "id"), "12345678901234567890")
}
