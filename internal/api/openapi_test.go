package api

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// loadDoc is the served document, parsed and resolved as a client would.
func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	b, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("not a valid OpenAPI document: %v", err)
	}
	return doc
}

// No route without a Doc, no Doc without a route, no route without a
// handler; operation ids are unique.
func TestEveryRouteDocumented(t *testing.T) {
	impl := New("", Deps{}).implementations()
	ids := map[string]string{}
	keys := map[string]bool{}
	for _, rt := range Routes {
		k := rt.RouteKey()
		keys[k] = true
		d, ok := docs[k]
		if !ok {
			t.Errorf("route %s has no Doc in docs", k)
			continue
		}
		if impl[k] == nil {
			t.Errorf("route %s has no implementation", k)
		}
		if prev, dup := ids[d.ID]; dup {
			t.Errorf("operationId %s used by %s and %s", d.ID, prev, k)
		}
		ids[d.ID] = k
	}
	for k := range docs {
		if !keys[k] {
			t.Errorf("Doc %s documents no route", k)
		}
	}
	doc := loadDoc(t)
	n := 0
	for _, item := range doc.Paths.Map() {
		n += len(item.Operations())
	}
	if n != len(Routes) {
		t.Errorf("%d operations documented, %d routes", n, len(Routes))
	}
}

func schema(t *testing.T, doc *openapi3.T, name string) *openapi3.Schema {
	t.Helper()
	s := doc.Components.Schemas[name]
	if s == nil || s.Value == nil {
		t.Fatalf("no schema %s", name)
	}
	return s.Value
}

func eqv(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func typ(s *openapi3.SchemaRef) string {
	if s == nil || s.Value == nil || s.Value.Type == nil {
		return "<none>"
	}
	return strings.Join(*s.Value.Type, ",")
}

func TestSchemasFromGoTypes(t *testing.T) {
	doc := loadDoc(t)
	// Responses: every field the handler always encodes is required.
	eqv(t, "Tenant required", schema(t, doc, "Tenant").Required, []string{"tenant_id", "name", "max_agents",
		"max_queries_per_hour", "max_cost_usd_per_day", "allowed_models", "allowed_tools", "metadata", "timezone", "max_cost_usd_per_month", "alert_thresholds_pct", "session_ttl_days", "is_active",
		"agent_count", "created_at", "updated_at"})
	eqv(t, "ExecuteResult required", schema(t, doc, "ExecuteResult").Required,
		[]string{"content", "agent_id", "model", "provider", "usage", "cost_usd", "overage_usd", "call_id"})
	eqv(t, "TokenUsage required", schema(t, doc, "TokenUsage").Required, []string{"input_tokens", "output_tokens"})
	eqv(t, "TenantList.next_token nullable", schema(t, doc, "TenantList").Properties["next_token"].Value.Nullable, true)
	// Exact types: money is a number, times and dates have formats.
	report := schema(t, doc, "UsageReport")
	for _, f := range []string{"total_cost_usd", "max_cost_usd_per_day", "reserved_cost_usd", "lifetime_cost_usd"} {
		eqv(t, f, typ(report.Properties[f]), "number")
	}
	eqv(t, "usage_date format", report.Properties["usage_date"].Value.Format, "date")
	eqv(t, "resets_at format", report.Properties["resets_at"].Value.Format, "date-time")
	eqv(t, "DayUsage.date format", schema(t, doc, "DayUsage").Properties["date"].Value.Format, "date")
	eqv(t, "Tenant closed", *schema(t, doc, "Tenant").AdditionalProperties.Has, false)
	// Error codes are an enum of every code.
	code := schema(t, doc, "ErrorDetail").Properties["code"].Value
	eqv(t, "error code enum", code.Enum, stringsToAny(ErrorCodes()))
	for c := range statusOf {
		if !slices.Contains(code.Enum, any(string(c))) {
			t.Errorf("code %s not in the enum", c)
		}
	}
	// Requests carry the server's bounds.
	in := schema(t, doc, "TenantInput")
	eqv(t, "TenantInput required", in.Required, []string{"tenant_id"})
	eqv(t, "tenant_id pattern", in.Properties["tenant_id"].Value.Pattern, tenancy.TenantIDPattern())
	ma := in.Properties["max_agents"].Value
	eqv(t, "max_agents range", fmt.Sprint(*ma.Min, " ", *ma.Max), fmt.Sprint(0, " ", tenancy.MaxAgentsLimit))
	mc := in.Properties["max_cost_usd_per_day"].Value
	eqv(t, "max_cost range", fmt.Sprint(typ(in.Properties["max_cost_usd_per_day"]), " ", *mc.Min, " ", *mc.Max), "number 0 1e+06")
	eqv(t, "allowed_models maxItems", *in.Properties["allowed_models"].Value.MaxItems, tenancy.MaxListLen)
	eqv(t, "TenantPatch has no tenant_id", schema(t, doc, "TenantPatch").Properties["tenant_id"] == nil, true)
	ag := schema(t, doc, "AgentInput")
	eqv(t, "AgentInput required", ag.Required, []string{"agent_id"})
	mo := ag.Properties["max_output_tokens"].Value
	eqv(t, "max_output_tokens range", fmt.Sprint(*mo.Min, " ", *mo.Max), "1 200000")
	// Fixes of the audit (issues 9, 10, 13): a null monthly budget, a
	// null gateway, the gateway secret's shape, the roles, the error types,
	// the open OpenAI request.
	for _, name := range []string{"TenantInput", "TenantPatch"} {
		p := schema(t, doc, name).Properties
		m := p["max_cost_usd_per_month"].Value
		eqv(t, name+" max_cost_usd_per_month", fmt.Sprint(p["max_cost_usd_per_month"].Ref == "", " ", typ(p["max_cost_usd_per_month"]), " ", m.Nullable, " ", *m.Min),
			"true number true 0")
		sec := p["openclaw_gateway_token_secret"].Value
		eqv(t, name+" token secret", fmt.Sprint(sec.Nullable, " ", sec.Pattern),
			"true ^(tenancy-[a-z][a-z0-9-]{0,19}/tenant-gateway/[A-Za-z0-9_+=.@-]{1,128})?$")
		eqv(t, name+" gateway url nullable", p["openclaw_gateway_url"].Value.Nullable, true)
	}
	eqv(t, "no OptionalMoney component", doc.Components.Schemas["OptionalMoney"] == nil, true)
	eqv(t, "Tenant token secret", schema(t, doc, "Tenant").Properties["openclaw_gateway_token_secret"].Value.Pattern,
		tenancy.GatewayTokenSecretPattern)
	eqv(t, "Me.role", schema(t, doc, "Me").Properties["role"].Value.Enum, []any{"admin", "tenant"})
	eqv(t, "error type enum", schema(t, doc, "ErrorDetail").Properties["type"].Value.Enum, stringsToAny(ErrorClasses))
	for st := 400; st < 600; st++ {
		if !slices.Contains(ErrorClasses, ErrorType(st)) {
			t.Errorf("ErrorType(%d) = %q is not in ErrorClasses", st, ErrorType(st))
		}
	}
	cr := schema(t, doc, "ChatCompletionRequest")
	eqv(t, "ChatCompletionRequest open", *cr.AdditionalProperties.Has, true)
	eqv(t, "ChatCompletionRequest required", cr.Required, []string{"model", "messages"})
	for _, f := range []string{"max_tokens", "max_completion_tokens"} {
		eqv(t, f+" minimum", *cr.Properties[f].Value.Min, 1)
	}
	eqv(t, "stream_options nullable", cr.Properties["stream_options"].Value.Nullable, true)
	msg := schema(t, doc, "ChatCompletionRequestMessage")
	eqv(t, "message open", fmt.Sprint(*msg.AdditionalProperties.Has, msg.Required, msg.Properties["role"].Value.Enum),
		"true [role] [system developer user assistant]")
	ex := schema(t, doc, "ExecuteInput")
	eqv(t, "ExecuteInput.query", fmt.Sprint(ex.Required, ex.Properties["query"].Value.Nullable, ex.Properties["query"].Value.MinLength),
		"[query] false 1")
}

func TestOperations(t *testing.T) {
	doc := loadDoc(t)
	op := func(method, path string) *openapi3.Operation {
		t.Helper()
		o := doc.Paths.Find(path).GetOperation(method)
		if o == nil {
			t.Fatalf("%s %s not documented", method, path)
		}
		return o
	}
	statuses := func(o *openapi3.Operation) []string {
		var out []string
		for k := range o.Responses.Map() {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	eqv(t, "servers", len(doc.Servers), 2)
	eqv(t, "local server", doc.Servers[0].URL, "http://127.0.0.1:3000")

	limit := op("GET", "/tenants").Parameters.GetByInAndName("query", "limit").Schema.Value
	eqv(t, "limit", fmt.Sprint(typ(&openapi3.SchemaRef{Value: limit}), " ", *limit.Min, " ", *limit.Max), "integer 1 100")
	format := op("GET", "/tenants/{tenant_id}/usage/history").Parameters.GetByInAndName("query", "format").Schema.Value
	eqv(t, "format enum", format.Enum, []any{"json", "csv"})
	hist := op("GET", "/tenants/{tenant_id}/usage/history").Responses.Status(200).Value.Content
	eqv(t, "history media types", hist.Get("text/csv") != nil && hist.Get("application/json") != nil, true)

	ex := op("POST", "/tenants/{tenant_id}/agents/{agent_id}/execute")
	eqv(t, "execute statuses", statuses(ex), []string{"200", "400", "401", "403", "404", "408", "409", "413", "422", "429", "500", "502", "503", "504"})
	eqv(t, "execute Idempotency-Key", ex.Parameters.GetByInAndName("header", "Idempotency-Key") != nil, true)
	eqv(t, "execute Retry-After required", ex.Responses.Status(429).Value.Headers["Retry-After"].Value.Required, true)
	eqv(t, "execute Idempotent-Replayed", ex.Responses.Status(200).Value.Headers["Idempotent-Replayed"] != nil, true)
	ag := op("POST", "/tenants/{tenant_id}/agents")
	eqv(t, "create agent 429 has no Retry-After", ag.Responses.Status(429).Value.Headers["Retry-After"] == nil, true)
	eqv(t, "create agent no Idempotency-Key", ag.Parameters.GetByInAndName("header", "Idempotency-Key") == nil, true)
	eqv(t, "register statuses", statuses(op("POST", "/tenants")), []string{"201", "400", "401", "403", "408", "409", "413", "500", "503"})
	eqv(t, "revoke statuses", statuses(op("DELETE", "/tenants/{tenant_id}/keys/{key_id}")),
		[]string{"204", "400", "401", "403", "404", "408", "500", "503"})
	eqv(t, "openapi.json public", len(*op("GET", "/openapi.json").Security), 0)
	eqv(t, "openapi.json statuses", statuses(op("GET", "/openapi.json")), []string{"200", "400", "408", "500"})
	// The 409 of an idempotent route may be a replay (idempotency_response_too_large).
	eqv(t, "execute 409 Idempotent-Replayed", ex.Responses.Status(409).Value.Headers["Idempotent-Replayed"] != nil, true)
	eqv(t, "create agent 409 no Idempotent-Replayed", ag.Responses.Status(409).Value.Headers["Idempotent-Replayed"] == nil, true)
	// The headers of the routes that call models.
	headers := func(r *openapi3.ResponseRef) []string {
		var out []string
		for k, h := range r.Value.Headers {
			out = append(out, fmt.Sprint(k, "=", h.Value.Required))
		}
		slices.Sort(out)
		return out
	}
	cc := op("POST", "/v1/chat/completions")
	eqv(t, "chat completion 200 headers", headers(cc.Responses.Status(200)),
		[]string{"X-Session-Id=false", "X-Tenancy-Call-Id=true", "X-Tenancy-Cost-USD=false", "X-Tenancy-Overhead-Ms=false"})
	eqv(t, "chat completion 429 headers", headers(cc.Responses.Status(429)), []string{"Retry-After=true", "X-Tenancy-Overhead-Ms=false"})
	eqv(t, "chat completion X-Session-Id", cc.Parameters.GetByInAndName("header", "X-Session-Id").Schema.Value.Pattern,
		tenancy.SessionIDPattern)
	eqv(t, "execute 200 headers", headers(ex.Responses.Status(200)), []string{"Idempotent-Replayed=false", "X-Tenancy-Overhead-Ms=false"})
	eqv(t, "execute 502 headers", headers(ex.Responses.Status(502)), []string{"X-Tenancy-Overhead-Ms=false"})
	eqv(t, "models 200 headers", headers(op("GET", "/v1/models").Responses.Status(200)), []string{"X-Tenancy-Overhead-Ms=false"})
	eqv(t, "usage 200 headers", headers(op("GET", "/tenants/{tenant_id}/usage").Responses.Status(200)), []string(nil))
	eqv(t, "execute X-Session-Id", ex.Parameters.GetByInAndName("header", "X-Session-Id") == nil, true)
	eqv(t, "tenant_id path pattern", op("GET", "/tenants/{tenant_id}").Parameters.GetByInAndName("path", "tenant_id").Schema.Value.Pattern,
		tenancy.TenantIDPattern())
}

// A type documented as both a request and a response (two different
// schemas under one name) is refused.
func TestRequestResponseTypeClash(t *testing.T) {
	g := newSchemaGen()
	if _, err := g.response(tenancy.TenantPatch{}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.request(tenancy.TenantPatch{}); err == nil || !strings.Contains(err.Error(), "both a request and a response") {
		t.Fatalf("err = %v", err)
	}
}
