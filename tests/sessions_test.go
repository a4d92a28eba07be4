package tests

import (
	"testing"
	"time"
)

// Conversations over HTTP: execute with session_id, the three session
// routes, tenant isolation, and the error shape with its type.
func TestSessionsOverHTTP(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "globex", "session_ttl_days": 7}), 201)
	r := s.must(s.do("GET", "/tenants/acme", adminKey, nil), 200)
	eq(t, "session_ttl_days default", r.num("session_ttl_days"), "30")
	r = s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	eq(t, "max_history_turns default", r.num("max_history_turns"), "20")
	s.must(s.do("POST", "/tenants/globex/agents", adminKey, support), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	gkey := s.must(s.do("POST", "/tenants/globex/keys", adminKey, nil), 201).str("key")

	const path = "/tenants/acme/agents/support"
	r = s.must(s.do("POST", path+"/execute", key, map[string]any{"query": "Hello", "session_id": "user-42@app"}), 200)
	eq(t, "session_id", r.str("session_id"), "user-42@app")
	callID := r.str("call_id")
	s.clock.Advance(time.Minute)
	s.must(s.do("POST", path+"/execute", key, map[string]any{"query": "Again", "session_id": "user-42@app"}), 200)
	r = s.must(s.do("POST", path+"/execute", key, map[string]any{"query": "No session"}), 200)
	if r.get("session_id") != nil {
		t.Fatalf("session_id without a session: %s", r.raw)
	}

	r = s.must(s.do("GET", path+"/sessions", key, nil), 200)
	list := r.get("sessions").([]any)
	eq(t, "sessions", len(list), 1)
	first := resp{body: list[0].(map[string]any)}
	eq(t, "id", first.str("session_id"), "user-42@app")
	eq(t, "turns", first.num("turns"), "2")
	eq(t, "cost_usd", first.num("cost_usd"), "0.021")
	eq(t, "last_at", first.str("last_at"), "2026-11-28T14:31:00Z")
	if r.get("next_token") != nil {
		t.Fatalf("next_token: %s", r.raw)
	}

	r = s.must(s.do("GET", path+"/sessions/user-42@app", adminKey, nil), 200)
	turns := r.get("turns").([]any)
	eq(t, "transcript turns", len(turns), 2)
	t1 := resp{body: turns[0].(map[string]any)}
	eq(t, "turn 1 query", t1.str("query"), "Hello")
	eq(t, "turn 1 answer", t1.str("answer"), "Answer to: Hello")
	eq(t, "turn 1 call id", t1.str("call_id"), callID)
	eq(t, "turn 1 cost", t1.num("cost_usd"), "0.0105")
	eq(t, "turn 1 output tokens", t1.num("usage", "output_tokens"), "500")
	eq(t, "turn 1 at", t1.str("at"), "2026-11-28T14:30:00Z")
	eq(t, "agent_id", r.str("agent_id"), "tenant-acme-support")
	eq(t, "expires_at", r.str("expires_at"), "2026-12-28T14:31:00Z")

	// Another tenant's key reaches neither acme's routes nor, through its
	// own agent of the same id, acme's session.
	s.must(s.do("GET", path+"/sessions/user-42@app", gkey, nil), 403, "This key may not access tenant 'acme'")
	s.must(s.do("GET", path+"/sessions", gkey, nil), 403, "This key may not access tenant 'acme'")
	s.must(s.do("DELETE", path+"/sessions/user-42@app", gkey, nil), 403, "This key may not access tenant 'acme'")
	r = s.must(s.do("GET", "/tenants/globex/agents/support/sessions/user-42@app", gkey, nil), 404,
		"Session 'user-42@app' not found for agent 'support'")
	eq(t, "code", r.str("error", "code"), "session_not_found")
	eq(t, "type", r.str("error", "type"), "not_found_error")
	r = s.must(s.do("GET", "/tenants/globex/agents/support/sessions", gkey, nil), 200)
	eq(t, "globex sessions", len(r.get("sessions").([]any)), 0)

	// Bad input.
	r = s.must(s.do("POST", path+"/execute", key, map[string]any{"query": "x", "session_id": "has space"}), 400,
		"session_id must match ^[A-Za-z0-9_.:@-]{1,128}$")
	eq(t, "type", r.str("error", "type"), "invalid_request_error")
	s.must(s.do("POST", path+"/execute", key, map[string]any{"query": "x", "session_id": 42}), 400,
		"Field 'session_id' must be a string")
	s.must(s.do("GET", path+"/sessions/has%20space", key, nil), 400, "session_id must match ^[A-Za-z0-9_.:@-]{1,128}$")
	s.must(s.do("GET", path+"/sessions?limit=0", key, nil), 400, "limit must be between 1 and 100")
	s.must(s.do("GET", path+"/sessions?next_token=%21", key, nil), 400, "next_token is not a valid page token")
	s.must(s.do("GET", "/tenants/acme/agents/ghost/sessions", key, nil), 404, "Agent 'ghost' not found for tenant 'acme'")
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "x", "max_history_turns": 101}), 400,
		"max_history_turns must be between 0 and 100")
	s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"session_ttl_days": 0}), 400,
		"session_ttl_days must be between 1 and 3650")
	r = s.must(s.do("GET", path+"/sessions", "", nil), 401)
	eq(t, "type", r.str("error", "type"), "authentication_error")

	s.must(s.do("DELETE", path+"/sessions/user-42@app", key, nil), 204)
	s.must(s.do("DELETE", path+"/sessions/user-42@app", key, nil), 404, "Session 'user-42@app' not found for agent 'support'")
	s.must(s.do("GET", path+"/sessions/user-42@app", key, nil), 404)
}
