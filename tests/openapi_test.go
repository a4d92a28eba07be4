package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/openclaw/tenancy/internal/api"
)

// Every response of a local API started by newServer is validated against
// the OpenAPI document that server serves (GET /openapi.json), with
// kin-openapi's openapi3filter: the status is documented for the route, the
// body matches its schema, documented required headers are present. The
// check sits in http.DefaultTransport (installed by TestMain), so it covers
// every call a test makes through any client that does not bring its own
// transport, now and later. The Lambda binaries' answers to API Gateway
// events under the runtime emulator are checked too (checkLambdaResponse).

func init() {
	// Media types other routes may answer (validated as text).
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// contract is the validating transport.
var contract = &validatingTransport{servers: map[string]*validatedServer{}}

type validatingTransport struct {
	base    http.RoundTripper
	mu      sync.Mutex
	servers map[string]*validatedServer // by host:port
}

type validatedServer struct {
	t      testing.TB
	doc    *openapi3.T
	router routers.Router
}

// installContract makes http.DefaultTransport validate the responses of
// registered servers.
func installContract() {
	contract.base = http.DefaultTransport
	http.DefaultTransport = contract
}

// validate registers a local API's URL: from now until the test ends, its
// responses are checked against the document it serves.
func (v *validatingTransport) validate(t testing.TB, base string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := v.base.RoundTrip(mustRequest(t, "GET", base+"/openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
	}
	srv := newValidatedServer(t, raw, base)
	v.mu.Lock()
	v.servers[u.Host] = srv
	v.mu.Unlock()
	t.Cleanup(func() {
		v.mu.Lock()
		delete(v.servers, u.Host)
		v.mu.Unlock()
	})
}

// newValidatedServer parses and validates an API document; its router
// matches requests to base (servers are matched by host).
func newValidatedServer(t testing.TB, raw []byte, base string) *validatedServer {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("served document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("served document is not valid OpenAPI: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &validatedServer{t: t, doc: doc, router: router}
}

// checkLambdaResponse validates what a Lambda binary answered to an API
// Gateway HTTP API event against the API document (the binaries are built
// from this source). Other events (the authorizer's, the schedule's) are not
// HTTP responses and pass.
func checkLambdaResponse(t testing.TB, event, raw []byte) {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	var resp events.APIGatewayV2HTTPResponse
	if json.Unmarshal(event, &ev) != nil || ev.RequestContext.HTTP.Method == "" ||
		json.Unmarshal(raw, &resp) != nil || resp.StatusCode == 0 {
		return
	}
	doc, err := api.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	const base = "http://lambda.invalid"
	srv := newValidatedServer(t, doc, base)
	u := base + ev.RawPath
	if ev.RawQueryString != "" {
		u += "?" + ev.RawQueryString
	}
	req := mustRequest(t, ev.RequestContext.HTTP.Method, u)
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	hr := &http.Response{StatusCode: resp.StatusCode, Header: http.Header{}}
	for k, v := range resp.Headers {
		hr.Header.Set(k, v)
	}
	if err := srv.check(req, hr, body); err != nil {
		t.Errorf("OpenAPI contract (Lambda %s): %s %s -> %d: %v\nbody: %.500s", ev.RouteKey, req.Method, ev.RawPath, resp.StatusCode, err, body)
	}
}

func mustRequest(t testing.TB, method, u string) *http.Request {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	v.mu.Lock()
	srv := v.servers[req.URL.Host]
	v.mu.Unlock()
	resp, err := v.base.RoundTrip(req)
	if err != nil || srv == nil {
		return resp, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if err := srv.check(req, resp, raw); err != nil {
		srv.t.Errorf("OpenAPI contract: %s %s -> %d: %v\nbody: %.500s", req.Method, req.URL.RequestURI(), resp.StatusCode, err, raw)
	}
	return resp, nil
}

// check validates one response. A request that matches no documented route
// must be answered 404 with the Error schema.
func (s *validatedServer) check(req *http.Request, resp *http.Response, raw []byte) error {
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		if resp.StatusCode != http.StatusNotFound {
			return fmt.Errorf("no documented route (%v), yet status %d", err, resp.StatusCode)
		}
		return s.doc.Components.Schemas["Error"].Value.VisitJSON(decodeJSON(raw))
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(raw)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	return openapi3filter.ValidateResponse(req.Context(), in)
}

func decodeJSON(raw []byte) any {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	return v
}

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// The contract check fails a test on an undocumented status, a body that
// does not match, a missing required header, an unknown route not answered
// 404; and passes a conforming response.
func TestContractCheckFails(t *testing.T) {
	doc, err := api.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]struct {
		status int
		header map[string]string
		body   string
	}{
		"/openapi.json":                       {200, nil, string(doc)},
		"/tenants/acme/usage":                 {418, nil, `{"error":{"code":"validation_error","message":"x","type":"invalid_request_error","param":null}}`},
		"/tenants/acme/agents":                {200, nil, `{"agents":[{"agent_id":"tenant-acme-a"}]}`},
		"/tenants/acme/agents/a":              {404, nil, `{"error":{"code":"no_such_code","message":"x","type":"invalid_request_error","param":null}}`},
		"/tenants/acme/agents/a/execute":      {429, nil, `{"error":{"code":"query_limit","message":"x","type":"invalid_request_error","param":null}}`},
		"/tenants/acme/chat":                  {429, map[string]string{"Retry-After": "60"}, `{"error":{"code":"query_limit","message":"x","type":"invalid_request_error","param":null}}`},
		"/nowhere":                            {200, nil, `{}`},
		"/tenants/acme/keys/0123456789abcdef": {204, nil, ``},
		"/tenants/acme/alerts":                {404, nil, `{"error":{"code":"tenant_not_found","message":"x","type":"","param":null}}`},
		"/tenants/acme":                       {408, nil, `{"error":{"code":"request_timeout","message":"x","type":"invalid_request_error","param":null}}`},
		"/v1/chat/completions":                {200, map[string]string{"X-Tenancy-Call-Id": "c1", "X-Tenancy-Cost-USD": "0.25"}, `{"id":"chatcmpl-c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"prompt_tokens_details":{"cached_tokens":0}}}`},
		"/v1/models":                          {200, map[string]string{"X-Tenancy-Overhead-Ms": "fast"}, `{"object":"list","data":[]}`},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[r.URL.Path]
		w.Header().Set("Content-Type", "application/json")
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	defer srv.Close()
	rec := &recorder{TB: t}
	contract.validate(rec, srv.URL)
	for _, c := range []struct {
		method, path string
		fails        bool
	}{
		{"GET", "/tenants/acme/usage", true},                     // undocumented status
		{"GET", "/tenants/acme/agents", true},                    // required fields missing
		{"GET", "/tenants/acme/agents/a", true},                  // code not in the enum
		{"POST", "/tenants/acme/agents/a/execute", true},         // 429 without Retry-After
		{"POST", "/tenants/acme/chat", false},                    // 429 with Retry-After
		{"GET", "/nowhere", true},                                // unknown route, not 404
		{"DELETE", "/tenants/acme/keys/0123456789abcdef", false}, // 204, no body
		{"GET", "/tenants/acme/alerts", true},                    // an error without its type
		{"GET", "/tenants/acme", false},                          // 408 (the local server's), documented everywhere
		{"POST", "/v1/chat/completions", false},                  // with its call id and cost headers
		{"GET", "/v1/models", true},                              // an overhead header that is not milliseconds
	} {
		rec.errors = nil
		resp, err := http.DefaultClient.Do(mustRequest(t, c.method, srv.URL+c.path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := len(rec.errors) > 0; got != c.fails {
			t.Errorf("%s %s: contract failure %v, want %v: %v", c.method, c.path, got, c.fails, rec.errors)
		}
	}

	// A Lambda binary's answer to an API Gateway event is checked the same way.
	ev, err := os.ReadFile(filepath.Join(repoRoot(t), "events", "execute.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		answer string
		fails  bool
	}{
		{`{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"content\":\"x\"}"}`, true},
		{`{"statusCode":418,"headers":{"Content-Type":"application/json"},"body":"{\"error\":{\"code\":\"query_limit\",\"message\":\"m\",\"type\":\"rate_limit_error\",\"param\":null}}"}`, true},
		{`{"statusCode":429,"headers":{"Content-Type":"application/json","Retry-After":"5"},"body":"{\"error\":{\"code\":\"query_limit\",\"message\":\"m\",\"type\":\"rate_limit_error\",\"param\":null}}"}`, false},
		{`{"isAuthorized":true}`, false}, // not an HTTP response
	} {
		rec.errors = nil
		checkLambdaResponse(rec, ev, []byte(c.answer))
		if got := len(rec.errors) > 0; got != c.fails {
			t.Errorf("Lambda answer %s: contract failure %v, want %v: %v", c.answer, got, c.fails, rec.errors)
		}
	}
}
