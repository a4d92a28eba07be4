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
	eqv(t, "execute statuses", statuses(ex), []string{"200", "400", "401", "403", "404", "409", "413", "422", "429", "500", "502", "503", "504"})
	eqv(t, "execute Idempotency-Key", ex.Parameters.GetByInAndName("header", "Idempotency-Key") != nil, true)
	eqv(t, "execute Retry-After required", ex.Responses.Status(429).Value.Headers["Retry-After"].Value.Required, true)
	eqv(t, "execute Idempotent-Replayed", ex.Responses.Status(200).Value.Headers["Idempotent-Replayed"] != nil, true)
	ag := op("POST", "/tenants/{tenant_id}/agents")
	eqv(t, "create agent 429 has no Retry-After", ag.Responses.Status(429).Value.Headers["Retry-After"] == nil, true)
	eqv(t, "create agent no Idempotency-Key", ag.Parameters.GetByInAndName("header", "Idempotency-Key") == nil, true)
	eqv(t, "register statuses", statuses(op("POST", "/tenants")), []string{"201", "400", "401", "403", "409", "413", "500", "503"})
	eqv(t, "revoke statuses", statuses(op("DELETE", "/tenants/{tenant_id}/keys/{key_id}")),
		[]string{"204", "400", "401", "403", "404", "500", "503"})
	eqv(t, "openapi.json public", len(*op("GET", "/openapi.json").Security), 0)
	eqv(t, "openapi.json statuses", statuses(op("GET", "/openapi.json")), []string{"200", "500"})
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
