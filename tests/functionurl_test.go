package tests

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/api"
)

// The execute function's handler serves its function URL (streaming, keys
// checked in-process) and API Gateway's events with one binary.
func TestExecuteFunctionURL(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	h := api.FunctionURLHandler(s.loc.App.Handler(api.FnExecute), s.loc.App.Authorizer([]string{adminKey}).Auth)
	ctx := context.Background()
	urlEvent := func(method, path, auth, body string) json.RawMessage {
		ev := map[string]any{"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
			"headers": map[string]string{"content-type": "application/json"},
			"requestContext": map[string]any{"domainName": "abcdef.lambda-url.us-east-1.on.aws",
				"http": map[string]any{"method": method, "path": path, "sourceIp": "203.0.113.9"}},
			"body": body, "isBase64Encoded": false}
		if auth != "" {
			ev["headers"].(map[string]string)["authorization"] = "Bearer " + auth
		}
		b, _ := json.Marshal(ev)
		return b
	}
	read := func(out any) (int, map[string]string, string) {
		r, ok := out.(*events.LambdaFunctionURLStreamingResponse)
		if !ok {
			t.Fatalf("function URL answer %T, want a streaming response", out)
		}
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, r.Headers, string(b)
	}
	out, err := h(ctx, urlEvent("POST", "/tenants/acme/agents/support/execute", key, `{"query":"hi","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	status, headers, body := read(out)
	eq(t, "status", status, 200)
	eq(t, "content type", headers["Content-Type"], "text/event-stream")
	if !strings.HasPrefix(body, "event: delta\ndata: {\"content\":\"Answer to: hi\"}\n\nevent: done\ndata: {") {
		t.Fatalf("body %q", body)
	}
	// The function URL passes no trailer: the done event carries the overhead.
	done := decodeEvent(t, strings.TrimSuffix(body[strings.Index(body, "event: done\ndata: ")+len("event: done\ndata: "):], "\n\n"))
	overheadOf(t, done.num("overhead_ms"))
	out, _ = h(ctx, urlEvent("GET", "/v1/models", key, ""))
	status, _, body = read(out)
	eq(t, "models", status, 200)
	if !strings.Contains(body, `"id":"support"`) {
		t.Fatalf("models %s", body)
	}
	out, _ = h(ctx, urlEvent("POST", "/tenants/acme/agents/support/execute", "", `{"query":"hi","stream":true}`))
	status, _, body = read(out)
	eq(t, "no key", status, 401)
	eq(t, "no key body", body, `{"error":{"code":"unauthorized","message":"Missing API key: send Authorization: Bearer <key>","type":"authentication_error","param":null}}`)
	out, _ = h(ctx, urlEvent("POST", "/tenants/acme/agents/support/execute", "tnk_forged", `{"query":"hi","stream":true}`))
	status, _, _ = read(out)
	eq(t, "unknown key", status, 401)
	out, _ = h(ctx, urlEvent("POST", "/tenants/acme/agents/support/execute", key, `{"query":"buffered"}`))
	status, _, body = read(out)
	eq(t, "buffered through the URL", status, 200)
	if !strings.Contains(body, `"content":"Answer to: buffered"`) {
		t.Fatalf("buffered %s", body)
	}

	// An API Gateway event (authorized by the Lambda authorizer) is answered whole.
	gw := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST /tenants/{tenant_id}/agents/{agent_id}/execute",
		RawPath: "/tenants/acme/agents/support/execute", PathParameters: map[string]string{"tenant_id": "acme", "agent_id": "support"},
		Body: `{"query":"via gateway","stream":true}`,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RouteKey: "POST /tenants/{tenant_id}/agents/{agent_id}/execute",
			DomainName: "x.execute-api.us-east-1.amazonaws.com",
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{"role": "admin"}},
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}}
	b, _ := json.Marshal(gw)
	out, err = h(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	gr, ok := out.(events.APIGatewayV2HTTPResponse)
	if !ok {
		t.Fatalf("gateway answer %T", out)
	}
	eq(t, "gateway status", gr.StatusCode, 200)
	eq(t, "gateway content type", gr.Headers["Content-Type"], "text/event-stream")
	if !strings.HasPrefix(gr.Body, "event: delta\ndata: {\"content\":\"Answer to: via gateway\"}") {
		t.Fatalf("gateway body %q", gr.Body)
	}
	// Answered whole, the stream's overhead trailer is a header.
	overheadOf(t, gr.Headers[api.OverheadHeader])
	if v, ok := gr.Headers["Trailer"]; ok {
		t.Fatalf("the whole answer declares a trailer: %q", v)
	}
}
