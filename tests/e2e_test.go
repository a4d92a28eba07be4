package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/provider"
)

var acme = map[string]any{
	"tenant_id": "acme", "name": "Acme Corp", "max_agents": 5, "max_cost_usd_per_day": 10.0,
	"allowed_models": []string{"claude-sonnet-4-20250514", "gpt-4o-mini"},
}

var support = map[string]any{"agent_id": "support", "system_prompt": "You are Acme Corp support."}

// The seed's Quick Start, over HTTP.
func TestQuickStart(t *testing.T) {
	s := newServer(t, true)
	r := s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	eq(t, "tenant_id", r.str("tenant_id"), "acme")
	eq(t, "max_queries_per_hour default", r.num("max_queries_per_hour"), "1000")
	eq(t, "max_cost_usd_per_day", r.num("max_cost_usd_per_day"), "10")
	eq(t, "is_active", r.get("is_active"), true)

	r = s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	eq(t, "namespaced agent id", r.str("agent_id"), "tenant-acme-support")
	eq(t, "llm_model default", r.str("llm_model"), "claude-sonnet-4-20250514")
	eq(t, "max_output_tokens default", r.num("max_output_tokens"), "1024")

	r = s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "Help me reset my password"}), 200)
	eq(t, "content", r.str("content"), "Answer to: Help me reset my password")
	eq(t, "agent_id", r.str("agent_id"), "tenant-acme-support")
	eq(t, "model", r.str("model"), "claude-sonnet-4-20250514")
	eq(t, "provider", r.str("provider"), "fixed")
	eq(t, "input tokens", r.num("usage", "input_tokens"), "1000")
	eq(t, "output tokens", r.num("usage", "output_tokens"), "500")
	eq(t, "cost_usd", r.num("cost_usd"), "0.0105")

	r = s.must(s.do("GET", "/tenants/acme", adminKey, nil), 200)
	eq(t, "agent ids", r.get("agent_ids"), []any{"tenant-acme-support"})
	r = s.must(s.do("GET", "/tenants/acme/agents/support", adminKey, nil), 200)
	eq(t, "short id", r.str("short_id"), "support")
	r = s.must(s.do("GET", "/tenants/acme/agents", adminKey, nil), 200)
	eq(t, "agents listed", len(r.get("agents").([]any)), 1)
}

// The seed's quota examples: agent limit, cost limit, model restriction.
func TestQuotaEnforcement(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	var last resp
	for i := 0; i < 20; i++ {
		last = s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": fmt.Sprintf("bot-%d", i)})
		if last.status != 201 {
			break
		}
	}
	s.must(last, 429, "Tenant 'acme' has reached the agent limit (5)")
	eq(t, "code", last.str("error", "code"), "agent_limit")

	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "premium", "llm_model": "claude-opus-4-20250514"}),
		403, "Model 'claude-opus-4-20250514' not allowed for tenant 'acme'")

	// Spend $10.50 under a $50 cap, then lower the cap to $10: the next
	// execute is refused with the seed's message.
	s.must(s.do("DELETE", "/tenants/acme/agents/bot-0", adminKey, nil), 204)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"max_cost_usd_per_day": 50}), 200)
	s.model.set(provider.Usage{OutputTokens: 700_000}, nil)
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "big"}), 200)
	s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"max_cost_usd_per_day": 10.0}), 200)
	r := s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "Another query"}),
		429, "Tenant 'acme' has exceeded usage limits (cost: $10.50 / $10.00)")
	eq(t, "Retry-After (to midnight)", r.header.Get("Retry-After"), "34200")
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "total_cost_usd", r.num("total_cost_usd"), "10.5")
	eq(t, "cost_utilization_pct", r.num("cost_utilization_pct"), "105")
}

func TestHourlyLimit(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "max_queries_per_hour": 2}), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	for i := 0; i < 2; i++ {
		s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "q"}), 200)
	}
	r := s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "q"}),
		429, "Tenant 'acme' has exceeded usage limits (queries: 2 / 2 per hour)")
	eq(t, "Retry-After", r.header.Get("Retry-After"), "1800")
	s.clock.Set(time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC))
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "q"}), 200)
}

// The seed's usage report.
func TestUsageReport(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	for i := 0; i < 3; i++ {
		s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "Help me reset my password"}), 200)
	}
	r := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	for k, want := range map[string]string{"agents": "1", "max_agents": "5", "total_queries": "3", "total_cost_usd": "0.0315",
		"max_cost_usd_per_day": "10", "cost_utilization_pct": "0.315", "queries_today": "3", "queries_this_hour": "3",
		"max_queries_per_hour": "1000", "reserved_cost_usd": "0", "lifetime_cost_usd": "0.0315"} {
		eq(t, k, r.num(k), want)
	}
	eq(t, "tenant_id", r.str("tenant_id"), "acme")
	eq(t, "name", r.str("name"), "Acme Corp")
	eq(t, "is_active", r.get("is_active"), true)
	eq(t, "usage_date", r.str("usage_date"), "2026-11-28")
	eq(t, "resets_at", r.str("resets_at"), "2026-11-29T00:00:00Z")
	eq(t, "by_model cost", r.num("by_model", "claude-sonnet-4-20250514", "cost_usd"), "0.0315")
	eq(t, "by_model queries", r.num("by_model", "claude-sonnet-4-20250514", "queries"), "3")
}

// The seed's lifecycle: deactivate blocks executions, activate re-enables,
// the manual reset archives before zeroing.
func TestLifecycle(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "one"}), 200)
	r := s.must(s.do("POST", "/tenants/acme/deactivate", adminKey, nil), 200)
	eq(t, "is_active", r.get("is_active"), false)
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "two"}), 403, "Tenant 'acme' is inactive")
	s.must(s.do("POST", "/tenants/acme/chat?query=two", adminKey, nil), 403, "Tenant 'acme' is inactive")
	s.must(s.do("POST", "/tenants/acme/activate", adminKey, nil), 200)
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "two"}), 200)

	r = s.must(s.do("POST", "/tenants/acme/reset", adminKey, nil), 200)
	eq(t, "cost after reset", r.num("total_cost_usd"), "0")
	eq(t, "lifetime queries kept", r.num("total_queries"), "2")
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "three"}), 200)

	r = s.must(s.do("GET", "/tenants/acme/usage/history?from=2026-11-01&to=2026-11-30", adminKey, nil), 200)
	days := r.get("days").([]any)
	eq(t, "days", len(days), 1)
	d := days[0].(map[string]any)
	eq(t, "date", d["date"], "2026-11-28")
	eq(t, "queries (archived + live)", d["queries"], "3")
	eq(t, "cost", d["cost_usd"], "0.0315")

	r = s.must(s.do("GET", "/tenants/acme/usage/history?from=2026-11-01&to=2026-11-30&format=csv", adminKey, nil), 200)
	eq(t, "content type", r.header.Get("Content-Type"), "text/csv; charset=utf-8")
	lines := strings.Split(strings.TrimSpace(r.raw), "\n")
	eq(t, "csv header", lines[0], "date,queries,cost_usd,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,failed_calls,unsettled_reserved_usd,price_versions,by_model,overage_usd,by_agent")
	eq(t, "csv row", strings.Join(strings.Split(lines[1], ",")[:9], ","), "2026-11-28,3,0.0315,3000,1500,0,0,0,0")

	// The next day: the scheduled reset has not run; the first call rolls over.
	s.clock.Set(time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC))
	s.must(s.do("POST", "/tenants/acme/chat", adminKey, map[string]any{"query": "four"}), 200)
	r = s.must(s.do("GET", "/tenants/acme/usage/history?from=2026-11-28&to=2026-11-29", adminKey, nil), 200)
	eq(t, "two days", len(r.get("days").([]any)), 2)
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "today", r.num("total_cost_usd"), "0.0105")
	eq(t, "lifetime", r.num("total_queries"), "4")
}

// Tenant keys only reach their own tenant, never admin routes; revoked keys
// stop working.
func TestTenantKeys(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "globex", "name": "Globex Inc"}), 201)
	s.must(s.do("POST", "/tenants/globex/agents", adminKey, support), 201)
	k := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201)
	key, keyID := k.str("key"), k.str("key_id")
	eq(t, "key tenant", k.str("tenant_id"), "acme")
	if !strings.HasPrefix(key, "tnk_") || len(key) < 40 {
		t.Fatalf("key %q", key)
	}
	if strings.Contains(s.logs.String(), key) {
		t.Fatal("a key was logged")
	}
	s.must(s.do("GET", "/tenants/acme", key, nil), 200)
	s.must(s.do("POST", "/tenants/acme/agents", key, support), 201)
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", key, map[string]any{"query": "hi"}), 200)
	s.must(s.do("GET", "/tenants/acme/usage", key, nil), 200)

	s.must(s.do("GET", "/tenants/globex", key, nil), 403, "This key may not access tenant 'globex'")
	s.must(s.do("POST", "/tenants/globex/agents/support/execute", key, map[string]any{"query": "hi"}), 403, "This key may not access tenant 'globex'")
	s.must(s.do("GET", "/tenants/globex/usage", key, nil), 403, "This key may not access tenant 'globex'")
	s.must(s.do("GET", "/tenants", key, nil), 403, "This route needs the admin key")
	s.must(s.do("POST", "/tenants/acme/deactivate", key, nil), 403, "This route needs the admin key")
	s.must(s.do("PATCH", "/tenants/acme", key, map[string]any{"max_agents": 100}), 403, "This route needs the admin key")
	s.must(s.do("POST", "/tenants/acme/keys", key, nil), 403, "This route needs the admin key")

	s.must(s.do("GET", "/tenants/acme", "", nil), 401, "Missing API key: send Authorization: Bearer <key>")
	s.must(s.do("GET", "/tenants/acme", "tnk_not-a-real-key", nil), 401, "Invalid or revoked API key")
	s.must(s.do("GET", "/tenants/acme", "wrong-admin", nil), 401, "Invalid or revoked API key")

	s.must(s.do("DELETE", "/tenants/acme/keys/"+keyID, adminKey, nil), 204)
	s.must(s.do("GET", "/tenants/acme", key, nil), 401, "Invalid or revoked API key")
	s.must(s.do("DELETE", "/tenants/acme/keys/"+keyID, adminKey, nil), 404, "Key '"+keyID+"' not found for tenant '"+"acme"+"'")
	s.must(s.do("POST", "/tenants/nope/keys", adminKey, nil), 404, "Tenant 'nope' not found")
}

// The seed's SaaS route.
func TestChat(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "sales"}), 201)
	r := s.must(s.do("POST", "/tenants/acme/chat?query=Help+me", adminKey, nil), 200)
	eq(t, "response", r.str("response"), "Answer to: Help me")
	eq(t, "only response", len(r.body), 1)
	r = s.must(s.do("POST", "/tenants/acme/chat", adminKey, map[string]any{"query": "Price?", "agent_id": "sales"}), 200)
	eq(t, "response", r.str("response"), "Answer to: Price?")
	s.must(s.do("POST", "/tenants/nope/chat?query=hi", adminKey, nil), 404, "Tenant 'nope' not found")
	s.must(s.do("POST", "/tenants/acme/chat?query=hi&agent_id=ghost", adminKey, nil), 404, "Agent 'ghost' not found for tenant 'acme'")
	s.must(s.do("POST", "/tenants/acme/chat", adminKey, nil), 400, "query is required")
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "queries", r.num("total_queries"), "2")
}

// Bad input: a clear 4xx, and nothing changes.
func TestBadInput(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	before := s.must(s.do("GET", "/tenants/acme", adminKey, nil), 200).raw
	big := `{"query":"` + strings.Repeat("x", 70_000) + `"}`
	cases := []struct {
		method, path string
		body         any
		status       int
		code, msg    string
	}{
		{"POST", "/tenants", `{"tenant_id":"acme"}`, 409, "tenant_exists", "Tenant 'acme' already registered"},
		{"POST", "/tenants", `{"tenant_id":"a b"}`, 400, "validation_error", "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
		{"POST", "/tenants", `{"tenant_id":"x","max_agents":-1}`, 400, "validation_error", "max_agents must be between 0 and 10000"},
		{"POST", "/tenants", `{"tenant_id":"x","max_agents":"5"}`, 400, "validation_error", "Field 'max_agents' must be an integer"},
		{"POST", "/tenants", `{"tenant_id":"x","max_agents":2.5}`, 400, "validation_error", "Field 'max_agents' must be an integer"},
		{"POST", "/tenants", `{"tenant_id":"x","max_cost_usd_per_day":-1}`, 400, "validation_error", "max_cost_usd_per_day must be between 0 and 1000000"},
		{"POST", "/tenants", `{"tenant_id":"x","max_cost_usd_per_day":"10"}`, 400, "validation_error", "Invalid USD amount: must be a number of USD"},
		{"POST", "/tenants", `{"tenant_id":"x","max_cost_usd_per_day":0.0000000001}`, 400, "validation_error", "Invalid USD amount: must have at most 9 decimal places"},
		{"POST", "/tenants", `{"tenant_id":"x","allowed_models":"gpt-4o-mini"}`, 400, "validation_error", "Field 'allowed_models' must be an array"},
		{"POST", "/tenants", `{"tenant_id":"x","metadata":[1]}`, 400, "validation_error", "Field 'metadata' must be an object"},
		{"POST", "/tenants", `{"tenant_id":"x","extra":1}`, 400, "validation_error", "Unknown field 'extra'"},
		{"POST", "/tenants", `{"tenant_id":"n13","TENANT_ID":"n14"}`, 400, "validation_error", "Unknown field 'TENANT_ID'"},
		{"POST", "/tenants", `{"Tenant_Id":"n14"}`, 400, "validation_error", "Unknown field 'Tenant_Id'"},
		{"POST", "/tenants", `{"tenant_id":"n13","tenant_id":"n14"}`, 400, "validation_error", "Duplicate field 'tenant_id' in request body"},
		{"POST", "/tenants", `{"tenant_id":"n15","metadata":{"a":1,"a":2}}`, 400, "validation_error", "Duplicate field 'metadata.a' in request body"},
		{"POST", "/tenants", `{"tenant_id":"a-b"}`, 400, "validation_error", "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
		{"POST", "/tenants", `{"tenant_id":"Acme2"}`, 400, "validation_error", "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
		{"POST", "/tenants/acme/agents", `{"agent_id":"Support2"}`, 400, "validation_error", "agent_id must match ^[a-z0-9][a-z0-9_-]{0,23}$ (lowercase letters, digits, underscores and hyphens, at most 24 characters)"},
		{"POST", "/tenants/acme/agents", `{"agent_id":"x","LLM_MODEL":"gpt-4o"}`, 400, "validation_error", "Unknown field 'LLM_MODEL'"},
		{"POST", "/tenants/acme/agents/support/execute", `{"query":"a","QUERY":"b"}`, 400, "validation_error", "Unknown field 'QUERY'"},
		{"POST", "/tenants", `{"tenant_id":"x"`, 400, "validation_error", "Malformed JSON in request body"},
		{"POST", "/tenants", `[1,2]`, 400, "validation_error", "Request body must be a JSON object"},
		{"POST", "/tenants", `{"tenant_id":"x"} {"tenant_id":"y"}`, 400, "validation_error", "Request body must be a single JSON object"},
		{"POST", "/tenants", ``, 400, "validation_error", "Request body must be a JSON object"},
		{"POST", "/tenants", `{}`, 400, "validation_error", "tenant_id is required"},
		{"PATCH", "/tenants/acme", `{"max_queries_per_hour":-3}`, 400, "validation_error", "max_queries_per_hour must be between 0 and 10000000"},
		{"PATCH", "/tenants/acme", `{"tenant_id":"other"}`, 400, "validation_error", "Unknown field 'tenant_id'"},
		{"PATCH", "/tenants/nope", `{"name":"x"}`, 404, "tenant_not_found", "Tenant 'nope' not found"},
		{"GET", "/tenants/a.b", nil, 400, "validation_error", "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
		{"GET", "/tenants/nope", nil, 404, "tenant_not_found", "Tenant 'nope' not found"},
		{"POST", "/tenants/acme/agents", `{"agent_id":"support"}`, 409, "agent_exists", "Agent 'support' already exists for tenant 'acme'"},
		{"POST", "/tenants/acme/agents", `{"agent_id":"x","llm_model":"gpt-9"}`, 400, "unknown_model", "Model 'gpt-9' is not in the model catalog (no route and no price)"},
		{"POST", "/tenants/acme/agents", `{"agent_id":"x","max_output_tokens":0}`, 400, "validation_error", "max_output_tokens must be between 1 and 200000"},
		{"POST", "/tenants/acme/agents", `{"agent_id":"x","tools":[1]}`, 400, "validation_error", "Field 'tools' must be a string"},
		{"POST", "/tenants/acme/agents", `{"name":"no id"}`, 400, "validation_error", "agent_id is required"},
		{"GET", "/tenants/acme/agents/ghost", nil, 404, "agent_not_found", "Agent 'ghost' not found for tenant 'acme'"},
		{"DELETE", "/tenants/acme/agents/ghost", nil, 404, "agent_not_found", "Agent 'ghost' not found for tenant 'acme'"},
		{"POST", "/tenants/acme/agents/support/execute", `{}`, 400, "validation_error", "query is required"},
		{"POST", "/tenants/acme/agents/support/execute", `{"query":""}`, 400, "validation_error", "query must be 1 to 32768 bytes of UTF-8"},
		{"POST", "/tenants/acme/agents/support/execute", `{"query":5}`, 400, "validation_error", "Field 'query' must be a string"},
		{"POST", "/tenants/acme/agents/support/execute", big, 413, "payload_too_large", "Request body is larger than 65536 bytes"},
		{"POST", "/tenants/acme/agents/ghost/execute", `{"query":"hi"}`, 404, "agent_not_found", "Agent 'ghost' not found for tenant 'acme'"},
		{"GET", "/tenants/acme/usage/history?from=yesterday", nil, 400, "validation_error", "from must be a date YYYY-MM-DD"},
		{"GET", "/tenants/acme/usage/history?format=xml", nil, 400, "validation_error", "format must be json or csv"},
		{"GET", "/tenants?limit=abc", nil, 400, "validation_error", "limit must be between 1 and 100"},
		{"GET", "/tenants?limit=0", nil, 400, "validation_error", "limit must be between 1 and 100"},
		{"GET", "/tenants?next_token=%25%25", nil, 400, "validation_error", "next_token is not a valid page token"},
		{"GET", "/nowhere", nil, 404, "not_found", "No such route"},
		{"PUT", "/tenants/acme", `{}`, 404, "not_found", "No such route"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+fmt.Sprint(c.status), func(t *testing.T) {
			r := s.do(c.method, c.path, adminKey, c.body)
			if r.status != c.status || r.str("error", "code") != c.code || r.errMsg() != c.msg {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
		})
	}
	after := s.must(s.do("GET", "/tenants/acme", adminKey, nil), 200).raw
	eq(t, "tenant unchanged by refused requests", after, before)
	r := s.must(s.do("GET", "/tenants", adminKey, nil), 200)
	eq(t, "tenants after refused registrations", len(r.get("tenants").([]any)), 1)
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "no query was counted", r.num("total_queries"), "0")
	if strings.Contains(s.logs.String(), `"status":500`) {
		t.Fatal("a bad input produced a 500")
	}
}

func TestListTenantsPaging(t *testing.T) {
	s := newServer(t, true)
	for _, id := range []string{"c", "a", "b"} {
		s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": id}), 201)
	}
	r := s.must(s.do("GET", "/tenants?limit=2", adminKey, nil), 200)
	ts := r.get("tenants").([]any)
	eq(t, "page 1", fmt.Sprintf("%v %v", ts[0].(map[string]any)["tenant_id"], ts[1].(map[string]any)["tenant_id"]), "a b")
	next := r.str("next_token")
	r = s.must(s.do("GET", "/tenants?limit=2&next_token="+next, adminKey, nil), 200)
	ts = r.get("tenants").([]any)
	eq(t, "page 2", len(ts), 1)
	eq(t, "page 2 id", ts[0].(map[string]any)["tenant_id"], "c")
	eq(t, "last page", r.get("next_token"), nil)
}

func TestProviderErrors(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	s.model.set(provider.Usage{}, fmt.Errorf("%w: upstream answered 500", provider.ErrUpstream))
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi"}), 502)
	s.model.set(provider.Usage{}, fmt.Errorf("%w: no answer within 25s", provider.ErrTimeout))
	r := s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi"}), 504)
	eq(t, "code", r.str("error", "code"), "provider_timeout")
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "reserved released", r.num("reserved_cost_usd"), "0")
	eq(t, "nothing charged", r.num("total_cost_usd"), "0")
	eq(t, "failed calls", r.num("failed_calls"), "2")
}

// The default local wiring: the offline development provider, named as such,
// priced with the model's real price.
func TestDevProvider(t *testing.T) {
	s := newServer(t, false)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "mini", "llm_model": "gpt-4o-mini", "system_prompt": "Be brief."}), 201)
	r := s.must(s.do("POST", "/tenants/acme/agents/mini/execute", adminKey, map[string]any{"query": "Help me reset my password"}), 200)
	eq(t, "provider", r.str("provider"), "dev")
	content := r.str("content")
	in := provider.DevTokens("Be brief.") + provider.DevTokens("Help me reset my password")
	out := provider.DevTokens(content)
	eq(t, "input tokens", r.num("usage", "input_tokens"), in)
	eq(t, "output tokens", r.num("usage", "output_tokens"), out)
	// gpt-4o-mini: 150 nano-USD per input token, 600 per output token.
	want := in*150 + out*600
	eq(t, "cost nanos", r.num("cost_usd"), fmt.Sprintf("0.%09d", want)[:len(strings.TrimRight(fmt.Sprintf("0.%09d", want), "0"))])
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newServer(t, true)
	r := s.must(s.do("GET", "/openapi.json", "", nil), 200)
	eq(t, "openapi version", r.str("openapi"), "3.0.3")
	paths := r.get("paths").(map[string]any)
	n := 0
	for path, item := range paths {
		for method := range item.(map[string]any) {
			n++
			if _, _, ok := matchRoute(strings.ToUpper(method), path); !ok {
				t.Fatalf("documented %s %s is not a route", method, path)
			}
		}
	}
	eq(t, "documented operations = routes", n, routeCount())
}

// A retried execute with the same Idempotency-Key returns the first
// response, without a second model call or charge.
func TestIdempotentExecute(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	call := func(key, query string) resp {
		req, _ := http.NewRequest("POST", s.url+"/tenants/acme/agents/support/execute", strings.NewReader(`{"query":"`+query+`"}`))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Idempotency-Key", key)
		hr, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer hr.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, hr.Body)
		var body map[string]any
		_ = json.Unmarshal([]byte(b.String()), &body)
		return resp{status: hr.StatusCode, header: hr.Header, raw: b.String(), body: body}
	}
	first := call("order-42", "hello")
	eq(t, "first status", first.status, 200)
	second := call("order-42", "hello")
	eq(t, "replay status", second.status, 200)
	eq(t, "replayed body", second.raw, first.raw)
	eq(t, "replay header", second.header.Get("Idempotent-Replayed"), "true")
	r := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "charged once", r.num("total_queries"), "1")
	eq(t, "cost once", r.num("total_cost_usd"), "0.0105")

	other := call("order-42", "something else")
	eq(t, "same key, other request", other.status, 422)
	eq(t, "code", other.body["error"].(map[string]any)["code"], "idempotency_key_reused")

	// A failed execute frees its key: the retry runs.
	s.model.set(provider.Usage{}, fmt.Errorf("%w: 503 from upstream", provider.ErrUpstream))
	eq(t, "failing call", call("order-43", "hi").status, 502)
	s.model.set(provider.Usage{InputTokens: 1000, OutputTokens: 500}, nil)
	eq(t, "retry after failure", call("order-43", "hi").status, 200)
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "charged twice in all", r.num("total_queries"), "2")

	// Concurrent duplicates: exactly one model call and one charge.
	const n = 20
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); statuses <- call("order-44", "same").status }()
	}
	wg.Wait()
	close(statuses)
	ok, inProgress := 0, 0
	for st := range statuses {
		switch st {
		case 200:
			ok++
		case 409:
			inProgress++
		default:
			t.Fatalf("status %d", st)
		}
	}
	eq(t, "answered + told to retry", ok+inProgress, n)
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "one charge for the duplicates", r.num("total_queries"), "3")
}
