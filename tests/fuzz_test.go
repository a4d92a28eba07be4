package tests

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/localapi"
)

var tokenRE = regexp.MustCompile(`^[A-Z]{1,16}$`)

var (
	fuzzOnce sync.Once
	fuzzSrv  http.Handler
	fuzzErr  error
)

// fuzzServer is the whole local API in-process (routing, authorizer,
// handlers, the embedded DynamoDB), with a tenant and an agent in it.
func fuzzServer(f *testing.F) http.Handler {
	fuzzOnce.Do(func() {
		env := map[string]string{"TENANCY_ADMIN_KEY": adminKey, "TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_DATA_DIR": f.TempDir()}
		loc, err := localapi.Start(context.Background(), localapi.Options{App: app.Options{
			Getenv: func(k string) string { return env[k] }, Logger: newTestLogger(&logBuffer{})}})
		if err != nil {
			fuzzErr = err
			return
		}
		handlers := map[string]*api.Handler{}
		for _, fn := range api.Functions {
			handlers[fn] = loc.App.Handler(fn)
		}
		fuzzSrv = localapi.New(handlers, loc.App.Authorizer(loc.AdminKeys), loc.App.Logger)
		for _, r := range []struct{ path, body string }{
			{"/tenants", `{"tenant_id":"acme","max_agents":3}`},
			{"/tenants/acme/agents", `{"agent_id":"support"}`},
		} {
			req := httptest.NewRequest("POST", r.path, strings.NewReader(r.body))
			req.Header.Set("Authorization", "Bearer "+adminKey)
			fuzzSrv.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	if fuzzErr != nil {
		f.Fatal(fuzzErr)
	}
	return fuzzSrv
}

// FuzzAPI sends arbitrary methods, paths, bodies and keys through the whole
// local API. Whatever a client sends, the answer is never a 5xx, always
// a JSON error body with a code when it is an error, and always one the API
// document allows (a documented status of the route, a matching body).
func FuzzAPI(f *testing.F) {
	srv := fuzzServer(f)
	for _, s := range []struct {
		method, path, key, body string
	}{
		{"POST", "/tenants", adminKey, `{"tenant_id":"globex","max_cost_usd_per_day":1e-9}`},
		{"POST", "/tenants", adminKey, `{"tenant_id":"x","metadata":{"a":[1,{"b":null}]},"allowed_tools":["web_search"]}`},
		{"PATCH", "/tenants/acme", adminKey, `{"max_cost_usd_per_day":-0,"allowed_models":[]}`},
		{"POST", "/tenants/acme/agents", adminKey, `{"agent_id":"a","tools":["x"],"max_output_tokens":200000}`},
		{"POST", "/tenants/acme/agents/support/execute", adminKey, `{"query":"hi"}`},
		{"POST", "/tenants/acme/agents/support/execute", "tnk_guess", `{"query":"hi"}`},
		{"POST", "/tenants/acme/chat?query=%ff%fe&agent_id=support", adminKey, ``},
		{"GET", "/tenants/acme/usage/history?from=2026-02-30&to=2026-13-01&format=csv", adminKey, ``},
		{"GET", "/tenants?limit=-1&next_token=____", adminKey, ``},
		{"GET", "/tenants/%2e%2e/agents", adminKey, ``},
		{"DELETE", "/tenants/acme/keys/..", adminKey, ``},
		{"GET", "/tenants/acme", "", ``},
		{"POST", "/tenants/acme/reset", adminKey, `{"x":1}`},
		{"GET", "/openapi.json", "", ``},
		{"TRACE", "/", adminKey, ``},
	} {
		f.Add(s.method, s.path, s.key, []byte(s.body))
	}
	doc, err := api.OpenAPIJSON()
	if err != nil {
		f.Fatal(err)
	}
	contract := newValidatedServer(f, doc, "http://local")
	f.Fuzz(func(t *testing.T, method, path, key string, body []byte) {
		if !tokenRE.MatchString(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t\x00#") {
			return // not an HTTP request a client can send
		}
		req, err := http.NewRequest(method, "http://local"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%q): %d %s", method, path, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"code":`) {
			t.Fatalf("%s %s: %d without an error code: %s", method, path, rec.Code, rec.Body.String())
		}
		if err := contract.check(req, rec.Result(), rec.Body.Bytes()); err != nil {
			t.Fatalf("OpenAPI contract: %s %s (%q) -> %d: %v\nbody: %.500s", method, path, body, rec.Code, err, rec.Body.String())
		}
	})
}
