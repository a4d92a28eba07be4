//go:build !lambda.norpc

// The OpenAPI document is built here with kin-openapi, whose packages take
// milliseconds to initialise (its JSON Schema validator compiles its
// metaschemas at init). The Lambda binaries (built with -tags lambda.norpc)
// leave this file out and serve the same document from openapi.json
// (openapi_lambda.go); TestOpenAPIFile keeps that file current (make openapi).

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Doc documents one route for the OpenAPI document. Its schemas are
// generated from the Go types the handler decodes and encodes, so they cannot
// drift from them. Every route in Routes has one (a test checks it).
type Doc struct {
	ID       string // operationId (the generated client's method name)
	Summary  string
	Request  any  // a value of the type the handler decodes the JSON body into; nil: none
	Optional bool // the body may be omitted
	Response any  // a value of the type the handler encodes on success; nil: no body
	Status   int  // the success status
	Text     []string
	// Text lists other media types of the success body, as text ("text/csv",
	// or only "text/html" for the console's page).
	Errors     []int    // statuses only this route has (409, 429, 502...); the rest follow from the route
	Query      []Param  // query string parameters
	Idempotent bool     // accepts Idempotency-Key; a replay answers Idempotent-Replayed: true
	RetryAfter bool     // its 429 always carries Retry-After
	Session    bool     // accepts the X-Session-Id request header
	Headers    []string // the success response's own headers (components/headers)
}

// Param is a query string parameter.
type Param struct {
	Name, Description string
	Schema            *openapi3.Schema
}

// docs documents every route, by route key.
var docs = map[string]Doc{
	"POST /tenants": {ID: "registerTenant", Summary: "Register a tenant (defaults from the seed)",
		Request: registerBody{}, Response: TenantView{}, Status: 201, Errors: []int{409}},
	"GET /tenants": {ID: "listTenants", Summary: "List tenants in id order (paged)",
		Response: TenantList{}, Status: 200, Query: []Param{
			{"limit", "page size", intRange(1, tenancy.MaxPageSize)},
			{"next_token", "the next_token of the previous page", openapi3.NewStringSchema()}}},
	"GET /tenants/{tenant_id}": {ID: "getTenant", Summary: "Get a tenant with its agent ids",
		Response: TenantView{}, Status: 200},
	"PATCH /tenants/{tenant_id}": {ID: "updateTenant", Summary: "Update a tenant's config (only the fields sent)",
		Request: tenancy.TenantPatch{}, Response: TenantView{}, Status: 200},
	"POST /tenants/{tenant_id}/deactivate": {ID: "deactivateTenant", Summary: "Deactivate a tenant (blocks executions)",
		Response: TenantView{}, Status: 200, Errors: []int{413}},
	"POST /tenants/{tenant_id}/activate": {ID: "activateTenant", Summary: "Activate a tenant",
		Response: TenantView{}, Status: 200, Errors: []int{413}},
	"POST /tenants/{tenant_id}/reset": {ID: "resetTenantUsage", Summary: "Reset today's usage (archived to the history first)",
		Response: tenancy.UsageReport{}, Status: 200, Errors: []int{413}},
	"POST /tenants/{tenant_id}/keys": {ID: "createTenantKey", Summary: "Create a tenant API key (shown once)",
		Response: KeyView{}, Status: 201, Errors: []int{413}},
	"DELETE /tenants/{tenant_id}/keys/{key_id}": {ID: "revokeTenantKey", Summary: "Revoke a tenant API key",
		Status: 204},
	"POST /tenants/{tenant_id}/agents": {ID: "createAgent", Summary: "Create an agent (within max_agents)",
		Request: agentBody{}, Response: AgentView{}, Status: 201, Errors: []int{409, 429}},
	"GET /tenants/{tenant_id}/agents": {ID: "listAgents", Summary: "List a tenant's agents",
		Response: AgentList{}, Status: 200},
	"GET /tenants/{tenant_id}/agents/{agent_id}": {ID: "getAgent", Summary: "Get an agent (by short id)",
		Response: AgentView{}, Status: 200},
	"DELETE /tenants/{tenant_id}/agents/{agent_id}": {ID: "deleteAgent", Summary: "Delete an agent",
		Status: 204},
	"POST /tenants/{tenant_id}/agents/{agent_id}/execute": {ID: "executeAgent",
		Summary: "Execute an agent with quota enforcement; with session_id in a conversation; with stream: true (or Accept: " +
			"text/event-stream) as server-sent events: 'delta' {content}..., then 'done' (the JSON result and overhead_ms) or 'error' (the Error)",
		Request: executeBody{}, Response: tenancy.Result{}, Text: []string{"text/event-stream"}, Status: 200,
		Errors: []int{429, 502, 504}, Idempotent: true, RetryAfter: true},
	"GET /tenants/{tenant_id}/agents/{agent_id}/sessions": {ID: "listSessions",
		Summary: "List an agent's live sessions in id order (paged)", Response: SessionList{}, Status: 200, Query: []Param{
			{"limit", "page size", intRange(1, 100)},
			{"next_token", "the next_token of the previous page", openapi3.NewStringSchema()}}},
	"GET /tenants/{tenant_id}/agents/{agent_id}/sessions/{session_id}": {ID: "getSession",
		Summary: "A session's transcript (its last max_history_turns turns)", Response: SessionView{}, Status: 200},
	"DELETE /tenants/{tenant_id}/agents/{agent_id}/sessions/{session_id}": {ID: "deleteSession",
		Summary: "Delete a session", Status: 204},
	"POST /v1/chat/completions": {ID: "createChatCompletion",
		Summary: "OpenAI-compatible chat completion (tenant key; model is an agent's short id; user or X-Session-Id selects a " +
			"session; stream: true answers chat.completion.chunk events then [DONE])",
		Request: chatRequest{}, Response: ChatCompletion{}, Text: []string{"text/event-stream"}, Status: 200,
		Errors: []int{404, 429, 502, 504}, RetryAfter: true, Session: true,
		Headers: []string{CostHeader, CallIDHeader, SessionHeader}},
	"GET /v1/models": {ID: "listModels", Summary: "OpenAI-compatible list of the tenant's agents as models (tenant key)",
		Response: ModelList{}, Status: 200},
	"POST /tenants/{tenant_id}/chat": {ID: "tenantChat", Summary: "The seed's SaaS chat route (query and agent_id from the query string or the body; the body wins)",
		Request: chatBody{}, Optional: true, Response: ChatResponse{}, Status: 200, Errors: []int{429, 502, 504},
		Idempotent: true, RetryAfter: true, Query: []Param{
			{"query", "the question (required here or in the body)", openapi3.NewStringSchema().WithMaxLength(tenancy.MaxQueryBytes)},
			{"agent_id", "the agent's short id (default support)", openapi3.NewStringSchema().WithPattern(tenancy.AgentIDPattern())}}},
	"GET /tenants/{tenant_id}/usage": {ID: "getUsage", Summary: "Usage report (today, this hour, lifetime)",
		Response: tenancy.UsageReport{}, Status: 200},
	"GET /tenants/{tenant_id}/alerts": {ID: "listAlerts", Summary: "Budget alerts (a threshold of the day's or the month's cap crossed), newest first, at most 100",
		Response: AlertList{}, Status: 200},
	"GET /tenants/{tenant_id}/usage/history": {ID: "getUsageHistory", Summary: "Daily usage history (JSON, or CSV with format=csv)",
		Response: History{}, Text: []string{"text/csv"}, Status: 200, Query: []Param{
			{"from", "first day (default: 29 days before to; with group=month the first of the month 11 months before to's)", openapi3.NewStringSchema().WithFormat("date")},
			{"to", "last day (default: the tenant's local today)", openapi3.NewStringSchema().WithFormat("date")},
			{"format", "json (default) or csv", openapi3.NewStringSchema().WithEnum("json", "csv")},
			{"group", "day (default: {\"days\":[...]}) or month (local calendar months summed from days: {\"months\":[...]})",
				openapi3.NewStringSchema().WithEnum("day", "month")}}},
	"GET /openapi.json": {ID: "getOpenAPI", Summary: "This document",
		Response: map[string]any{}, Status: 200},
	"GET /me": {ID: "whoAmI", Summary: "Who the key belongs to: the admin, or a tenant (the console's sign-in)",
		Response: Me{}, Status: 200},
	"GET /console": {ID: "getConsole", Summary: "The web console (HTML; its data calls use the caller's key)",
		Text: []string{"text/html"}, Status: 200},
	"GET /console/app.js": {ID: "getConsoleScript", Summary: "The web console's script",
		Text: []string{"text/javascript"}, Status: 200},
	"GET /console/app.css": {ID: "getConsoleStyles", Summary: "The web console's style sheet",
		Text: []string{"text/css"}, Status: 200},
}

func intRange(lo, hi int) *openapi3.Schema {
	return openapi3.NewIntegerSchema().WithMin(float64(lo)).WithMax(float64(hi))
}

// KeyIDPattern is the form of a tenant key's id (16 hex digits).
const KeyIDPattern = `^[0-9a-f]{16}$`

// pathParams are the schemas of the path parameters, by name.
var pathParams = map[string]*openapi3.Schema{
	"tenant_id":  openapi3.NewStringSchema().WithPattern(tenancy.TenantIDPattern()),
	"agent_id":   openapi3.NewStringSchema().WithPattern(tenancy.AgentIDPattern()),
	"key_id":     openapi3.NewStringSchema().WithPattern(KeyIDPattern),
	"session_id": openapi3.NewStringSchema().WithPattern(tenancy.SessionIDPattern),
}

// Servers are the API's base URLs: the local server and a deployed stage
// (the HTTP API's $default stage).
var Servers = openapi3.Servers{
	{URL: "http://127.0.0.1:3000", Description: "make run (local)"},
	{URL: "https://{api_id}.execute-api.{region}.amazonaws.com", Description: "a deployed stack (output ApiUrl)",
		Variables: map[string]*openapi3.ServerVariable{
			"api_id": {Default: "abcdef1234", Description: "the HTTP API's id"},
			"region": {Default: "us-east-1", Description: "the stack's region"}}},
}

var (
	openAPIOnce sync.Once
	openAPIDoc  *openapi3.T
	openAPIJSON []byte
	openAPIErr  error
)

// OpenAPI returns the OpenAPI 3 document of the API, built from Routes and
// docs. Its schemas are references into Components (see OpenAPIJSON for the
// document as served).
func OpenAPI() (*openapi3.T, error) {
	openAPIOnce.Do(func() {
		openAPIDoc, openAPIErr = buildOpenAPI()
		if openAPIErr == nil {
			openAPIJSON, openAPIErr = json.MarshalIndent(openAPIDoc, "", "  ")
		}
	})
	return openAPIDoc, openAPIErr
}

// OpenAPIJSON is the document as GET /openapi.json serves it.
func OpenAPIJSON() ([]byte, error) {
	_, err := OpenAPI()
	return openAPIJSON, err
}

func (h *Handler) openAPI(context.Context, *request) (int, any, error) {
	b, err := OpenAPIJSON()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rawBody{contentType: "application/json", body: string(b)}, nil
}

// errorStatuses are the statuses a route can answer with besides success:
// its own (Doc.Errors), and those that follow from its shape.
func errorStatuses(rt Route, d Doc) []int {
	// Every route: 500; and from the local server, which reads a body before
	// any route runs, 400 (unreadable) and 408 (not received in time).
	set := map[int]bool{http.StatusInternalServerError: true, http.StatusBadRequest: true, http.StatusRequestTimeout: true}
	for _, st := range d.Errors {
		set[st] = true
	}
	hasPath := strings.Contains(rt.Path, "{")
	if rt.Access != Public {
		set[http.StatusUnauthorized], set[http.StatusForbidden], set[http.StatusServiceUnavailable] = true, true, true
	}
	if hasPath {
		set[http.StatusNotFound] = true
	}
	if d.Request != nil {
		set[http.StatusRequestEntityTooLarge] = true
	}
	if d.Idempotent {
		set[http.StatusConflict], set[http.StatusUnprocessableEntity] = true, true
	}
	var out []int
	for st := range set {
		out = append(out, st)
	}
	slices.Sort(out)
	return out
}

func schemaRef(name string) *openapi3.SchemaRef {
	return openapi3.NewSchemaRef("#/components/schemas/"+name, nil)
}

func buildOpenAPI() (*openapi3.T, error) {
	gen := newSchemaGen()
	errRef, err := gen.response(ErrorBody{})
	if err != nil {
		return nil, err
	}
	headers := openapi3.Headers{
		"Retry-After": {Value: &openapi3.Header{Parameter: openapi3.Parameter{Required: true,
			Description: "Seconds until the refused call may succeed: the next hour (queries), or midnight UTC (cost)",
			Schema:      openapi3.NewIntegerSchema().WithMin(1).NewRef()}}},
		"Idempotent-Replayed": {Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: "true when this is the stored response of an earlier request with the same Idempotency-Key " +
				"(its 200, or the 409 idempotency_response_too_large kept when that response was too large to store)",
			Schema: openapi3.NewStringSchema().WithEnum("true").NewRef()}}},
		OverheadHeader: {Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: "The platform's own time on this request in milliseconds (microsecond precision), the model " +
				"provider's time excluded; on every answer of the routes that call models. A stream (text/event-stream) " +
				"declares it in Trailer: and sends it as an HTTP trailer after the body, with the value of the 'done' " +
				"event's overhead_ms (execute) or the usage chunk's tenancy.overhead_ms (/v1/chat/completions)",
			Schema: openapi3.NewStringSchema().WithPattern(`^[0-9]+\.[0-9]{3}$`).NewRef()}}},
		CostHeader: {Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: "The call's exact cost in USD (a decimal of at most 9 places); not on a stream (its usage chunk's tenancy.cost_usd)",
			Schema:      openapi3.NewStringSchema().WithPattern(`^[0-9]+(\.[0-9]{1,9})?$`).NewRef()}}},
		CallIDHeader: {Value: &openapi3.Header{Parameter: openapi3.Parameter{Required: true,
			Description: "The platform's id of the call (the completion's id is chatcmpl-<it>)",
			Schema:      openapi3.NewStringSchema().WithMinLength(1).NewRef()}}},
		SessionHeader: {Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: "The session the call was part of (X-Session-Id, else user), when there was one",
			Schema:      openapi3.NewStringSchema().WithPattern(tenancy.SessionIDPattern).NewRef()}}},
	}
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: "Multi-tenant AI agent platform", Version: "1.0.0",
			Description: "Tenants, namespaced agents, quotas (agents, queries per hour, spend per day), exact cost tracking " +
				"(money is an exact decimal number of USD, integer nano-USD inside), usage reports and billing history. " +
				"In AWS, API Gateway answers some requests before this API runs: 401 {\"message\":\"Unauthorized\"} without an " +
				"Authorization header, 429 {\"message\":\"Too Many Requests\"} when throttled, 500 {\"message\":\"Internal Server Error\"} " +
				"when the authorizer fails."},
		Servers:  Servers,
		Paths:    openapi3.NewPaths(),
		Security: openapi3.SecurityRequirements{{"bearerAuth": []string{}}},
		Components: &openapi3.Components{
			SecuritySchemes: openapi3.SecuritySchemes{"bearerAuth": {Value: &openapi3.SecurityScheme{Type: "http", Scheme: "bearer",
				Description: "The admin key, or a tenant key (its own tenant's routes only)."}}},
			Schemas: gen.schemas,
			Headers: headers,
			Parameters: openapi3.ParametersMap{IdempotencyHeader: {Value: openapi3.NewHeaderParameter(IdempotencyHeader).
				WithDescription("Makes a retry safe: a retry with the same key and request returns the first response, without a second model call or charge (kept 24 h).").
				WithSchema(openapi3.NewStringSchema().WithMinLength(1).WithMaxLength(255).WithPattern(`^[!-~]+$`))},
				SessionHeader: {Value: openapi3.NewHeaderParameter(SessionHeader).
					WithDescription("The session (conversation) of the call; it wins over the body's user").
					WithSchema(openapi3.NewStringSchema().WithPattern(tenancy.SessionIDPattern))}},
		},
	}
	for _, fn := range Functions {
		for _, rt := range Routes {
			if rt.Function == fn {
				doc.Tags = append(doc.Tags, &openapi3.Tag{Name: fn, Description: "Served by the " + fn + " Lambda function"})
				break
			}
		}
	}
	for _, rt := range Routes {
		d, ok := docs[rt.RouteKey()]
		if !ok {
			return nil, fmt.Errorf("openapi: route %s has no Doc", rt.RouteKey())
		}
		op, err := operation(gen, rt, d, errRef)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s: %w", rt.RouteKey(), err)
		}
		item := doc.Paths.Value(rt.Path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(rt.Path, item)
		}
		item.SetOperation(rt.Method, op)
	}
	return doc, nil
}

func operation(gen *schemaGen, rt Route, d Doc, errRef *openapi3.SchemaRef) (*openapi3.Operation, error) {
	if d.Status == 0 || d.Summary == "" || d.ID == "" {
		return nil, fmt.Errorf("Doc needs ID, Summary and Status")
	}
	op := &openapi3.Operation{OperationID: d.ID, Summary: d.Summary, Responses: openapi3.NewResponses(),
		Tags: []string{rt.Function}, Extensions: map[string]any{"x-function": rt.Function}}
	op.Responses.Delete("default")
	for _, seg := range strings.Split(rt.Path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(name, "}")
			s, ok := pathParams[name]
			if !ok {
				return nil, fmt.Errorf("path parameter %s has no schema in pathParams", name)
			}
			op.AddParameter(openapi3.NewPathParameter(name).WithSchema(s))
		}
	}
	for _, q := range d.Query {
		op.AddParameter(openapi3.NewQueryParameter(q.Name).WithDescription(q.Description).WithSchema(q.Schema))
	}
	if d.Idempotent {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Ref: "#/components/parameters/" + IdempotencyHeader})
	}
	if d.Session {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Ref: "#/components/parameters/" + SessionHeader})
	}
	if d.Request != nil {
		ref, err := gen.request(d.Request)
		if err != nil {
			return nil, err
		}
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(!d.Optional).
			WithContent(openapi3.NewContentWithJSONSchemaRef(ref))}
	}
	success := openapi3.NewResponse().WithDescription(http.StatusText(d.Status))
	if d.Response != nil {
		ref, err := gen.response(d.Response)
		if err != nil {
			return nil, err
		}
		success.Content = openapi3.NewContentWithJSONSchemaRef(ref)
	}
	for _, mt := range d.Text {
		if success.Content == nil {
			success.Content = openapi3.Content{}
		}
		success.Content[mt] = openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema())
	}
	header := func(r *openapi3.Response, name string) {
		if r.Headers == nil {
			r.Headers = openapi3.Headers{}
		}
		r.Headers[name] = &openapi3.HeaderRef{Ref: "#/components/headers/" + name}
	}
	if d.Idempotent {
		header(success, "Idempotent-Replayed")
	}
	for _, name := range d.Headers {
		header(success, name)
	}
	if rt.Function == FnExecute { // Handler.Handle and statusWriter time these routes
		header(success, OverheadHeader)
	}
	op.AddResponse(d.Status, success)
	for _, st := range errorStatuses(rt, d) {
		r := openapi3.NewResponse().WithDescription(http.StatusText(st)).WithContent(openapi3.NewContentWithJSONSchemaRef(errRef))
		if st == http.StatusTooManyRequests && d.RetryAfter {
			header(r, "Retry-After")
		}
		if st == http.StatusConflict && d.Idempotent {
			header(r, "Idempotent-Replayed")
		}
		if st == http.StatusRequestTimeout {
			r.WithDescription("Request Timeout (the local server: the body was not received in time; API Gateway answers its own)")
		}
		if rt.Function == FnExecute {
			header(r, OverheadHeader)
		}
		op.AddResponse(st, r)
	}
	if rt.Access == Public {
		op.Security = &openapi3.SecurityRequirements{}
	}
	return op, nil
}

// schemaGen generates component schemas from Go types with openapi3gen:
// every struct is a closed object (additionalProperties: false); a response
// lists every field it always encodes as required; a request carries the
// server's bounds (requestBounds) and its required fields (tag
// `openapi:"required"`). Money is a number, time.Time a date-time.
type schemaGen struct {
	schemas openapi3.Schemas
	req     *openapi3gen.Generator
	resp    *openapi3gen.Generator
	kind    map[string]string // component name -> "request" or "response"
}

func newSchemaGen() *schemaGen {
	g := &schemaGen{schemas: openapi3.Schemas{}, kind: map[string]string{}}
	opts := func(request bool) []openapi3gen.Option {
		return []openapi3gen.Option{
			openapi3gen.CreateComponentSchemas(openapi3gen.ExportComponentSchemasOptions{
				ExportComponentSchemas: true, ExportTopLevelSchema: true}),
			openapi3gen.CreateTypeNameGenerator(typeName),
			openapi3gen.SchemaCustomizer(func(name string, t reflect.Type, tag reflect.StructTag, s *openapi3.Schema) error {
				return customize(request, name, t, tag, s)
			}),
		}
	}
	g.req, g.resp = openapi3gen.NewGenerator(opts(true)...), openapi3gen.NewGenerator(opts(false)...)
	return g
}

func (g *schemaGen) request(v any) (*openapi3.SchemaRef, error)  { return g.gen(g.req, "request", v) }
func (g *schemaGen) response(v any) (*openapi3.SchemaRef, error) { return g.gen(g.resp, "response", v) }

func (g *schemaGen) gen(gen *openapi3gen.Generator, kind string, v any) (*openapi3.SchemaRef, error) {
	before := maps.Clone(g.schemas)
	ref, err := gen.NewSchemaRefForValue(v, g.schemas)
	if err != nil {
		return nil, err
	}
	for name, s := range g.schemas {
		if old, ok := before[name]; ok && old == s {
			continue
		}
		if g.kind[name] != "" { // generated again, by the other generator
			return nil, fmt.Errorf("type %s is both a request and a response schema", name)
		}
		g.kind[name] = kind
	}
	if ref.Ref != "" {
		return schemaRef(strings.TrimPrefix(ref.Ref, "#/components/schemas/")), nil
	}
	return ref, nil
}

// typeNames are the component names of types whose Go name is not the
// client's (unexported request types, views).
var typeNames = map[reflect.Type]string{
	reflect.TypeFor[registerBody]():       "TenantInput",
	reflect.TypeFor[agentBody]():          "AgentInput",
	reflect.TypeFor[executeBody]():        "ExecuteInput",
	reflect.TypeFor[chatBody]():           "ChatInput",
	reflect.TypeFor[TenantView]():         "Tenant",
	reflect.TypeFor[AgentView]():          "Agent",
	reflect.TypeFor[KeyView]():            "Key",
	reflect.TypeFor[tenancy.Result]():     "ExecuteResult",
	reflect.TypeFor[provider.Usage]():     "TokenUsage",
	reflect.TypeFor[ErrorBody]():          "Error",
	reflect.TypeFor[chatRequest]():        "ChatCompletionRequest",
	reflect.TypeFor[chatRequestMessage](): "ChatCompletionRequestMessage",
	reflect.TypeFor[SessionView]():        "Session",
}

// inlined are the struct types whose schema is written where a field uses
// it, not as a component: those only ever used as nullable fields.
var inlined = map[reflect.Type]bool{
	reflect.TypeFor[tenancy.OptionalMoney]():  true,
	reflect.TypeFor[tenancy.OptionalString](): true,
	reflect.TypeFor[chatStreamOptions]():      true,
}

func typeName(t reflect.Type) string {
	if inlined[t] {
		return "" // inlined where used: a component would lose the field's nullable (openapi3gen)
	}
	if n, ok := typeNames[t]; ok {
		return n
	}
	n := []rune(t.Name())
	if len(n) == 0 {
		return ""
	}
	n[0] = unicode.ToUpper(n[0])
	return string(n)
}

var (
	moneyType = reflect.TypeFor[tenancy.Money]()
	timeType  = reflect.TypeFor[time.Time]()
	codeType  = reflect.TypeFor[ErrorCode]()
	classType = reflect.TypeFor[ErrorClass]()
	optMoney  = reflect.TypeFor[tenancy.OptionalMoney]()
	optString = reflect.TypeFor[tenancy.OptionalString]()
	roleType  = reflect.TypeFor[auth.Role]()
	// chatContentType is an OpenAI message's content: a string or parts.
	chatContentType = reflect.TypeFor[chatContent]()
)

// openTypes are the request objects whose unknown fields are ignored
// (DecodeOpenJSON): OpenAI's, whose SDKs send what the platform does not
// implement. Every other struct is closed.
var openTypes = map[reflect.Type]bool{
	reflect.TypeFor[chatRequest]():        true,
	reflect.TypeFor[chatRequestMessage](): true,
	reflect.TypeFor[chatStreamOptions]():  true,
}

// requestBounds are the server's bounds on request fields, by JSON name
// (for an array, on its items; the array's own bounds are under "[]name").
var requestBounds = map[string]func(*openapi3.Schema){
	"tenant_id": func(s *openapi3.Schema) { s.WithPattern(tenancy.TenantIDPattern()) },
	"agent_id":  func(s *openapi3.Schema) { s.WithPattern(tenancy.AgentIDPattern()) },
	"name":      func(s *openapi3.Schema) { s.WithMinLength(1).WithMaxLength(tenancy.MaxNameLen) },
	"max_agents": func(s *openapi3.Schema) {
		s.WithMin(0).WithMax(tenancy.MaxAgentsLimit)
	},
	"max_queries_per_hour": func(s *openapi3.Schema) { s.WithMin(0).WithMax(tenancy.MaxQueriesPerHourCap) },
	"max_cost_usd_per_day": func(s *openapi3.Schema) { s.WithMin(0).WithMax(tenancy.MaxMoney.Float()) },
	"openclaw_gateway_url": func(s *openapi3.Schema) {
		s.WithPattern(`^(https?://.+)?$`).WithMaxLength(2048)
		s.Description = "admin only: the tenant's own OpenClaw gateway, an http(s) URL; \"\" or null removes it"
	},
	"openclaw_gateway_token_secret": func(s *openapi3.Schema) {
		s.WithPattern("^(" + strings.TrimSuffix(strings.TrimPrefix(tenancy.GatewayTokenSecretPattern, "^"), "$") + ")?$")
		s.Description = "admin only: the secret holding the gateway's token, named " + tenancy.GatewayTokenSecretRule +
			"; \"\" or null removes it"
	},
	"allowed_models":   func(s *openapi3.Schema) { s.WithPattern(tenancy.NamePattern) },
	"allowed_tools":    func(s *openapi3.Schema) { s.WithPattern(tenancy.NamePattern) },
	"tools":            func(s *openapi3.Schema) { s.WithPattern(tenancy.NamePattern) },
	"[]allowed_models": func(s *openapi3.Schema) { s.WithMaxItems(tenancy.MaxListLen) },
	"[]allowed_tools":  func(s *openapi3.Schema) { s.WithMaxItems(tenancy.MaxListLen) },
	"[]tools":          func(s *openapi3.Schema) { s.WithMaxItems(tenancy.MaxListLen) },
	"llm_model":        func(s *openapi3.Schema) { s.WithPattern(tenancy.NamePattern) },
	"system_prompt": func(s *openapi3.Schema) {
		s.WithMinLength(1).WithMaxLength(tenancy.MaxSystemPromptBytes)
		s.Description = fmt.Sprintf("at most %d bytes of UTF-8", tenancy.MaxSystemPromptBytes)
	},
	"max_output_tokens": func(s *openapi3.Schema) { s.WithMin(1).WithMax(tenancy.MaxOutputTokensLimit) },
	"alert_thresholds_pct": func(s *openapi3.Schema) {
		s.WithMin(1).WithMax(100)
		s.Type = &openapi3.Types{"integer"}
	},
	"[]alert_thresholds_pct": func(s *openapi3.Schema) { s.WithMaxItems(tenancy.MaxAlertThresholds) },
	"query": func(s *openapi3.Schema) {
		s.WithMinLength(1).WithMaxLength(tenancy.MaxQueryBytes)
		s.Description = fmt.Sprintf("at most %d bytes of UTF-8", tenancy.MaxQueryBytes)
	},
	"session_id":            func(s *openapi3.Schema) { s.WithPattern(tenancy.SessionIDPattern) },
	"user":                  func(s *openapi3.Schema) { s.WithPattern(tenancy.SessionIDPattern) },
	"max_tokens":            func(s *openapi3.Schema) { s.WithMin(1) },
	"max_completion_tokens": func(s *openapi3.Schema) { s.WithMin(1) },
	"n":                     func(s *openapi3.Schema) { s.WithMin(1).WithMax(1) },
	"role": func(s *openapi3.Schema) {
		s.WithEnum("system", "developer", "user", "assistant")
	},
	"max_history_turns": func(s *openapi3.Schema) { s.WithMin(0).WithMax(tenancy.MaxHistoryTurnsLimit) },
	"session_ttl_days":  func(s *openapi3.Schema) { s.WithMin(1).WithMax(tenancy.MaxSessionTTLDays) },
	"timezone": func(s *openapi3.Schema) {
		s.WithMinLength(1).WithMaxLength(64)
		s.Description = "IANA time zone of the tenant's day (default UTC); a change takes effect at the next local midnight"
	},
	"metadata": func(s *openapi3.Schema) {
		s.Description = fmt.Sprintf("any JSON object of at most %d bytes", tenancy.MaxMetadataBytes)
	},
}

// responseFormats are the formats of response fields, by JSON name.
var responseFormats = map[string]func(*openapi3.Schema){
	"tenant_id":  func(s *openapi3.Schema) { s.WithPattern(tenancy.TenantIDPattern()) },
	"short_id":   func(s *openapi3.Schema) { s.WithPattern(tenancy.AgentIDPattern()) },
	"key_id":     func(s *openapi3.Schema) { s.WithPattern(KeyIDPattern) },
	"date":       func(s *openapi3.Schema) { s.WithFormat("date") },
	"usage_date": func(s *openapi3.Schema) { s.WithFormat("date") },
	"period":     func(s *openapi3.Schema) { s.WithEnum("day", "month") },
	"month":      func(s *openapi3.Schema) { s.WithPattern(`^[0-9]{4}-[0-9]{2}$`) },
	"openclaw_gateway_token_secret": func(s *openapi3.Schema) {
		s.WithPattern(tenancy.GatewayTokenSecretPattern)
		s.Description = "admin key only (a tenant key never sees it)"
	},
	"openclaw_gateway_url": func(s *openapi3.Schema) { s.Description = "admin key only (a tenant key never sees it)" },
}

func customize(request bool, name string, t reflect.Type, tag reflect.StructTag, s *openapi3.Schema) error {
	switch {
	case t == optMoney: // a patch's nullable amount: a number, or null to remove (inlined: typeName)
		*s = *openapi3.NewFloat64Schema()
		s.Format, s.Nullable = "", true
		s.Description = "USD, an exact decimal (at most 9 decimals), or null for none"
		s.WithMin(0).WithMax(tenancy.MaxMoney.Float())
		return nil
	case t == optString: // a patch's nullable string: null (or "") removes the setting (inlined: typeName)
		*s = *openapi3.NewStringSchema()
		s.Nullable = true
		if f, ok := requestBounds[name]; ok {
			f(s)
		}
		return nil
	case t == moneyType:
		s.Type, s.Format = &openapi3.Types{"number"}, "double"
		s.Description = "USD, an exact decimal (integer nano-USD inside: at most 9 decimals)"
	case t == chatContentType:
		*s = openapi3.Schema{Description: "a string, or an array of text parts {type: text, text}",
			Properties: openapi3.Schemas{}} // non-nil: openapi3gen exports it as a component
	case t == codeType:
		s.WithEnum(stringsToAny(ErrorCodes())...)
	case t == classType:
		s.WithEnum(stringsToAny(ErrorClasses)...)
	case t == roleType: // GET /me: a key that passed is the admin's or a tenant's
		s.WithEnum(string(auth.RoleAdmin), string(auth.RoleTenant))
	case t.Kind() == reflect.Struct && t != timeType:
		// A struct is a closed object; a response lists what it always has.
		s.Type = &openapi3.Types{"object"}
		if s.Properties == nil {
			s.Properties = openapi3.Schemas{}
		}
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: new(openTypes[t])}
		s.Required = requiredFields(request, t)
		for _, name := range s.Required { // a required request field may not be null either
			if p := s.Properties[name]; request && p != nil && p.Value != nil {
				p.Value.Nullable = false
			}
		}
		return nil
	}
	if t.Kind() == reflect.Struct || t.Kind() == reflect.Interface {
		return nil
	}
	var bounds map[string]func(*openapi3.Schema)
	if request {
		bounds = requestBounds
	} else {
		bounds = responseFormats
	}
	key := name
	if t.Kind() == reflect.Slice {
		key = "[]" + name
	}
	if f, ok := bounds[key]; ok {
		f(s)
	}
	return nil
}

// requiredFields are the JSON names of a struct's required fields: in a
// request, those tagged `openapi:"required"`; in a response, every field
// without omitempty (the handler always encodes it).
func requiredFields(request bool, t reflect.Type) []string {
	var out []string
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		tag, ok := f.Tag.Lookup("json")
		if !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if request && f.Tag.Get("openapi") == "required" ||
			!request && !slices.Contains(strings.Split(opts, ","), "omitempty") {
			out = append(out, name)
		}
	}
	return out
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
