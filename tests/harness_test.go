// Package tests holds the end-to-end tests: the API over HTTP against the
// local server (the Lambda functions' own handlers on the embedded
// DynamoDB), and the built Lambda binaries under the runtime emulator.
package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/localapi"
	"github.com/openclaw/tenancy/internal/provider"
)

const adminKey = "test-admin-key"

func TestMain(m *testing.M) {
	if serveChild() { // this process is a benchmark's out-of-process server
		return
	}
	installContract()
	code := m.Run()
	// Every local API of these tests keeps its data in a temporary
	// directory; the default (.data in the working directory) would carry
	// tenants from one run into the next.
	if _, err := os.Stat(localapi.DefaultDataDir); err == nil {
		fmt.Fprintln(os.Stderr, "a test started the local API on the default data directory tests/.data: set TENANCY_DATA_DIR")
		_ = os.RemoveAll(localapi.DefaultDataDir)
		code = 1
	}
	os.Exit(code)
}

// fixedModel answers every call with the same usage: 1000 input and 500
// output tokens (claude-sonnet-4: 10,500,000 nano-USD = $0.0105).
type fixedModel struct {
	mu      sync.Mutex
	content string // the answer; default "Answer to: <query>"
	calls   int
	usage   provider.Usage
	err     error
	hook    func() // runs during each call (fault injection mid-flight)
	last    provider.Request
}

func (f *fixedModel) lastRequest() provider.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fixedModel) Name() string { return "fixed" }

func (f *fixedModel) Complete(_ context.Context, r provider.Request) (provider.Response, error) {
	f.mu.Lock()
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.last = r
	if f.err != nil {
		return provider.Response{}, f.err
	}
	content := "Answer to: " + r.Query
	if f.content != "" {
		content = f.content
	}
	return provider.Response{Content: content, Provider: "fixed", Usage: f.usage}, nil
}

func (f *fixedModel) Route(string) (provider.Provider, string, error) { return f, "", nil }

func (f *fixedModel) onCall(hook func()) {
	f.mu.Lock()
	f.hook = hook
	f.mu.Unlock()
}

func (f *fixedModel) set(u provider.Usage, err error) {
	f.mu.Lock()
	f.usage, f.err = u, err
	f.mu.Unlock()
}

// server is a local API for one test.
type server struct {
	t     *testing.T
	url   string
	clock *clock.Manual
	model *fixedModel
	loc   *localapi.Local
	logs  *logBuffer
}

var t0 = time.Date(2026, 11, 28, 14, 30, 0, 0, time.UTC)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// newServer starts the local API on a free port with a manual clock and a
// fixed-usage model (models nil), or the environment's models, on the
// default store (bolt, in a fresh directory) unless configured otherwise
// (inMemory: the embedded DynamoDB).
func newServer(t *testing.T, withFixedModel bool, configure ...func(*app.Options)) *server {
	t.Helper()
	s := &server{t: t, clock: clock.NewManual(t0), logs: &logBuffer{}}
	opts := app.Options{Getenv: env(map[string]string{"TENANCY_ADMIN_KEY": adminKey, "TENANCY_LISTEN": "127.0.0.1:0"}),
		Clock: s.clock, Logger: newTestLogger(s.logs)}
	if withFixedModel {
		s.model = &fixedModel{usage: provider.Usage{InputTokens: 1000, OutputTokens: 500}}
		opts.Models = s.model
	}
	for _, c := range configure {
		c(&opts)
	}
	// The default store lives in a fresh directory, whatever Getenv a
	// configure function installed.
	dataDir, base := t.TempDir(), opts.Getenv
	opts.Getenv = func(k string) string {
		if v := base(k); v != "" || k != "TENANCY_DATA_DIR" {
			return v
		}
		return dataDir
	}
	loc, err := localapi.Start(context.Background(), localapi.Options{App: opts})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loc.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		loc.Close()
	})
	s.url, s.loc = loc.URL, loc
	contract.validate(t, s.url)
	return s
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// num returns a JSON number field as its exact text.
func (r resp) num(path ...string) string {
	v := r.get(path...)
	n, ok := v.(json.Number)
	if !ok {
		return fmt.Sprintf("<%T %v>", v, v)
	}
	return n.String()
}

func (r resp) str(path ...string) string {
	s, _ := r.get(path...).(string)
	return s
}

func (r resp) get(path ...string) any {
	var v any = r.body
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any: // an index
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func (r resp) errMsg() string { return r.str("error", "message") }

func (s *server) do(method, path, key string, body any) resp {
	s.t.Helper()
	return s.doH(method, path, key, body, nil)
}

// doH is do with extra request headers.
func (s *server) doH(method, path, key string, body any, headers map[string]string) resp {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer hr.Body.Close()
	raw, _ := io.ReadAll(hr.Body)
	r := resp{status: hr.StatusCode, header: hr.Header, raw: string(raw)}
	if strings.HasPrefix(hr.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&r.body); err != nil {
			s.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return r
}

// must checks a response's status (and, for errors, the message).
func (s *server) must(r resp, status int, msg ...string) resp {
	s.t.Helper()
	if r.status != status {
		s.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if len(msg) > 0 && r.errMsg() != msg[0] {
		s.t.Fatalf("message %q, want %q", r.errMsg(), msg[0])
	}
	if r.status >= 400 && r.str("error", "code") == "" {
		s.t.Fatalf("error without code: %s", r.raw)
	}
	return r
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// inMemory runs a test server on the embedded DynamoDB (TENANCY_STORE=memory),
// for the tests that inject DynamoDB failures.
var inMemory = withEnv(map[string]string{"TENANCY_STORE": "memory"})

func localapiStart(ctx context.Context, env map[string]string) (*localapi.Local, error) {
	return localapi.Start(ctx, localapi.Options{App: app.Options{Getenv: func(k string) string { return env[k] },
		Logger: newTestLogger(&logBuffer{})}})
}
