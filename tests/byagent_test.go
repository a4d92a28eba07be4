package tests

import (
	"strings"
	"testing"
	"time"
)

// Usage by agent over HTTP: two agents on two models, calls on each; the
// usage report and each history day carry by_agent with exact queries,
// tokens and cost, summing to the day's totals; group=month sums it; an
// agent without calls today is absent; a deleted agent's days stay.
func TestUsageByAgentOverHTTP(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "sales", "llm_model": "gpt-4o-mini"}), 201)
	r := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "by_agent before any call", len(r.get("by_agent").(map[string]any)), 0)

	// The fixed model answers 1000 input and 500 output tokens: $0.0105 on
	// claude-sonnet-4, $0.00045 on gpt-4o-mini.
	for i := 0; i < 3; i++ {
		s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "Help me reset my password"}), 200)
	}
	for i := 0; i < 2; i++ {
		r = s.must(s.do("POST", "/tenants/acme/agents/sales/execute", adminKey, map[string]any{"query": "price?"}), 200)
		eq(t, "sales call cost", r.num("cost_usd"), "0.00045")
	}
	checkAgents := func(what string, r resp, path []string, want map[string]map[string]string) {
		t.Helper()
		got := r.get(append(path, "by_agent")...).(map[string]any)
		eq(t, what+": agents", len(got), len(want))
		for agent, fields := range want {
			for k, v := range fields {
				eq(t, what+": "+agent+" "+k, r.num(append(path, "by_agent", agent, k)...), v)
			}
		}
	}
	supportDay := map[string]string{"queries": "3", "tokens": "4500", "input_tokens": "3000", "output_tokens": "1500",
		"cache_read_tokens": "0", "cache_write_tokens": "0", "cost_usd": "0.0315"}
	salesDay := map[string]string{"queries": "2", "tokens": "3000", "input_tokens": "2000", "output_tokens": "1000",
		"cost_usd": "0.0009"}
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	checkAgents("report", r, nil, map[string]map[string]string{"support": supportDay, "sales": salesDay})
	eq(t, "queries_today = 3 + 2", r.num("queries_today"), "5")
	eq(t, "total_cost_usd = 0.0315 + 0.0009", r.num("total_cost_usd"), "0.0324")

	r = s.must(s.do("GET", "/tenants/acme/usage/history?from=2026-11-01&to=2026-11-30", adminKey, nil), 200)
	eq(t, "days", len(r.get("days").([]any)), 1)
	checkAgents("history 2026-11-28", r, []string{"days", "0"}, map[string]map[string]string{"support": supportDay, "sales": salesDay})
	eq(t, "day queries", r.num("days", "0", "queries"), "5")
	eq(t, "day cost", r.num("days", "0", "cost_usd"), "0.0324")

	// The next day: only sales calls; support is absent from today's report.
	s.clock.Set(time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC))
	s.must(s.do("POST", "/tenants/acme/agents/sales/execute", adminKey, map[string]any{"query": "price?"}), 200)
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	checkAgents("report of the 29th", r, nil, map[string]map[string]string{"sales": {"queries": "1", "tokens": "1500",
		"cost_usd": "0.00045"}})

	// A deleted agent's past days stay in the history.
	s.must(s.do("DELETE", "/tenants/acme/agents/support", adminKey, nil), 204)
	r = s.must(s.do("GET", "/tenants/acme/usage/history?from=2026-11-28&to=2026-11-29", adminKey, nil), 200)
	eq(t, "days", len(r.get("days").([]any)), 2)
	checkAgents("history 2026-11-28 after the delete", r, []string{"days", "0"},
		map[string]map[string]string{"support": supportDay, "sales": salesDay})
	checkAgents("history 2026-11-29", r, []string{"days", "1"}, map[string]map[string]string{"sales": {"queries": "1",
		"cost_usd": "0.00045"}})

	r = s.must(s.do("GET", "/tenants/acme/usage/history?group=month", adminKey, nil), 200)
	eq(t, "months", len(r.get("months").([]any)), 1)
	checkAgents("month 2026-11", r, []string{"months", "0"}, map[string]map[string]string{"support": supportDay,
		"sales": {"queries": "3", "tokens": "4500", "cost_usd": "0.00135"}})
	eq(t, "month cost", r.num("months", "0", "cost_usd"), "0.03285")

	// The CSV keeps its columns: by_agent is in the JSON only.
	r = s.must(s.do("GET", "/tenants/acme/usage/history?from=2026-11-28&to=2026-11-29&format=csv", adminKey, nil), 200)
	eq(t, "csv header", strings.SplitN(r.raw, "\n", 2)[0], "date,queries,cost_usd,input_tokens,output_tokens,"+
		"cache_read_tokens,cache_write_tokens,failed_calls,unsettled_reserved_usd,price_versions,by_model,overage_usd")
}
