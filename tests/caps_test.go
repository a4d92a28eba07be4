package tests

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/fakemodel"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Issue 9, findings 3 and 4 over HTTP, against a fake OpenAI-compatible
// server that reports chosen usage. gpt-4o-mini: input 150, output 600
// nano-USD per token; prompt "You are Acme Corp support." (26 bytes) and
// query "hi": input bound 26 + 2 + 64 = 92 tokens.
func TestHonestCapsOverHTTP(t *testing.T) {
	fake, err := fakemodel.Start("sk-caps", fakemodel.Usage{PromptTokens: 10, CompletionTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	s := newServer(t, false, withEnv(map[string]string{"OPENAI_BASE_URL": fake.URL, "OPENAI_API_KEY": fake.Key}))
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "allowed_models": []string{"gpt-4o-mini"},
		"max_cost_usd_per_day": 0.01}), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "mini", "llm_model": "gpt-4o-mini",
		"system_prompt": "You are Acme Corp support.", "max_output_tokens": 1000}), 201)
	// reserve = 92 x 150 + 1000 x 600 = 613,800 nano-USD
	exec := func(tenant string) resp {
		return s.do("POST", "/tenants/"+tenant+"/agents/mini/execute", adminKey, map[string]any{"query": "hi"})
	}

	// 10^16 output tokens: implausible. Failed, charged its reservation, 502.
	fake.SetUsage(fakemodel.Usage{PromptTokens: 10, CompletionTokens: 10_000_000_000_000_000})
	r := s.must(exec("acme"), 502)
	eq(t, "code", r.str("error", "code"), "provider_error")
	eq(t, "message", r.errMsg(), "openai: implausible usage reported (completion_tokens=10000000000000000 is outside 0..1000000000); the call is charged its reservation: model provider error")
	u := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "charged the reservation", u.num("total_cost_usd"), "0.0006138")
	eq(t, "failed calls", u.num("failed_calls"), "1")
	eq(t, "reserved", u.num("reserved_cost_usd"), "0")

	// A plausible cost above the reservation: charged in full, reported.
	// 100 x 150 + 2000 x 600 = 1,215,000; overage 1,215,000 - 613,800 = 601,200.
	fake.SetUsage(fakemodel.Usage{PromptTokens: 100, CompletionTokens: 2000})
	r = s.must(exec("acme"), 200)
	eq(t, "cost", r.num("cost_usd"), "0.001215")
	eq(t, "overage on the call", r.num("overage_usd"), "0.0006012")
	u = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "spent", u.num("total_cost_usd"), "0.0018288")
	eq(t, "overage_usd", u.num("overage_usd"), "0.0006012")

	// Calls in flight hold the budget: max_output_tokens 100,000 reserves
	// 92 x 150 + 100,000 x 600 = 60,013,800; a $0.13 cap holds two.
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "globex", "allowed_models": []string{"gpt-4o-mini"},
		"max_cost_usd_per_day": 0.13}), 201)
	s.must(s.do("POST", "/tenants/globex/agents", adminKey, map[string]any{"agent_id": "mini", "llm_model": "gpt-4o-mini",
		"system_prompt": "You are Acme Corp support.", "max_output_tokens": 100000}), 201)
	fake.SetUsage(fakemodel.Usage{PromptTokens: 10, CompletionTokens: 100000}) // 60,001,500 each
	fake.Delay.Store(int64(2 * time.Second))
	calls := fake.Calls.Load()
	var wg sync.WaitGroup
	slow := make([]resp, 2)
	for i := range slow {
		wg.Add(1)
		go func() { defer wg.Done(); slow[i] = exec("globex") }()
	}
	for deadline := time.Now().Add(10 * time.Second); fake.Calls.Load() < calls+2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the two slow calls never reached the model")
		}
	}
	r = s.must(exec("globex"), 429)
	eq(t, "code", r.str("error", "code"), "cost_limit_in_flight")
	eq(t, "message", r.errMsg(), "Tenant 'globex' has calls in flight holding its daily budget (cost: $0.00 + $0.12 reserved / $0.13)")
	eq(t, "Retry-After (seconds)", r.header.Get("Retry-After"), "2")
	wg.Wait()
	fake.Delay.Store(0)
	for _, sr := range slow {
		s.must(sr, 200)
	}
	// Now spend 120,003,000 + one reservation passes the cap: exhausted.
	r = s.must(exec("globex"), 429)
	eq(t, "code", r.str("error", "code"), "cost_limit")
	eq(t, "message", r.errMsg(), "Tenant 'globex' has exceeded usage limits (cost: $0.12 / $0.13)")
	eq(t, "Retry-After (to midnight UTC)", r.header.Get("Retry-After"), "34200")

	// The monthly budget says the same truth: two reservations of
	// 60,013,800 hold a $0.13 monthly budget with $0 spent.
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "initech", "allowed_models": []string{"gpt-4o-mini"},
		"max_cost_usd_per_day": 5, "max_cost_usd_per_month": 0.13}), 201)
	s.must(s.do("POST", "/tenants/initech/agents", adminKey, map[string]any{"agent_id": "mini", "llm_model": "gpt-4o-mini",
		"system_prompt": "You are Acme Corp support.", "max_output_tokens": 100000}), 201)
	fake.Delay.Store(int64(2 * time.Second))
	calls = fake.Calls.Load()
	for i := range slow {
		wg.Add(1)
		go func() { defer wg.Done(); slow[i] = exec("initech") }()
	}
	for deadline := time.Now().Add(10 * time.Second); fake.Calls.Load() < calls+2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the two slow calls never reached the model")
		}
	}
	r = s.must(exec("initech"), 429)
	eq(t, "code", r.str("error", "code"), "monthly_cost_limit_in_flight")
	eq(t, "message", r.errMsg(), "Tenant 'initech' has calls in flight holding its monthly budget (cost: $0.00 + $0.12 reserved / $0.13)")
	eq(t, "Retry-After (seconds)", r.header.Get("Retry-After"), "2")
	wg.Wait()
	fake.Delay.Store(0)
	for _, sr := range slow {
		s.must(sr, 200)
	}
	// Spent 120,003,000: one more reservation passes the monthly budget.
	r = s.must(exec("initech"), 429)
	eq(t, "code", r.str("error", "code"), "monthly_cost_limit")
	eq(t, "message", r.errMsg(), "Tenant 'initech' has exceeded its monthly budget (cost: $0.12 / $0.13)")
	eq(t, "Retry-After (to December 1, UTC)", r.header.Get("Retry-After"), "207000")
}

// An agent runtime loops: an OpenClaw-routed model reserves max_calls_per_run
// (default 8 for the route) worst-case calls. Price 1000 / 2000; default
// prompt (28 bytes) + "hi" + 64 = 94 tokens: one call 94 x 1000 + 1000 x
// 2000 = 2,094,000, a run 16,752,000 nano-USD.
func TestAgentRunReservesMaxCallsPerRun(t *testing.T) {
	gw, err := fakemodel.Start("gw-token", fakemodel.Usage{PromptTokens: 10, CompletionTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gw.SetAgents("tenant-acme-support")
	gw.Delay.Store(int64(time.Second))
	s := newServer(t, false, withEnv(map[string]string{"TENANCY_CATALOG_FILE": openClawCatalog(t),
		"OPENCLAW_GATEWAY_URL": gw.URL[:len(gw.URL)-3], "OPENCLAW_GATEWAY_TOKEN": "gw-token"}))
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "allowed_models": []string{"claw-agent"},
		"max_cost_usd_per_day": 0.02}), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "support", "llm_model": "claw-agent",
		"max_output_tokens": 1000}), 201)
	done := make(chan resp, 1)
	go func() {
		done <- s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi"})
	}()
	for deadline := time.Now().Add(10 * time.Second); gw.Calls.Load() < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached the gateway")
		}
	}
	u := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "reserved for a run of 8 calls", u.num("reserved_cost_usd"), "0.016752")
	s.must(<-done, 200)
	// 10 x 1000 + 5 x 2000 = 20,000 spent: a second run still fits, a third
	// in flight would not (3 x 16,752,000 > 20,000,000).
	u = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "spent", u.num("total_cost_usd"), "0.00002")
}

// Issue 9, finding 5: a response too large to keep for replay (a DynamoDB
// item holds 400 KB) is not a second model call and charge on retry: the
// retry is told the request completed.
func TestIdempotentResponseTooLargeIsNotChargedTwice(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	s.model.mu.Lock()
	s.model.content = strings.Repeat("x", 300_000)
	s.model.mu.Unlock()
	key := map[string]string{"Idempotency-Key": "big-1"}
	first := s.must(s.doH("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi"}, key), 200)
	eq(t, "content length", len(first.str("content")), 300_000)
	r := s.must(s.doH("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi"}, key), 409)
	eq(t, "code", r.str("error", "code"), "idempotency_response_too_large")
	eq(t, "message", r.errMsg(), fmt.Sprintf("The request with this Idempotency-Key completed (status 200), but its response (%d bytes) "+
		"was too large to keep; it is not run again", len(first.raw)))
	eq(t, "replayed", r.header.Get("Idempotent-Replayed"), "true")
	eq(t, "type and param", fmt.Sprint(r.get("error", "type"), " ", r.get("error", "param")), "conflict_error <nil>")
	if _, ok := r.body["error"].(map[string]any)["param"]; !ok {
		t.Fatalf("no param: %s", r.raw)
	}
	s.model.mu.Lock()
	calls := s.model.calls
	s.model.mu.Unlock()
	eq(t, "model calls", calls, 1)
	u := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "charged once", u.num("total_cost_usd"), "0.0105")
	eq(t, "queries", u.num("total_queries"), "1")
}

// Issue 9 §3 on streamed calls: an OpenAI-compatible upstream streaming an
// implausible usage report (a negative count, or cached_tokens above
// prompt_tokens) gets the buffered call's treatment, on the streamed
// execute and the streamed /v1/chat/completions: failed, charged its
// reservation (92 x 150 + 1000 x 600 = 613,800 nano-USD), an error event
// provider_error naming the counts as the upstream reported them, and the
// day's price_versions lists the version that priced the reservations.
func TestImplausibleStreamedUsageOverHTTP(t *testing.T) {
	fake, err := fakemodel.Start("sk-caps", fakemodel.Usage{PromptTokens: 10, CompletionTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	s := newServer(t, false, withEnv(map[string]string{"OPENAI_BASE_URL": fake.URL, "OPENAI_API_KEY": fake.Key}))
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "allowed_models": []string{"gpt-4o-mini"}}), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "mini", "llm_model": "gpt-4o-mini",
		"system_prompt": "You are Acme Corp support.", "max_output_tokens": 1000}), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	const suffix = "; the call is charged its reservation: model provider error"
	cases := []struct {
		usage fakemodel.Usage
		msg   string
	}{
		{fakemodel.Usage{PromptTokens: 10, CompletionTokens: -3},
			"openai: implausible usage reported (completion_tokens=-3 is outside 0..1000000000)" + suffix},
		{fakemodel.Usage{PromptTokens: -5, CompletionTokens: 5},
			"openai: implausible usage reported (prompt_tokens=-5 is outside 0..1000000000)" + suffix},
		{fakemodel.Usage{PromptTokens: 10, CompletionTokens: 5, CachedTokens: 50},
			"openai: implausible usage reported (prompt_tokens=10 completion_tokens=5 cached_tokens=50 contradict each other)" + suffix},
	}
	calls := 0
	for _, c := range cases {
		fake.SetUsage(c.usage)
		hr, evs := s.stream("/tenants/acme/agents/mini/execute", adminKey, map[string]any{"query": "hi", "stream": true}, "", nil)
		eq(t, "status", hr.StatusCode, 200)
		last := evs[len(evs)-1]
		eq(t, "execute: last event", last.name, "error")
		e := decodeEvent(t, last.data)
		eq(t, "execute: code", e.str("error", "code"), "provider_error")
		eq(t, "execute: message", e.str("error", "message"), c.msg)

		hr, evs = s.stream("/v1/chat/completions", key, map[string]any{"model": "mini", "stream": true,
			"messages": []map[string]string{{"role": "user", "content": "hi"}}}, "", nil)
		eq(t, "status", hr.StatusCode, 200)
		last = evs[len(evs)-1]
		e = decodeEvent(t, last.data)
		eq(t, "chat: code", e.str("error", "code"), "provider_error")
		eq(t, "chat: message", e.str("error", "message"), c.msg)
		calls += 2

		u := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
		eq(t, "total_queries", u.num("total_queries"), "0")
		eq(t, "failed_calls", u.num("failed_calls"), fmt.Sprint(calls))
		eq(t, "charged the reservations", u.num("total_cost_usd"), tenancy.Money(int64(calls)*613_800).Decimal())
		eq(t, "reserved", u.num("reserved_cost_usd"), "0")
		eq(t, "price_versions", fmt.Sprint(u.get("price_versions")), "[builtin-2026-11]")
	}
	eq(t, "upstream calls", fake.Calls.Load(), int64(6))
}
