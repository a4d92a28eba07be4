package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/fakemodel"
	"github.com/openclaw/tenancy/internal/localapi"
)

// Issue 9, finding 1: namespaced agent ids are unique and gateway-safe.
func TestNamespacedIDsNeverCollide(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "a"}), 201)
	s.must(s.do("POST", "/tenants/a/agents", adminKey, map[string]any{"agent_id": "b-c", "llm_model": "gpt-4o-mini"}), 201)
	// The tenant that would have shared tenant-a-b-c is refused, and nothing is stored.
	r := s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "a-b"}), 400)
	eq(t, "code", r.str("error", "code"), "validation_error")
	eq(t, "message", r.errMsg(), "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)")
	s.must(s.do("GET", "/tenants/a-b", adminKey, nil), 400)
	// Never silently lowercased.
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "ACME"}), 400)
	s.must(s.do("GET", "/tenants/acme", adminKey, nil), 404)
	r = s.must(s.do("POST", "/tenants/a/agents", adminKey, map[string]any{"agent_id": strings.Repeat("x", 25)}), 400)
	eq(t, "message", r.errMsg(), "agent_id must match ^[a-z0-9][a-z0-9_-]{0,23}$ (lowercase letters, digits, underscores and hyphens, at most 24 characters)")
	long := strings.Repeat("t", 32)
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": long, "allowed_models": []string{"gpt-4o-mini"}}), 201)
	r = s.must(s.do("POST", "/tenants/"+long+"/agents", adminKey, map[string]any{"agent_id": strings.Repeat("a", 24), "llm_model": "gpt-4o-mini"}), 201)
	eq(t, "longest namespaced id", len(r.str("agent_id")), 64)
}

// Issue 9, finding 5: exact, duplicate-free JSON keys; metadata numbers kept exactly.
func TestStrictJSONAndExactMetadata(t *testing.T) {
	s := newServer(t, true)
	r := s.must(s.do("POST", "/tenants", adminKey, `{"tenant_id":"n13","TENANT_ID":"n14"}`), 400)
	eq(t, "message", r.errMsg(), "Unknown field 'TENANT_ID'")
	s.must(s.do("GET", "/tenants/n14", adminKey, nil), 404)
	s.must(s.do("GET", "/tenants/n13", adminKey, nil), 404)
	r = s.must(s.do("POST", "/tenants", adminKey, `{"tenant_id":"n13","tenant_id":"n14"}`), 400)
	eq(t, "message", r.errMsg(), "Duplicate field 'tenant_id' in request body")
	s.must(s.do("GET", "/tenants/n14", adminKey, nil), 404)

	body := `{"tenant_id":"n15","metadata":{"big":9007199254740993,"dec":0.10000000000000000555,"neg":-1e400,"nested":{"n":123456789012345678901234567890}}}`
	r = s.must(s.do("POST", "/tenants", adminKey, body), 201)
	for _, got := range []resp{r, s.must(s.do("GET", "/tenants/n15", adminKey, nil), 200)} {
		eq(t, "big", got.num("metadata", "big"), "9007199254740993")
		eq(t, "dec", got.num("metadata", "dec"), "0.10000000000000000555")
		eq(t, "neg", got.num("metadata", "neg"), "-1e400")
		eq(t, "nested", got.num("metadata", "nested", "n"), "123456789012345678901234567890")
		if !strings.Contains(got.raw, `"big":9007199254740993`) {
			t.Fatalf("raw body %s", got.raw)
		}
	}
	r = s.must(s.do("PATCH", "/tenants/n15", adminKey, `{"metadata":{"id":12345678901234567890}}`), 200)
	eq(t, "patched", r.num("metadata", "id"), "12345678901234567890")
	eq(t, "stored", s.must(s.do("GET", "/tenants/n15", adminKey, nil), 200).num("metadata", "id"), "12345678901234567890")
}

// openClawCatalog routes one model to the OpenClaw gateway.
func openClawCatalog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog.json")
	data := `{"version":"claw-1","models":[{"name":"claw-agent","family":"openai","route":"openclaw","price":{"input":1000,"output":2000}}]}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Issue 9, finding 2: every OpenClaw call chooses the agent and the session
// itself, never forwards a client's header, names an unknown agent to the
// operator, and a tenant with its own gateway is served only there.
func TestOpenClawCallsAreTenantScoped(t *testing.T) {
	gw, err := fakemodel.Start("gw-token", fakemodel.Usage{PromptTokens: 10, CompletionTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gw.SetAgents("tenant-acme-support", "tenant-globex-support")
	own, err := fakemodel.Start("globex-own-token", fakemodel.Usage{PromptTokens: 7, CompletionTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	own.SetAgents("tenant-globex-support")
	gatewayRoot := strings.TrimSuffix(gw.URL, "/v1")
	s := newServer(t, false, withEnv(map[string]string{"TENANCY_CATALOG_FILE": openClawCatalog(t),
		"OPENCLAW_GATEWAY_URL": gatewayRoot, "OPENCLAW_GATEWAY_TOKEN": "gw-token", "TENANCY_DEV_TENANT_GATEWAY_GLOBEX": "globex-own-token"}))
	for _, id := range []string{"acme", "globex", "initech"} {
		s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": id, "allowed_models": []string{"claw-agent"}}), 201)
		s.must(s.do("POST", "/tenants/"+id+"/agents", adminKey, map[string]any{"agent_id": "support", "llm_model": "claw-agent"}), 201)
	}
	// A client trying to steer the gateway to another tenant's agent and session.
	hostile := map[string]string{"x-openclaw-session-key": "agent:tenant-globex-support:main",
		"x-openclaw-agent-id": "tenant-globex-support", "x-openclaw-agent": "tenant-globex-support"}
	r := s.must(s.doH("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi"}, hostile), 200)
	last := gw.Last()
	eq(t, "model", last.Model, "openclaw/tenant-acme-support")
	eq(t, "session key", last.Header.Get("x-openclaw-session-key"), "agent:tenant-acme-support:"+r.str("call_id"))
	eq(t, "agent header", last.Header.Get("x-openclaw-agent-id")+last.Header.Get("x-openclaw-agent"), "")
	eq(t, "authorization", last.Authorization, "Bearer gw-token")
	for k := range last.Header {
		if k != "Authorization" && k != "Content-Type" && k != "Accept" && k != "Accept-Encoding" && k != "User-Agent" &&
			k != "Content-Length" && k != "X-Openclaw-Session-Key" {
			t.Errorf("unexpected header %s sent to the gateway", k)
		}
	}

	// An agent the gateway does not have: 502 telling the operator what to do.
	r = s.must(s.do("POST", "/tenants/initech/agents/support/execute", adminKey, map[string]any{"query": "hi"}), 502)
	eq(t, "code", r.str("error", "code"), "provider_error")
	eq(t, "message", r.errMsg(), "openclaw: the gateway has no agent 'tenant-initech-support'; the operator must create it on the gateway "+
		"(agents.entries.tenant-initech-support in its config, or agents.create) before this agent can execute: model provider error")

	// A tenant's own gateway (admin-only fields): strict isolation.
	// The token secret must be under the tenant-gateway prefix (the only
	// secrets the execute function may read in AWS): any other name is a 400
	// that changes nothing.
	for _, name := range []string{"GLOBEX_GW_TOKEN", "tenancy-dev/admin-key", "tenancy-dev/tenant-gateway/", "tenancy-dev/tenant-gateway/a/b",
		"prod/tenant-gateway/globex", "tenancy-Dev/tenant-gateway/globex", "tenancy-dev/tenant-gateway/globex*"} {
		r = s.must(s.do("PATCH", "/tenants/globex", adminKey, map[string]any{"openclaw_gateway_url": strings.TrimSuffix(own.URL, "/v1"),
			"openclaw_gateway_token_secret": name}), 400)
		eq(t, "bad secret "+name, r.str("error", "code")+": "+r.errMsg(), "validation_error: openclaw_gateway_token_secret must be named "+
			"tenancy-<stage>/tenant-gateway/<name> (stage ^[a-z][a-z0-9-]{0,19}$, name ^[A-Za-z0-9_+=.@-]{1,128}$)")
	}
	r = s.must(s.do("GET", "/tenants/globex", adminKey, nil), 200)
	eq(t, "unchanged after 400s", r.str("openclaw_gateway_url")+r.str("openclaw_gateway_token_secret"), "")
	// Locally the token is the environment variable named after the secret.
	r = s.must(s.do("PATCH", "/tenants/globex", adminKey, map[string]any{"openclaw_gateway_url": strings.TrimSuffix(own.URL, "/v1"),
		"openclaw_gateway_token_secret": "tenancy-dev/tenant-gateway/globex"}), 200)
	eq(t, "token secret", r.str("openclaw_gateway_token_secret"), "tenancy-dev/tenant-gateway/globex")
	eq(t, "gateway url", r.str("openclaw_gateway_url"), strings.TrimSuffix(own.URL, "/v1"))
	before := gw.Calls.Load()
	r = s.must(s.do("POST", "/tenants/globex/agents/support/execute", adminKey, map[string]any{"query": "hello"}), 200)
	eq(t, "shared gateway calls", gw.Calls.Load(), before)
	eq(t, "own gateway calls", own.Calls.Load(), 1)
	eq(t, "own gateway auth", own.Last().Authorization, "Bearer globex-own-token")
	eq(t, "own gateway session", own.Last().Header.Get("x-openclaw-session-key"), "agent:tenant-globex-support:"+r.str("call_id"))
	key := s.must(s.do("POST", "/tenants/globex/keys", adminKey, nil), 201).str("key")
	r = s.must(s.do("GET", "/tenants/globex", key, nil), 200)
	if strings.Contains(r.raw, "openclaw_gateway") {
		t.Errorf("a tenant key sees admin-only fields: %s", r.raw)
	}
	s.must(s.do("PATCH", "/tenants/globex", key, map[string]any{"openclaw_gateway_url": "http://evil.example"}), 403)
	r = s.must(s.do("PATCH", "/tenants/globex", adminKey, map[string]any{"openclaw_gateway_url": "ftp://x"}), 400)
	eq(t, "bad url", r.errMsg(), "openclaw_gateway_url must be an http(s) URL without credentials, query or fragment")
}

// Issue 9, finding 5: a provider error never shows the client the
// provider's URL, host, port or path; the log keeps them.
func TestProviderErrorsHideTheProvider(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // nothing listens there: connection refused
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		fmt.Fprintf(w, `{"error":{"message":"No route for POST %s on %s (see http://%s/docs)","type":"not_found"}}`, r.URL.Path, r.Host, r.Host)
	}))
	defer echo.Close()
	for _, c := range []struct{ base, want, logged string }{
		{"http://" + closed + "/secret/v1", "openai: request failed: connection refused (gave up after 4 attempts): model provider error", closed},
		{echo.URL + "/internal/v9", "openai: HTTP 404 (not_found): No route for POST [path] on [address] (see [url]): model provider error", "/internal/v9/chat/completions"},
	} {
		s := newServer(t, false, withEnv(map[string]string{"OPENAI_BASE_URL": c.base, "OPENAI_API_KEY": "sk-x",
			"TENANCY_PROVIDER_TIMEOUT": "20s"}))
		s.must(s.do("POST", "/tenants", adminKey, acme), 201)
		s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "mini", "llm_model": "gpt-4o-mini"}), 201)
		r := s.must(s.do("POST", "/tenants/acme/agents/mini/execute", adminKey, map[string]any{"query": "hi"}), 502)
		eq(t, "message", r.errMsg(), c.want)
		host := strings.TrimPrefix(echo.URL, "http://")
		for _, leak := range []string{closed, host, "127.0.0.1", "/secret", "/internal", "/chat/completions"} {
			if strings.Contains(r.raw, leak) {
				t.Errorf("the client sees %q: %s", leak, r.raw)
			}
		}
		if !strings.Contains(s.logs.String(), c.logged) {
			t.Errorf("the log lacks %q: %s", c.logged, s.logs.String())
		}
	}
}

// Issue 9, finding 5: the local server bounds reading a request in time, as
// API Gateway does: a stalled body is answered 408 and runs nothing, stalled
// headers close the connection.
func TestLocalServerBoundsReadingARequest(t *testing.T) {
	loc, err := localapi.Start(context.Background(), localapi.Options{ReadTimeout: 500 * time.Millisecond,
		App: app.Options{Getenv: env(map[string]string{"TENANCY_ADMIN_KEY": adminKey, "TENANCY_LISTEN": "127.0.0.1:0",
			"TENANCY_DATA_DIR": t.TempDir()}),
			Logger: newTestLogger(&logBuffer{})}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loc.Serve(ctx) }()
	defer func() { cancel(); <-done; loc.Close() }()
	addr := strings.TrimPrefix(loc.URL, "http://")

	send := func(raw string) (string, time.Duration) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if _, err := c.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c) // until the server answers and closes, or the deadline
		return string(b), time.Since(start)
	}
	// A body that never finishes: 408 within the read timeout, nothing registered.
	got, took := send("POST /tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + adminKey +
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tenant_id\":\"slow\"")
	if !strings.HasPrefix(got, "HTTP/1.1 408 ") || !strings.HasSuffix(got,
		"\r\n\r\n"+`{"error":{"code":"request_timeout","message":"The request was not received in time","type":"invalid_request_error","param":null}}`) {
		t.Fatalf("stalled body answered %q", got)
	}
	if took > 5*time.Second {
		t.Fatalf("stalled body held the connection %s", took)
	}
	// Both answers follow the API document (the one error mapper's JSON,
	// 408 and 400 documented on every route).
	doc, err := api.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	srv := newValidatedServer(t, doc, loc.URL)
	conforms := func(method, path, raw string) {
		t.Helper()
		hr, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(hr.Body)
		if err := srv.check(mustRequest(t, method, loc.URL+path), hr, body); err != nil {
			t.Errorf("%s %s -> %d: %v", method, path, hr.StatusCode, err)
		}
	}
	conforms("POST", "/tenants", got)
	// A body that cannot be read (a broken chunked encoding): 400, nothing registered.
	got, _ = send("POST /tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + adminKey +
		"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{\"tenant_id\":\"slow\"}\r\n0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") || !strings.HasSuffix(got,
		"\r\n\r\n"+`{"error":{"code":"validation_error","message":"Request body could not be read","type":"invalid_request_error","param":null}}`) {
		t.Fatalf("unreadable body answered %q", got)
	}
	conforms("POST", "/tenants", got)
	// Headers that never finish: the connection is closed.
	got, took = send("POST /tenants HTTP/1.1\r\nHost: x\r\nAuthoriz")
	if took > 5*time.Second || strings.Contains(got, "200 OK") {
		t.Fatalf("stalled headers: %q after %s", got, took)
	}
	req, _ := http.NewRequest("GET", loc.URL+"/tenants/slow", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	eq(t, "the stalled registration ran nothing", hr.StatusCode, 404)
}
