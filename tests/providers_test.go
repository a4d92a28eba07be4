package tests

import (
	"testing"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/fakemodel"
)

// An execute through the local API against a fake OpenAI-compatible server:
// the fake gets the agent's system prompt and max_tokens, the response
// carries the fake's content, and the cost is exactly what its usage
// implies at gpt-4o-mini's prices (150 and 600 nano-USD per token).
func TestExecuteThroughOpenAICompatibleServer(t *testing.T) {
	fake, err := fakemodel.Start("sk-test", fakemodel.Usage{PromptTokens: 1234, CompletionTokens: 567})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	s := newServer(t, false, withEnv(map[string]string{"OPENAI_BASE_URL": fake.URL, "OPENAI_API_KEY": fake.Key}))
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "mini", "llm_model": "gpt-4o-mini",
		"system_prompt": "You are Acme Corp support.", "max_output_tokens": 300}), 201)
	r := s.must(s.do("POST", "/tenants/acme/agents/mini/execute", adminKey, map[string]any{"query": "Help me reset my password"}), 200)
	eq(t, "content", r.str("content"), "fake answer to: Help me reset my password")
	eq(t, "provider", r.str("provider"), "openai")
	eq(t, "input tokens", r.num("usage", "input_tokens"), "1234")
	eq(t, "output tokens", r.num("usage", "output_tokens"), "567")
	eq(t, "cost (1234 x 150 + 567 x 600 nano-USD)", r.num("cost_usd"), "0.0005253")
	last := fake.Last()
	eq(t, "model sent", last.Model, "gpt-4o-mini")
	eq(t, "max tokens sent", last.MaxTokens, 300)
	eq(t, "system prompt sent", last.System, "You are Acme Corp support.")
	eq(t, "query sent", last.User, "Help me reset my password")
	eq(t, "auth", last.Authorization, "Bearer sk-test")
	u := s.usage()
	eq(t, "billed", u.num("total_cost_usd"), "0.0005253")
	eq(t, "by model", u.num("by_model", "gpt-4o-mini", "input_tokens"), "1234")

	// A slow provider: the call times out (504), the reservation is released.
	fake.Delay.Store(int64(3e9))
	s2 := newServer(t, false, withEnv(map[string]string{"OPENAI_BASE_URL": fake.URL, "OPENAI_API_KEY": fake.Key,
		"TENANCY_PROVIDER_TIMEOUT": "300ms"}))
	s2.must(s2.do("POST", "/tenants", adminKey, acme), 201)
	s2.must(s2.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "mini", "llm_model": "gpt-4o-mini"}), 201)
	r = s2.must(s2.do("POST", "/tenants/acme/agents/mini/execute", adminKey, map[string]any{"query": "hi"}), 504)
	eq(t, "code", r.str("error", "code"), "provider_timeout")
	r = s2.must(s2.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "released", r.num("reserved_cost_usd"), "0")
	eq(t, "failed calls", r.num("failed_calls"), "1")
}

// withEnv adds environment variables to a test server's wiring.
func withEnv(extra map[string]string) func(*app.Options) {
	return func(o *app.Options) {
		base := o.Getenv
		o.Getenv = func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base(k)
		}
	}
}
