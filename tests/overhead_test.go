package tests

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

var msFormat = regexp.MustCompile(`^[0-9]+\.[0-9]{3}$`)

// overheadOf parses X-Tenancy-Overhead-Ms.
func overheadOf(t *testing.T, v string) time.Duration {
	t.Helper()
	if !msFormat.MatchString(v) {
		t.Fatalf("%s = %q, want milliseconds with 3 decimals", api.OverheadHeader, v)
	}
	f, _ := strconv.ParseFloat(v, 64)
	return time.Duration(f * float64(time.Millisecond))
}

// The routes that call models report each call's overhead: the time
// through the local API less the provider's own. The model here takes 150
// ms, so a header that counted it would be at least 150 ms.
func TestOverheadHeader(t *testing.T) {
	const modelTime = 150 * time.Millisecond
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	s.model.onCall(func() { time.Sleep(modelTime) })

	check := func(name, path string, body any, status int, called bool) {
		t.Helper()
		t0 := time.Now()
		r := s.must(s.do("POST", path, adminKey, body), status)
		total := time.Since(t0)
		o := overheadOf(t, r.header.Get(api.OverheadHeader))
		if called && total-o < modelTime {
			t.Fatalf("%s: overhead %v of %v in all: the model's %v was counted", name, o, total, modelTime)
		}
		if o > total {
			t.Fatalf("%s: overhead %v over the client's %v", name, o, total)
		}
	}
	check("execute", "/tenants/acme/agents/support/execute", map[string]any{"query": "hi"}, 200, true)
	check("chat", "/tenants/acme/chat?query=hi", nil, 200, true)
	// Refusals report it too (no model call: all of it is overhead).
	check("unknown agent", "/tenants/acme/agents/ghost/execute", map[string]any{"query": "hi"}, 404, false)
	check("bad body", "/tenants/acme/agents/support/execute", "{", 400, false)
	// A failed model call is the provider's time as well.
	s.model.set(provider.Usage{}, provider.ErrUpstream)
	check("provider failed", "/tenants/acme/agents/support/execute", map[string]any{"query": "hi"}, 502, true)

	// Other routes do not carry it.
	r := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	if v, ok := r.header[api.OverheadHeader]; ok {
		t.Fatalf("usage carries %s: %v", api.OverheadHeader, v)
	}
}

// In Lambda (no local server), the execute function's handler measures from
// its own start.
func TestOverheadHeaderInHandler(t *testing.T) {
	const modelTime = 100 * time.Millisecond
	emb, _ := embeddedTable(t, "tenancy")
	model := &fixedModel{usage: provider.Usage{InputTokens: 10, OutputTokens: 5}}
	model.onCall(func() { time.Sleep(modelTime) })
	ctx := context.Background()
	a, err := app.New(ctx, app.Options{Getenv: env(map[string]string{"DYNAMODB_ENDPOINT": emb.URL}),
		Clock: clock.NewManual(t0), Logger: newTestLogger(&logBuffer{}), Models: model})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Service.RegisterTenant(ctx, tenancy.NewTenantConfig("acme")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Service.CreateAgent(ctx, "acme", tenancy.NewAgentConfig("support")); err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayV2HTTPRequest{RouteKey: "POST /tenants/{tenant_id}/agents/{agent_id}/execute",
		PathParameters: map[string]string{"tenant_id": "acme", "agent_id": "support"}, Body: `{"query":"hi"}`,
		RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			Lambda: api.PrincipalContext(auth.Principal{Role: auth.RoleAdmin})}}}
	t1 := time.Now()
	resp, _ := a.Handler(api.FnExecute).Handle(ctx, ev)
	total := time.Since(t1)
	eq(t, "status", resp.StatusCode, 200)
	o := overheadOf(t, resp.Headers[api.OverheadHeader])
	if total-o < modelTime || o > total {
		t.Fatalf("overhead %v of %v in all, model %v", o, total, modelTime)
	}
	// The timing a caller started (the local server's) is the one used.
	ctx2, _ := tenancy.StartTiming(ctx, time.Now().Add(-time.Hour))
	resp, _ = a.Handler(api.FnExecute).Handle(ctx2, ev)
	if o := overheadOf(t, resp.Headers[api.OverheadHeader]); o < time.Hour-time.Second {
		t.Fatalf("overhead %v ignores the caller's start", o)
	}
}

// The OpenAI-compatible route reports it too (on a stream, whose header
// leaves before the model has answered, as a trailer: TestStreamOverheadTrailer).
func TestOverheadHeaderOpenAIRoute(t *testing.T) {
	const modelTime = 150 * time.Millisecond
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	s.model.onCall(func() { time.Sleep(modelTime) })
	msgs := []any{map[string]any{"role": "user", "content": "hi"}}

	t0 := time.Now()
	r := s.must(s.do("POST", "/v1/chat/completions", key, map[string]any{"model": "support", "messages": msgs}), 200)
	total := time.Since(t0)
	if o := overheadOf(t, r.header.Get(api.OverheadHeader)); total-o < modelTime || o > total {
		t.Fatalf("overhead %v of %v in all, model %v", o, total, modelTime)
	}
	r = s.must(s.do("POST", "/v1/chat/completions", key, map[string]any{"model": "ghost", "messages": msgs}), 404)
	overheadOf(t, r.header.Get(api.OverheadHeader))
	r = s.must(s.do("POST", "/v1/chat/completions", key, map[string]any{"model": "support", "messages": msgs, "stream": true}), 200)
	if v, ok := r.header[api.OverheadHeader]; ok {
		t.Fatalf("a stream carries %s: %v", api.OverheadHeader, v)
	}
}

// A stream's overhead is known only at its end: the response declares
// X-Tenancy-Overhead-Ms as a trailer (Trailer:) and sends it after the body
// (read here by net/http's client), with the same value as the "done"
// event's overhead_ms (execute) or the usage chunk's tenancy.overhead_ms
// (/v1/chat/completions). The model takes 150 ms, which is not counted.
func TestStreamOverheadTrailer(t *testing.T) {
	const modelTime = 150 * time.Millisecond
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	s.model.onCall(func() { time.Sleep(modelTime) })
	msgs := []any{map[string]any{"role": "user", "content": "hi"}}

	trailer := func(name string, hr *http.Response, total time.Duration) string {
		t.Helper()
		eq(t, name+": status", hr.StatusCode, 200)
		eq(t, name+": content type", hr.Header.Get("Content-Type"), "text/event-stream")
		// net/http's client moves the declared Trailer: names to hr.Trailer
		// and fills their values at the end of the body.
		eq(t, name+": trailers", len(hr.Trailer), 1)
		if v, ok := hr.Header[api.OverheadHeader]; ok {
			t.Fatalf("%s: the stream's header carries %s: %v", name, api.OverheadHeader, v)
		}
		v := hr.Trailer.Get(api.OverheadHeader)
		if o := overheadOf(t, v); total-o < modelTime || o > total {
			t.Fatalf("%s: overhead %v of %v in all, model %v", name, o, total, modelTime)
		}
		return v
	}
	for _, accept := range []string{"", "text/event-stream"} {
		t0 := time.Now()
		hr, evs := s.stream("/tenants/acme/agents/support/execute", key, map[string]any{"query": "hi", "stream": accept == ""}, accept, nil)
		v := trailer("execute "+accept, hr, time.Since(t0))
		eq(t, "events", len(evs), 2)
		eq(t, "done", evs[1].name, "done")
		done := decodeEvent(t, evs[1].data)
		eq(t, "done overhead_ms = the trailer", done.num("overhead_ms"), v)
		eq(t, "done cost", done.num("cost_usd"), "0.0105")
	}

	t0 := time.Now()
	hr, evs := s.stream("/v1/chat/completions", key, map[string]any{"model": "support", "messages": msgs, "stream": true,
		"stream_options": map[string]any{"include_usage": true}}, "", nil)
	v := trailer("chat with usage", hr, time.Since(t0))
	eq(t, "chunks", evs[len(evs)-1].data, "[DONE]")
	usage := decodeEvent(t, evs[len(evs)-2].data)
	eq(t, "usage chunk overhead_ms = the trailer", usage.num("tenancy", "overhead_ms"), v)
	eq(t, "usage chunk cost", usage.num("tenancy", "cost_usd"), "0.0105")

	// Without a usage chunk the trailer still comes.
	t0 = time.Now()
	hr, _ = s.stream("/v1/chat/completions", key, map[string]any{"model": "support", "messages": msgs, "stream": true}, "", nil)
	trailer("chat without usage", hr, time.Since(t0))
}
