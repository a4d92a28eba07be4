package api

import (
	"net/http"
	"testing"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// FuzzDecodeBodies feeds arbitrary bytes to every request body the API
// parses. Whatever arrives, the outcome is a value or a 400 with a message:
// never a panic, never another status.
func FuzzDecodeBodies(f *testing.F) {
	for _, seed := range []string{
		`{"tenant_id":"acme","name":"Acme Corp","max_agents":5,"max_cost_usd_per_day":10.0,"allowed_models":["gpt-4o-mini"]}`,
		`{"tenant_id":"acme","metadata":{"plan":"enterprise","n":[1,2,{"x":null}]}}`,
		`{"agent_id":"support","system_prompt":"You are Acme Corp support.","tools":["web_search"],"max_output_tokens":1024}`,
		`{"query":"Help me reset my password"}`, `{"query":"hi","agent_id":"sales"}`,
		`{"max_cost_usd_per_day":1e-9}`, `{"max_cost_usd_per_day":1e400}`, `{"max_cost_usd_per_day":-0}`,
		`{"max_agents":9223372036854775808}`, `{"max_agents":1.5}`, `{"name":"\ud800"}`, `{"tenant_id":"a\u0000b"}`,
		``, `null`, `[]`, `{`, `{"a":1}`, `{} {}`, `{"query":"x"}garbage`, "\xff\xfe", `{"tools":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			if p := toProblem(err); p.status != http.StatusBadRequest || p.message == "" {
				t.Fatalf("body %q: status %d %q", body, p.status, p.message)
			}
		}
		var reg registerBody
		err := DecodeJSON(body, &reg)
		check(err)
		if err == nil {
			cfg := tenancy.NewTenantConfig(reg.TenantID)
			reg.TenantPatch.Apply(&cfg)
			check(cfg.Validate())
		}
		var patch tenancy.TenantPatch
		check(DecodeJSON(body, &patch))
		var ab agentBody
		check(DecodeJSON(body, &ab))
		var eb executeBody
		check(DecodeJSON(body, &eb))
		var cb chatBody
		check(DecodeJSON(body, &cb))
	})
}
