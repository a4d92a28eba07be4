package tests

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/fakemodel"
)

// Fixes of an acceptance audit of the API layer (issues 9, 10, 13). Every
// response here is validated against the OpenAPI document too (newServer).

// Issue 9 §5 on /v1/chat/completions: names match exactly and a repeated
// key is a 400, like every other route; unknown fields (temperature,
// top_p, ... that OpenAI SDKs send) are ignored, as an OpenAI-compatible
// endpoint must.
func TestChatCompletionsMatchNamesExactly(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "sales"}), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	for _, c := range []struct{ body, msg string }{
		{`{"Model":"support",` + msgs + `}`, "Field 'Model' does not match 'model' (field names are case-sensitive)"},
		{`{"model":"sales","model":"support",` + msgs + `}`, "Duplicate field 'model' in request body"},
		{`{"model":"support","MESSAGES":[]` + `,` + msgs + `}`, "Field 'MESSAGES' does not match 'messages' (field names are case-sensitive)"},
		{`{"model":"support","messages":[{"role":"user","Content":"hi"}]}`,
			"Field 'messages.Content' does not match 'content' (field names are case-sensitive)"},
		{`{"model":"support","messages":[{"role":"user","content":"hi","role":"assistant"}]}`, "Duplicate field 'messages.role' in request body"},
		{`{"model":"support",` + msgs + `,"temperature":1,"temperature":2}`, "Duplicate field 'temperature' in request body"},
		{`{"model":"support",` + msgs + `,"stream_options":{"Include_Usage":true}}`,
			"Field 'stream_options.Include_Usage' does not match 'include_usage' (field names are case-sensitive)"},
		{`{"model":"support",` + msgs + `,"max_tokens":0}`, "max_tokens and max_completion_tokens must be at least 1"},
	} {
		r := s.must(s.do("POST", "/v1/chat/completions", key, c.body), 400, c.msg)
		eq(t, "code "+c.body, r.str("error", "code")+" "+r.str("error", "type"), "validation_error invalid_request_error")
	}
	calls := func() int {
		s.model.mu.Lock()
		defer s.model.mu.Unlock()
		return s.model.calls
	}
	eq(t, "no model call for a refused request", calls(), 0)
	// What OpenAI SDKs send besides: ignored, answered.
	r := s.must(s.do("POST", "/v1/chat/completions", key, `{"model":"sales",`+
		`"messages":[{"role":"user","content":"hi","name":"bob"}],"temperature":0.2,"top_p":1,"presence_penalty":0,`+
		`"seed":7,"logit_bias":{"50256":-100},"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}`), 200)
	eq(t, "served by", r.str("model"), "sales")
	eq(t, "one model call", calls(), 1)
}

// Issue 9 §2: null removes a tenant's own gateway, as "" does (and as null
// removes the monthly budget), on both stores.
func TestPatchGatewayNullRemovesIt(t *testing.T) {
	for _, store := range []struct {
		name string
		opts []func(*app.Options)
	}{{"bolt", nil}, {"memory", []func(*app.Options){inMemory}}} {
		t.Run(store.name, func(t *testing.T) {
			s := newServer(t, true, store.opts...)
			gw := map[string]any{"openclaw_gateway_url": "https://gw.acme.example",
				"openclaw_gateway_token_secret": "tenancy-dev/tenant-gateway/acme"}
			s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "openclaw_gateway_url": "https://gw.acme.example",
				"openclaw_gateway_token_secret": "tenancy-dev/tenant-gateway/acme", "max_cost_usd_per_month": 100}), 201)
			gateway := func() string {
				r := s.must(s.do("GET", "/tenants/acme", adminKey, nil), 200)
				return r.str("openclaw_gateway_url") + " " + r.str("openclaw_gateway_token_secret") + " " + r.num("max_cost_usd_per_month")
			}
			eq(t, "set", gateway(), "https://gw.acme.example tenancy-dev/tenant-gateway/acme 100")
			s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"name": "Acme"}), 200)
			eq(t, "untouched by a patch without them", gateway(), "https://gw.acme.example tenancy-dev/tenant-gateway/acme 100")
			// The URL alone cannot go while the token secret stays.
			s.must(s.do("PATCH", "/tenants/acme", adminKey, `{"openclaw_gateway_url":null}`), 400,
				"openclaw_gateway_token_secret needs openclaw_gateway_url")
			eq(t, "unchanged after the 400", gateway(), "https://gw.acme.example tenancy-dev/tenant-gateway/acme 100")
			r := s.must(s.do("PATCH", "/tenants/acme", adminKey,
				`{"openclaw_gateway_url":null,"openclaw_gateway_token_secret":null,"max_cost_usd_per_month":null}`), 200)
			if strings.Contains(r.raw, "openclaw_gateway") || r.get("max_cost_usd_per_month") != nil {
				t.Fatalf("null left them: %s", r.raw)
			}
			eq(t, "removed by null", gateway(), "  <<nil> <nil>>")
			s.must(s.do("PATCH", "/tenants/acme", adminKey, gw), 200)
			eq(t, "set again", gateway(), "https://gw.acme.example tenancy-dev/tenant-gateway/acme <<nil> <nil>>")
			s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"openclaw_gateway_url": "", "openclaw_gateway_token_secret": ""}), 200)
			eq(t, "removed by \"\"", gateway(), "  <<nil> <nil>>")
			s.must(s.do("PATCH", "/tenants/acme", adminKey, `{"openclaw_gateway_url":7}`), 400, "Field 'openclaw_gateway_url' must be a string")
		})
	}
}

// Issue 9 §2 (admin-only fields): a tenant key's execute never shows the
// name of the tenant's gateway token secret; the log keeps it.
func TestGatewaySecretNameNotShownToTenant(t *testing.T) {
	gw, err := fakemodel.Start("gw-token", fakemodel.Usage{PromptTokens: 10, CompletionTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gw.SetAgents("tenant-acme-support")
	root := strings.TrimSuffix(gw.URL, "/v1")
	s := newServer(t, false, withEnv(map[string]string{"TENANCY_CATALOG_FILE": openClawCatalog(t),
		"OPENCLAW_GATEWAY_URL": root, "OPENCLAW_GATEWAY_TOKEN": "gw-token"}))
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "allowed_models": []string{"claw-agent"},
		"openclaw_gateway_url": root, "openclaw_gateway_token_secret": "tenancy-dev/tenant-gateway/nothere"}), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "support", "llm_model": "claw-agent"}), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	for _, k := range []string{key, adminKey} {
		r := s.must(s.do("POST", "/tenants/acme/agents/support/execute", k, map[string]any{"query": "hi"}), 502,
			"openclaw: the tenant's gateway token could not be read; the platform operator must check its secret: model provider error")
		if strings.Contains(r.raw, "nothere") || strings.Contains(r.raw, "tenant-gateway") {
			t.Fatalf("the client sees the secret's name: %s", r.raw)
		}
	}
	if !strings.Contains(s.logs.String(), `tenant gateway token \"tenancy-dev/tenant-gateway/nothere\"`) {
		t.Fatalf("the log lacks the secret's name: %s", s.logs.String())
	}
	eq(t, "gateway calls", gw.Calls.Load(), 0)
}

// Issue 9 §3: overage_usd is in the history's CSV (the last column, so the
// others keep their positions) and in each month of group=month (an exact
// sum of its days').
func TestHistoryOverage(t *testing.T) {
	fake, err := fakemodel.Start("sk-over", fakemodel.Usage{PromptTokens: 10, CompletionTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	s := newServer(t, false, withEnv(map[string]string{"OPENAI_BASE_URL": fake.URL, "OPENAI_API_KEY": fake.Key}))
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "allowed_models": []string{"gpt-4o-mini"}}), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "mini", "llm_model": "gpt-4o-mini",
		"system_prompt": "You are Acme Corp support.", "max_output_tokens": 1000}), 201)
	exec := func(usage fakemodel.Usage, overage string) {
		t.Helper()
		fake.SetUsage(usage)
		r := s.must(s.do("POST", "/tenants/acme/agents/mini/execute", adminKey, map[string]any{"query": "hi"}), 200)
		eq(t, "overage", r.num("overage_usd"), overage)
	}
	// reserve = 92 x 150 + 1000 x 600 = 613,800 nano-USD; 100 in + 2000 out
	// cost 1,215,000: overage 601,200. 10 in + 5 out: none.
	over, fits := fakemodel.Usage{PromptTokens: 100, CompletionTokens: 2000}, fakemodel.Usage{PromptTokens: 10, CompletionTokens: 5}
	exec(over, "0.0006012") // 2026-11-28
	exec(fits, "0")
	s.clock.Advance(24 * 3600e9)
	exec(over, "0.0006012") // 2026-11-29
	exec(over, "0.0006012")
	s.clock.Advance(3 * 24 * 3600e9)
	exec(over, "0.0006012") // 2026-12-02

	const q = "/tenants/acme/usage/history?from=2026-11-28&to=2026-12-02"
	r := s.must(s.do("GET", q, adminKey, nil), 200)
	var days []string
	for _, d := range r.get("days").([]any) {
		day := resp{body: d.(map[string]any)}
		days = append(days, day.str("date")+"="+day.num("overage_usd"))
	}
	eq(t, "days", days, []string{"2026-11-28=0.0006012", "2026-11-29=0.0012024", "2026-12-02=0.0006012"})
	r = s.must(s.do("GET", q+"&group=month", adminKey, nil), 200)
	var months []string
	for _, m := range r.get("months").([]any) {
		month := resp{body: m.(map[string]any)}
		months = append(months, month.str("month")+"="+month.num("overage_usd")+"/"+month.num("cost_usd"))
	}
	// November: 3 x 1,215,000 + 10 x 150 + 5 x 600 = 3,649,500 spent.
	eq(t, "months", months, []string{"2026-11=0.0018036/0.0036495", "2026-12=0.0006012/0.001215"})

	// overage_usd is the column after by_model (by_agent came after it).
	table := func(path string) [][]string {
		t.Helper()
		rows, err := csv.NewReader(strings.NewReader(s.must(s.do("GET", path, adminKey, nil), 200).raw)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	rows := table(q + "&format=csv")
	eq(t, "csv header", strings.Join(rows[0], ","), "date,queries,cost_usd,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,"+
		"failed_calls,unsettled_reserved_usd,price_versions,by_model,overage_usd,by_agent")
	var cells []string
	for _, f := range rows[1:] {
		cells = append(cells, f[0]+" "+f[2]+" "+f[11]+" "+f[12])
	}
	eq(t, "csv rows", cells, []string{
		`2026-11-28 0.0012195 0.0006012 {"mini":{"queries":2,"tokens":2115,"input_tokens":110,"output_tokens":2005,"cache_read_tokens":0,"cache_write_tokens":0,"cost_usd":0.0012195}}`,
		`2026-11-29 0.00243 0.0012024 {"mini":{"queries":2,"tokens":4200,"input_tokens":200,"output_tokens":4000,"cache_read_tokens":0,"cache_write_tokens":0,"cost_usd":0.00243}}`,
		`2026-12-02 0.001215 0.0006012 {"mini":{"queries":1,"tokens":2100,"input_tokens":100,"output_tokens":2000,"cache_read_tokens":0,"cache_write_tokens":0,"cost_usd":0.001215}}`})
	rows = table(q + "&format=csv&group=month")
	eq(t, "monthly csv", fmt.Sprint(rows[0][0], " ", rows[1][0], " ", rows[1][11], " ", rows[2][0], " ", rows[2][11]),
		"month 2026-11 0.0018036 2026-12 0.0006012")
}

// Issue 10: each session of a listing has id and turns (besides session_id
// and total_turns).
func TestSessionListIDAndTurns(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "support", "max_history_turns": 2}), 201)
	for _, sess := range []string{"u-1", "u-2", "u-2", "u-2"} {
		s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi", "session_id": sess}), 200)
	}
	r := s.must(s.do("GET", "/tenants/acme/agents/support/sessions", adminKey, nil), 200)
	var got []string
	for _, it := range r.get("sessions").([]any) {
		item := resp{body: it.(map[string]any)}
		got = append(got, item.str("id")+" "+item.str("session_id")+" "+item.num("turns")+" "+item.num("total_turns"))
	}
	eq(t, "sessions", got, []string{"u-1 u-1 1 1", "u-2 u-2 2 3"})
}
