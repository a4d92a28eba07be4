package tests

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
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

	// The CSV: by_agent is the last column (after overage_usd, so the
	// earlier columns keep their positions), a JSON object per cell like
	// by_model, for days and for months.
	const header = "cache_read_tokens,cache_write_tokens,failed_calls,unsettled_reserved_usd,price_versions,by_model,overage_usd,by_agent"
	csvAgents := func(what, path string, first string, want []map[string]map[string]string) {
		t.Helper()
		r := s.must(s.do("GET", path, adminKey, nil), 200)
		rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		eq(t, what+": header", strings.Join(rows[0], ","), first+",queries,cost_usd,input_tokens,output_tokens,"+header)
		eq(t, what+": rows", len(rows), 1+len(want))
		for i, agents := range want {
			cell := rows[i+1][len(rows[i+1])-1]
			dec := json.NewDecoder(strings.NewReader(cell))
			dec.UseNumber()
			var got map[string]map[string]any
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("%s row %d: by_agent %q: %v", what, i+1, cell, err)
			}
			eq(t, fmt.Sprintf("%s row %d: agents in %s", what, i+1, cell), len(got), len(agents))
			for agent, fields := range agents {
				for k, v := range fields {
					eq(t, fmt.Sprintf("%s row %d: %s %s", what, i+1, agent, k), fmt.Sprint(got[agent][k]), v)
				}
			}
		}
	}
	csvAgents("csv days", "/tenants/acme/usage/history?from=2026-11-28&to=2026-11-29&format=csv", "date",
		[]map[string]map[string]string{{"support": supportDay, "sales": salesDay},
			{"sales": {"queries": "1", "tokens": "1500", "cost_usd": "0.00045"}}})
	csvAgents("csv months", "/tenants/acme/usage/history?group=month&format=csv", "month",
		[]map[string]map[string]string{{"support": supportDay, "sales": {"queries": "3", "tokens": "4500", "cost_usd": "0.00135"}}})
}
