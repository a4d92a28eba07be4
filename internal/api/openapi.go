package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// operation documents one route. The OpenAPI document is built from Routes
// and this table; a test checks both against each other and against the
// statuses the end-to-end tests observe.
type operation struct {
	summary  string
	request  string // component schema of the JSON body, "" for none
	response string // component schema of the success body, "" for none
	success  int
	errors   []int
	query    []string // query string parameters
}

var common = []int{400, 401, 403, 404, 503}

var operations = map[string]operation{
	"POST /tenants":                                 {"Register a tenant", "TenantInput", "Tenant", 201, []int{400, 401, 403, 409, 413, 503}, nil},
	"GET /tenants":                                  {"List tenants (paged)", "", "TenantList", 200, []int{400, 401, 403, 503}, []string{"limit", "next_token"}},
	"GET /tenants/{tenant_id}":                      {"Get a tenant with its agent ids", "", "Tenant", 200, common, nil},
	"PATCH /tenants/{tenant_id}":                    {"Update a tenant's config", "TenantPatch", "Tenant", 200, append(common, 413), nil},
	"POST /tenants/{tenant_id}/deactivate":          {"Deactivate a tenant (blocks executions)", "", "Tenant", 200, common, nil},
	"POST /tenants/{tenant_id}/activate":            {"Activate a tenant", "", "Tenant", 200, common, nil},
	"POST /tenants/{tenant_id}/reset":               {"Reset today's usage (archived to history first)", "", "UsageReport", 200, common, nil},
	"POST /tenants/{tenant_id}/keys":                {"Create a tenant API key (shown once)", "", "Key", 201, common, nil},
	"DELETE /tenants/{tenant_id}/keys/{key_id}":     {"Revoke a tenant API key", "", "", 204, common, nil},
	"POST /tenants/{tenant_id}/agents":              {"Create an agent", "AgentInput", "Agent", 201, []int{400, 401, 403, 404, 409, 413, 429, 503}, nil},
	"GET /tenants/{tenant_id}/agents":               {"List a tenant's agents", "", "AgentList", 200, common, nil},
	"GET /tenants/{tenant_id}/agents/{agent_id}":    {"Get an agent (by short id)", "", "Agent", 200, common, nil},
	"DELETE /tenants/{tenant_id}/agents/{agent_id}": {"Delete an agent", "", "", 204, common, nil},
	"POST /tenants/{tenant_id}/agents/{agent_id}/execute": {"Execute an agent with quota enforcement", "ExecuteInput", "ExecuteResult", 200,
		[]int{400, 401, 403, 404, 409, 413, 422, 429, 502, 503, 504}, nil},
	"POST /tenants/{tenant_id}/chat": {"The seed's SaaS chat route", "ChatInput", "ChatResponse", 200,
		[]int{400, 401, 403, 404, 409, 413, 422, 429, 502, 503, 504}, []string{"query", "agent_id"}},
	"GET /tenants/{tenant_id}/usage":         {"Usage report", "", "UsageReport", 200, common, nil},
	"GET /tenants/{tenant_id}/usage/history": {"Daily usage history (JSON or CSV)", "", "History", 200, common, []string{"from", "to", "format"}},
	"GET /openapi.json":                      {"This document", "", "", 200, nil, nil},
}

var (
	openAPIOnce sync.Once
	openAPIDoc  map[string]any
)

// OpenAPI returns the OpenAPI 3 document of the API.
func OpenAPI() map[string]any {
	openAPIOnce.Do(func() { openAPIDoc = buildOpenAPI() })
	return openAPIDoc
}

func (h *Handler) openAPI(context.Context, *request) (int, any, error) {
	return http.StatusOK, OpenAPI(), nil
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func buildOpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range Routes {
		op := operations[rt.RouteKey()]
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		var params []any
		for _, seg := range strings.Split(rt.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true,
					"schema": map[string]any{"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"}})
			}
		}
		for _, q := range op.query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
		}
		responses := map[string]any{}
		success := map[string]any{"description": http.StatusText(op.success)}
		switch {
		case op.response != "":
			success["content"] = map[string]any{"application/json": map[string]any{"schema": ref(op.response)}}
		case rt.Path == "/openapi.json":
			success["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		}
		if rt.Path == "/tenants/{tenant_id}/usage/history" {
			success["content"].(map[string]any)["text/csv"] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
		responses[strconv.Itoa(op.success)] = success
		for _, st := range op.errors {
			responses[strconv.Itoa(st)] = map[string]any{"description": http.StatusText(st),
				"content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
		}
		o := map[string]any{"summary": op.summary, "operationId": operationID(rt), "responses": responses,
			"x-function": rt.Function}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.request != "" {
			o["requestBody"] = map[string]any{"required": op.request != "ChatInput",
				"content": map[string]any{"application/json": map[string]any{"schema": ref(op.request)}}}
		}
		if rt.Access == Public {
			o["security"] = []any{}
		}
		item[strings.ToLower(rt.Method)] = o
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "Multi-tenant AI agent platform", "version": "1.0.0",
			"description": "Tenants, namespaced agents, quotas (agents, queries per hour, spend per day), exact cost tracking in nano-USD, usage reports and billing history."},
		"paths":    paths,
		"security": []any{map[string]any{"bearerAuth": []any{}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearerAuth": map[string]any{"type": "http", "scheme": "bearer",
				"description": "The admin key, or a tenant key (its own tenant's routes only)."}},
			"schemas": schemas(),
		},
	}
}

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, seg := range strings.Split(rt.Path, "/") {
		seg = strings.Trim(seg, "{}")
		seg = strings.NewReplacer("_", "", ".", "").Replace(seg)
		if seg != "" {
			b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
		}
	}
	return b.String()
}

func obj(required []string, props map[string]any) map[string]any {
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

var (
	str     = map[string]any{"type": "string"}
	integer = map[string]any{"type": "integer"}
	boolean = map[string]any{"type": "boolean"}
	usd     = map[string]any{"type": "number", "description": "USD, exact decimal of integer nano-USD"}
	strList = map[string]any{"type": "array", "items": str}
	idStr   = map[string]any{"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"}
	dateStr = map[string]any{"type": "string", "format": "date"}
	timeStr = map[string]any{"type": "string", "format": "date-time"}
	anyObj  = map[string]any{"type": "object"}
)

func tenantProps(withID bool) map[string]any {
	p := map[string]any{
		"name": str, "max_agents": integer, "max_queries_per_hour": integer, "max_cost_usd_per_day": usd,
		"allowed_models": strList, "allowed_tools": strList, "metadata": anyObj,
	}
	if withID {
		p["tenant_id"] = idStr
	}
	return p
}

func schemas() map[string]any {
	tenant := tenantProps(true)
	for k, v := range map[string]any{"is_active": boolean, "agent_count": integer, "agent_ids": strList,
		"created_at": timeStr, "updated_at": timeStr} {
		tenant[k] = v
	}
	modelUsage := obj(nil, map[string]any{"queries": integer, "input_tokens": integer, "output_tokens": integer,
		"cache_read_tokens": integer, "cache_write_tokens": integer, "cost_usd": usd})
	byModel := map[string]any{"type": "object", "additionalProperties": modelUsage}
	day := obj(nil, map[string]any{"date": dateStr, "queries": integer, "cost_usd": usd, "input_tokens": integer,
		"output_tokens": integer, "cache_read_tokens": integer, "cache_write_tokens": integer, "failed_calls": integer,
		"unsettled_reserved_usd": usd, "price_versions": strList, "by_model": byModel})
	agent := obj(nil, map[string]any{"agent_id": str, "short_id": idStr, "tenant_id": idStr, "name": str,
		"system_prompt": str, "llm_model": str, "tools": strList, "max_output_tokens": integer, "created_at": timeStr})
	return map[string]any{
		"TenantInput": obj([]string{"tenant_id"}, tenantProps(true)),
		"TenantPatch": obj(nil, tenantProps(false)),
		"Tenant":      obj(nil, tenant),
		"TenantList": obj([]string{"tenants", "next_token"}, map[string]any{"tenants": map[string]any{"type": "array", "items": ref("Tenant")},
			"next_token": map[string]any{"type": "string", "nullable": true}}),
		"AgentInput": obj([]string{"agent_id"}, map[string]any{"agent_id": idStr, "name": str, "system_prompt": str,
			"llm_model": str, "tools": strList, "max_output_tokens": map[string]any{"type": "integer", "minimum": 1, "maximum": 200000}}),
		"Agent":        agent,
		"AgentList":    obj([]string{"agents"}, map[string]any{"agents": map[string]any{"type": "array", "items": ref("Agent")}}),
		"ExecuteInput": obj([]string{"query"}, map[string]any{"query": str}),
		"ExecuteResult": obj(nil, map[string]any{"content": str, "agent_id": str, "model": str, "provider": str,
			"usage":    obj(nil, map[string]any{"input_tokens": integer, "output_tokens": integer, "cache_read_tokens": integer, "cache_write_tokens": integer}),
			"cost_usd": usd, "call_id": str}),
		"ChatInput":    obj(nil, map[string]any{"query": str, "agent_id": idStr}),
		"ChatResponse": obj([]string{"response"}, map[string]any{"response": str}),
		"UsageReport": obj(nil, map[string]any{"tenant_id": idStr, "name": str, "is_active": boolean, "agents": integer,
			"max_agents": integer, "total_queries": integer, "total_cost_usd": usd, "max_cost_usd_per_day": usd,
			"cost_utilization_pct": map[string]any{"type": "number"}, "queries_today": integer, "queries_this_hour": integer,
			"max_queries_per_hour": integer, "usage_date": dateStr, "resets_at": timeStr, "reserved_cost_usd": usd,
			"lifetime_cost_usd": usd, "failed_calls": integer, "by_model": byModel, "price_versions": strList}),
		"History": obj([]string{"days"}, map[string]any{"days": map[string]any{"type": "array", "items": day}}),
		"Key":     obj(nil, map[string]any{"key_id": str, "key": str, "tenant_id": idStr, "created_at": timeStr}),
		"Error": obj([]string{"error"}, map[string]any{"error": obj([]string{"code", "message"},
			map[string]any{"code": str, "message": str})}),
	}
}
