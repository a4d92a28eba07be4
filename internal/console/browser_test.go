package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	cdpbrowser "github.com/chromedp/cdproto/browser"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/console"
	"github.com/openclaw/tenancy/internal/ddblocal"
	"github.com/openclaw/tenancy/internal/localapi"
	"github.com/openclaw/tenancy/internal/provider"
)

// The browser tests drive Debian's chromium (installed by `make chromium`,
// which `make test` depends on) through the console against a local API
// started in this process. CONSOLE_SCREENSHOTS=1 (`make screenshots`) also
// writes the screenshots in screenshots/.

const (
	chromiumPath = "/usr/bin/chromium"
	adminKey     = "console-test-admin-key"
	xssName      = `<img src=x onerror=alert(1)>`
	stepTimeout  = 60 * time.Second
)

// fixedModel answers every call with 1000 input and 500 output tokens:
// claude-sonnet-4 costs 10,500,000 nano-USD ($0.0105) per call.
type fixedModel struct{}

func (fixedModel) Name() string { return "fixed" }
func (fixedModel) Complete(_ context.Context, r provider.Request) (provider.Response, error) {
	return provider.Response{Content: "Answer to: " + r.Query, Provider: "fixed",
		Usage: provider.Usage{InputTokens: 1000, OutputTokens: 500}}, nil
}
func (m fixedModel) Route(string) (provider.Provider, string, error) { return m, "", nil }

// syncBuffer collects the server's logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type apiClient struct {
	t   *testing.T
	url string
}

// call sends a request and decodes a JSON answer; it fails the test on an
// unexpected status.
func (c apiClient) call(method, path, key string, body any, want int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return out
}

// raw is a GET's body.
func (c apiClient) raw(path, key string) string {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// waitFile waits for a download to complete (chromium renames the
// .crdownload file when it has written it all).
func waitFile(t *testing.T, path string) string {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(stepTimeout)
	for {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no download at %s", path)
		}
	}
}

// fixture is the local API with its seeded data.
type fixture struct {
	api   apiClient
	clock *clock.Manual
	logs  *syncBuffer
}

// seed: acme (2 calls on 2026-11-26, 10 today, 2026-11-28), globex (no
// spend), 22 numbered tenants (a second page), and a tenant whose name is
// HTML. All ids follow the id rules of issue 9.
func startAPI(t *testing.T) *fixture {
	t.Helper()
	f := startEmptyAPI(t, nil)
	f.seed()
	return f
}

// startEmptyAPI starts the local API (with extra DynamoDB client options).
func startEmptyAPI(t *testing.T, dynamoOptions []func(*dynamodb.Options)) *fixture {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	logs := &syncBuffer{}
	env := map[string]string{"TENANCY_ADMIN_KEY": adminKey, "TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_DATA_DIR": t.TempDir()}
	if len(dynamoOptions) > 0 { // client-side faults need the DynamoDB store: the in-memory one
		env["TENANCY_STORE"] = "memory"
	}
	loc, err := localapi.Start(context.Background(), localapi.Options{App: app.Options{
		Getenv: func(k string) string { return env[k] }, Clock: clk, Models: fixedModel{},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), DynamoOptions: dynamoOptions}})
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
	return &fixture{api: apiClient{t: t, url: loc.URL}, clock: clk, logs: logs}
}

func (f *fixture) seed() {
	a, clk := f.api, f.clock
	a.call("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "name": "Acme Corp", "max_agents": 2,
		"max_queries_per_hour": 50, "max_cost_usd_per_day": 10.0}, 201)
	a.call("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "support", "tools": []string{}}, 201)
	for range 2 {
		a.call("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hello"}, 200)
	}
	clk.Set(time.Date(2026, 11, 28, 14, 30, 0, 0, time.UTC))
	for range 10 {
		a.call("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hello"}, 200)
	}
	a.call("POST", "/tenants", adminKey, map[string]any{"tenant_id": "globex", "name": "Globex", "max_cost_usd_per_day": 5}, 201)
	for i := 1; i <= 22; i++ {
		a.call("POST", "/tenants", adminKey, map[string]any{"tenant_id": fmt.Sprintf("t%02d", i), "name": fmt.Sprintf("Tenant %02d", i)}, 201)
	}
	a.call("POST", "/tenants", adminKey, map[string]any{"tenant_id": "xss_test", "name": xssName}, 201)
}

// browser is one headless chromium tab.
type browser struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	problems []string // uncaught exceptions, console calls, CSP and JS log entries
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: run `make chromium` (make test installs it)", chromiumPath)
	}
	dir, err := os.MkdirTemp("", "console-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1440, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser to exit
		_ = os.RemoveAll(dir)
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatal(err)
	}
	b.ctx = ctx
	return b
}

func (b *browser) listen(ev any) {
	var p string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		p = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			p += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		p = "console." + string(e.Type) + " called"
	case *cdplog.EventEntryAdded:
		// network entries are the API's 4xx answers the console shows
		if e.Entry.Source != cdplog.EntrySourceNetwork {
			p = "log " + string(e.Entry.Source) + ": " + e.Entry.Text
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.diagnose())
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("eval %s: %v\n%s", expr, err, b.diagnose())
	}
	return v
}

// waitFor waits until a JavaScript expression is truthy.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond),
		chromedp.WithPollingTimeout(stepTimeout-time.Second))); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v\n%s", what, expr, err, b.diagnose())
	}
}

// text is the textContent of the first element matching a selector ("" when none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return eval[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

func (b *browser) diagnose() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({url: location.href,
		state: (document.getElementById('view')||{}).dataset, error: (document.getElementById('error')||{}).textContent,
		body: document.body ? document.body.innerText.slice(0, 1500) : ''})`))
	return "page: " + s
}

// waitReady waits for the view to finish rendering.
func (b *browser) waitReady(what string) {
	b.t.Helper()
	b.waitFor(what, `document.getElementById('view').dataset.state === 'ready'`)
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	if os.Getenv("CONSOLE_SCREENSHOTS") == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll("screenshots", 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("screenshots", name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// setValue sets an input's value (chromedp.SetValue refuses "").
func (b *browser) setValue(sel, v string) {
	b.t.Helper()
	eval[string](b, fmt.Sprintf(`document.querySelector(%q).value = %q`, sel, v))
}

// hash navigates within the page (a same-document navigation has no load
// event for chromedp.Navigate to wait for).
func (b *browser) hash(h string) {
	b.t.Helper()
	eval[string](b, fmt.Sprintf(`location.hash = %q`, h))
}

func (b *browser) viewport(width, height int64) {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile)
	}
	b.do(fmt.Sprintf("viewport %dx%d", width, height), chromedp.EmulateViewport(width, height, opts...))
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func row(id string) string { return fmt.Sprintf(`[data-testid=tenant-row][data-tenant-id=%q]`, id) }

func TestConsoleHeaders(t *testing.T) {
	f := startAPI(t)
	for path, a := range console.Assets {
		resp, err := http.Get(f.api.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		eq(t, path+" status", resp.StatusCode, 200)
		eq(t, path+" body", string(body) == a.Body, true)
		eq(t, path+" Content-Type", resp.Header.Get("Content-Type"), a.ContentType)
		eq(t, path+" Content-Security-Policy", resp.Header.Get("Content-Security-Policy"),
			"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		eq(t, path+" X-Content-Type-Options", resp.Header.Get("X-Content-Type-Options"), "nosniff")
		eq(t, path+" Referrer-Policy", resp.Header.Get("Referrer-Policy"), "no-referrer")
		eq(t, path+" X-Frame-Options", resp.Header.Get("X-Frame-Options"), "DENY")
	}
	// no inline script or style, nothing from another origin
	html := console.Assets["/console"].Body
	for _, bad := range []string{"<script>", "style=", "onload=", "onclick=", "http://", "https://"} {
		if strings.Contains(html, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "localStorage.", "document.cookie", "console.log", "console.error", "console.warn", "console.info", "console.debug"} {
		if strings.Contains(console.Assets["/console/app.js"].Body, bad) {
			t.Errorf("app.js uses %q", bad)
		}
	}
	// who a key is: the console's sign-in
	me := f.api.call("GET", "/me", adminKey, nil, 200)
	eq(t, "admin /me", me["role"], "admin")
	k := f.api.call("POST", "/tenants/globex/keys", adminKey, nil, 201)
	me = f.api.call("GET", "/me", k["key"].(string), nil, 200)
	eq(t, "tenant /me", fmt.Sprint(me["role"], " ", me["tenant_id"], " ", me["key_id"] == k["key_id"]), "tenant globex true")
	e := f.api.call("GET", "/me", "tnk_not-a-key", nil, 401)
	eq(t, "unknown key /me", e["error"].(map[string]any)["message"], "Invalid or revoked API key")
}

func TestConsoleInBrowser(t *testing.T) {
	f := startAPI(t)
	b := newBrowser(t)
	url := f.api.url + "/console"

	// Sign-in: a wrong key is refused with the API's message and not kept.
	b.do("open the console", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`input[name=key]`)))
	b.do("sign in with a wrong key", chromedp.SendKeys(chromedp.CSS(`input[name=key]`), "tnk_wrong"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	b.waitFor("the error", `!document.getElementById('error').hidden`)
	eq(t, "error", b.text(`[data-testid=error]`), "Invalid or revoked API key")
	eq(t, "stored key after a failed sign-in", eval[bool](b, `sessionStorage.length === 0`), true)

	// Admin: the seeded tenants with exact spend.
	b.setValue(`input[name=key]`, "")
	b.do("sign in as admin", chromedp.SendKeys(chromedp.CSS(`input[name=key]`), adminKey), chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(row("acme"))))
	b.waitReady("the tenant list")
	eq(t, "rows on page 1", b.count(`[data-testid=tenant-row]`), 20)
	acme := row("acme")
	// 10 calls today at $0.0105: $0.105, to the cent $0.11 (a float's toFixed(2) says 0.10)
	eq(t, "acme spend", b.text(acme+` [data-field=total_cost_usd]`), "$0.11")
	eq(t, "acme exact spend", eval[string](b, fmt.Sprintf(`document.querySelector(%q).dataset.usd`, acme+` [data-field=total_cost_usd]`)), "$0.105")
	eq(t, "acme cap", b.text(acme+` [data-field=max_cost_usd_per_day]`), "$10.00")
	eq(t, "acme queries this hour", b.text(acme+` [data-field=queries_this_hour]`)+"/"+b.text(acme+` [data-field=max_queries_per_hour]`), "10/50")
	eq(t, "acme agents", b.text(acme+` [data-field=agents]`)+"/"+b.text(acme+` [data-field=max_agents]`), "1/2")
	eq(t, "acme state", b.text(acme+` [data-field=is_active]`), "Active")
	eq(t, "acme name", b.text(acme+` .tenant-link`), "Acme Corp")
	eq(t, "acme bar width", eval[string](b, fmt.Sprintf(`document.querySelector(%q).style.width`, acme+` .meter .meter-fill`)), "1.05%")
	globex := row("globex")
	eq(t, "globex spend", b.text(globex+` [data-field=total_cost_usd]`)+" / "+b.text(globex+` [data-field=max_cost_usd_per_day]`), "$0.00 / $5.00")
	// the key is in sessionStorage only
	eq(t, "key storage", eval[string](b, `JSON.stringify([sessionStorage.getItem('tenancy.console.key'), localStorage.length, document.cookie, location.href.includes('`+adminKey+`')])`),
		`["`+adminKey+`",0,"",false]`)
	b.screenshot("admin-1440")

	// Paging with next_token, and the HTML name rendered as text.
	b.do("next page", chromedp.Click(chromedp.CSS(`[data-testid=next-page]`)), chromedp.WaitVisible(chromedp.CSS(row("xss_test"))))
	b.waitReady("page 2")
	eq(t, "rows on page 2", b.count(`[data-testid=tenant-row]`), 5)
	eq(t, "page info", b.text(`[data-testid=page-info]`), "Page 2")
	eq(t, "xss name as text", b.text(row("xss_test")+` .tenant-link`), xssName)
	eq(t, "images in the page", b.count(`img`), 0)
	b.do("previous page", chromedp.Click(chromedp.CSS(`[data-testid=prev-page]`)), chromedp.WaitVisible(chromedp.CSS(row("acme"))))
	b.waitReady("page 1 again")

	// Filter by name, then by id.
	b.do("filter by name", chromedp.SendKeys(chromedp.CSS(`input[name=filter]`), "globex\r"))
	b.waitFor("the filtered list", `document.querySelectorAll('[data-testid=tenant-row]').length === 1 && document.getElementById('view').dataset.state === 'ready'`)
	eq(t, "filtered row", eval[string](b, `document.querySelector('[data-testid=tenant-row]').dataset.tenantId`), "globex")
	b.setValue(`input[name=filter]`, "")
	b.do("filter by id", chromedp.SendKeys(chromedp.CSS(`input[name=filter]`), "T2\r"))
	b.waitFor("tenants t20-t22", `document.querySelectorAll('[data-testid=tenant-row]').length === 3`)
	b.setValue(`input[name=filter]`, "")
	b.do("clear the filter", chromedp.SendKeys(chromedp.CSS(`input[name=filter]`), "\r"))
	b.waitFor("the full first page", `document.querySelectorAll('[data-testid=tenant-row]').length === 20`)

	// Tenant view: the report and a chart with one mark per day, today included.
	b.do("open acme", chromedp.Click(chromedp.CSS(acme)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=history-chart]`)))
	b.waitReady("the tenant view")
	eq(t, "tenant name", b.text(`h2[data-field=name]`), "Acme Corp")
	eq(t, "usage date", b.text(`[data-testid=usage] [data-field=usage_date]`), "2026-11-28")
	eq(t, "tenant spend", b.text(`[data-testid=usage] [data-field=total_cost_usd]`), "$0.11")
	eq(t, "queries today", b.text(`[data-testid=usage] [data-field=queries_today]`), "10")
	var rep struct {
		ByAgent map[string]struct {
			Queries int64       `json:"queries"`
			Tokens  int64       `json:"tokens"`
			Cost    json.Number `json:"cost_usd"`
		} `json:"by_agent"`
	}
	if err := json.Unmarshal([]byte(f.api.raw("/tenants/acme/usage", adminKey)), &rep); err != nil {
		t.Fatal(err)
	}
	eq(t, "agents in the report", len(rep.ByAgent), 1)
	eq(t, "agent usage rows", b.count(`[data-testid=by-agent] [data-testid=agent-usage-row]`), 1)
	sup := `[data-testid=by-agent] [data-agent-id=support] `
	eq(t, "support's queries", b.text(sup+`[data-field=queries]`), "10")
	eq(t, "support's tokens", b.text(sup+`[data-field=tokens]`), strconv.FormatInt(rep.ByAgent["support"].Tokens, 10))
	eq(t, "support's cost", string(rep.ByAgent["support"].Cost), "0.105")
	eq(t, "support's cost shown", b.text(sup+`[data-field=cost_usd]`), "$0.1050")
	eq(t, "bars", b.count(`[data-testid=history-chart] rect`), 30)
	eq(t, "marks with a date", b.count(`[data-testid=history-chart] [data-date]`), 30)
	eq(t, "query line points", eval[int](b, `document.querySelector('[data-testid=queries-line]').getAttribute('d').split(/[ML]/).length - 1`), 30)
	days := eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid=history-chart] rect')).map(r => r.dataset.date)`)
	eq(t, "first day", days[0], "2026-10-30")
	eq(t, "last day (today)", days[29], "2026-11-28")
	marks := eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid=history-chart] rect')).filter(r => r.dataset.queries !== '0').map(r => r.dataset.date + ' ' + r.dataset.costUsd + ' ' + r.dataset.queries)`)
	eq(t, "days with calls", strings.Join(marks, ", "), "2026-11-26 $0.021 2, 2026-11-28 $0.105 10")
	axis := eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid=history-chart] .cost-axis text')).map(t => t.textContent)`)
	eq(t, "cost axis labels", strings.Join(axis, " "), "$0.00 $0.05 $0.10 $0.15")
	eq(t, "today's bar is the tallest", eval[bool](b, `(() => { const r = Array.from(document.querySelectorAll('[data-testid=history-chart] rect')).map(r => +r.getAttribute('height')); return r[29] === Math.max(...r) && r[27] > r[0] })()`), true)
	eq(t, "agents", b.count(`[data-testid=agent-row]`), 1)
	eq(t, "agent model", b.text(`[data-testid=agent-row][data-agent-id=support] [data-field=llm_model]`), "claude-sonnet-4-20250514")
	b.screenshot("tenant-1440")

	// 360 px wide: no horizontal scrolling; screenshots of both views.
	b.viewport(360, 800)
	b.hash("#/")
	b.do("back to the list", chromedp.WaitVisible(chromedp.CSS(row("acme"))))
	b.waitReady("the list at 360 px")
	eq(t, "list fits 360 px", eval[int](b, `document.documentElement.scrollWidth`), 360)
	b.screenshot("admin-360")
	b.do("open acme at 360 px", chromedp.Click(chromedp.CSS(row("acme")+` .tenant-link`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=history-chart]`)))
	b.waitReady("the tenant view at 360 px")
	eq(t, "tenant view fits 360 px", eval[int](b, `document.documentElement.scrollWidth`), 360)
	eq(t, "chart fits", eval[bool](b, `document.querySelector('[data-testid=history-chart]').getBoundingClientRect().right <= 360`), true)
	b.screenshot("tenant-360")
	b.viewport(1440, 900)

	// Create an agent, then hit the agent limit (2): the API's message.
	b.do("create agent billing", chromedp.SendKeys(chromedp.CSS(`[data-testid=create-agent] input[name=agent_id]`), "billing"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=create-agent] input[name=tools]`), "search, calculator"),
		chromedp.Click(chromedp.CSS(`[data-testid=create-agent] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=agent-row][data-agent-id=billing]`)))
	b.waitReady("the tenant view after create")
	eq(t, "agents after create", b.count(`[data-testid=agent-row]`), 2)
	eq(t, "billing tools", b.text(`[data-testid=agent-row][data-agent-id=billing] [data-field=tools]`), "search, calculator")
	eq(t, "notice", b.text(`[data-testid=notice]`), "Agent billing created")
	b.do("create a third agent", chromedp.SendKeys(chromedp.CSS(`[data-testid=create-agent] input[name=agent_id]`), "third"),
		chromedp.Click(chromedp.CSS(`[data-testid=create-agent] button[type=submit]`)))
	b.waitFor("the agent-limit error", `!document.getElementById('error').hidden`)
	eq(t, "agent limit message", b.text(`[data-testid=error]`), "Tenant 'acme' has reached the agent limit (2)")
	eq(t, "agents after refusal", b.count(`[data-testid=agent-row]`), 2)

	// Delete an agent (two clicks: the second confirms).
	del := `[data-testid=agent-row][data-agent-id=billing] [data-testid=delete-agent]`
	b.do("delete billing", chromedp.Click(chromedp.CSS(del)), chromedp.Click(chromedp.CSS(del)),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=agent-row][data-agent-id=billing]`)))
	b.waitReady("the tenant view after delete")
	eq(t, "agents after delete", b.count(`[data-testid=agent-row]`), 1)

	// Edit limits: max agents 2 -> 3, cap 10 -> 12.5.
	b.setValue(`[data-testid=edit-limits] input[name=max_agents]`, "3")
	b.setValue(`[data-testid=edit-limits] input[name=max_cost_usd_per_day]`, "12.5")
	eq(t, "no monthly budget", b.text(`[data-testid=usage] [data-field=month_cost_usd]`)+" "+
		b.text(`[data-testid=usage] [data-field=month_cost_usd] + .sub`), "$0.13  no monthly budget")
	b.setValue(`[data-testid=edit-limits] input[name=max_cost_usd_per_month]`, "100")
	b.setValue(`[data-testid=edit-limits] input[name=timezone]`, "Europe/Paris")
	b.do("edit limits", chromedp.Click(chromedp.CSS(`[data-testid=edit-limits] button[type=submit]`)))
	b.waitFor("the saved limits", `document.querySelector('[data-testid=usage] [data-field=max_agents]').textContent === '3'`)
	eq(t, "cap after edit", b.text(`[data-testid=usage] [data-field=max_cost_usd_per_day]`), "$12.50")
	// this month: $0.021 + $0.105 = $0.126
	eq(t, "month against the budget", b.text(`[data-testid=usage] [data-field=month_cost_usd]`)+" / "+
		b.text(`[data-testid=usage] [data-field=max_cost_usd_per_month]`), "$0.13 / $100.00")
	got := f.api.call("GET", "/tenants/acme", adminKey, nil, 200)
	eq(t, "stored limits", fmt.Sprint(got["max_agents"], " ", got["max_cost_usd_per_day"], " ", got["max_cost_usd_per_month"], " ", got["timezone"]),
		"3 12.5 100 Europe/Paris")
	b.setValue(`[data-testid=edit-limits] input[name=max_cost_usd_per_month]`, "")
	b.do("clear the monthly budget", chromedp.Click(chromedp.CSS(`[data-testid=edit-limits] button[type=submit]`)))
	b.waitFor("no monthly budget", `document.querySelector('[data-testid=usage] [data-field=max_cost_usd_per_month]') === null && document.getElementById('view').dataset.state === 'ready'`)
	eq(t, "cleared budget", f.api.call("GET", "/tenants/acme", adminKey, nil, 200)["max_cost_usd_per_month"], nil)

	// Deactivate, and see the state change (and the API agree).
	b.do("deactivate", chromedp.Click(chromedp.CSS(`[data-testid=toggle-active]`)))
	b.waitFor("the inactive state", `document.querySelector('.tenant-head [data-field=is_active]').textContent === 'Inactive'`)
	eq(t, "toggle label", b.text(`[data-testid=toggle-active]`), "Activate")
	eq(t, "stored state", f.api.call("GET", "/tenants/acme", adminKey, nil, 200)["is_active"], false)

	// Issue a key (shown once, with a copy button).
	b.do("issue a key", chromedp.Click(chromedp.CSS(`[data-testid=issue-key]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=new-key]`)))
	tenantKey := eval[string](b, `document.querySelector('[data-testid=new-key]').value`)
	if !strings.HasPrefix(tenantKey, "tnk_") {
		t.Fatalf("issued key %q", tenantKey)
	}
	eq(t, "copy button", b.count(`[data-testid=copy-key]`), 1)
	keyID := eval[string](b, `document.querySelector('[data-testid=issued-keys] li').dataset.keyId`)

	// Reset today's usage, after a confirmation.
	b.do("ask to reset", chromedp.Click(chromedp.CSS(`[data-testid=reset-usage]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=reset-confirm]`)))
	eq(t, "spend before the confirmation", b.text(`[data-testid=usage] [data-field=total_cost_usd]`), "$0.11")
	b.do("confirm the reset", chromedp.Click(chromedp.CSS(`[data-testid=reset-confirm-yes]`)))
	b.waitFor("the reset spend", `document.querySelector('[data-testid=usage] [data-field=total_cost_usd]').textContent === '$0.00'`)
	eq(t, "history keeps today's archived calls", eval[string](b, `document.querySelector('[data-testid=history-chart] rect[data-date="2026-11-28"]').dataset.costUsd`), "$0.105")

	// Download the history CSV: the file is the API's CSV.
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	b.do("download the CSV", chromedp.Click(chromedp.CSS(`[data-testid=download-csv]`)))
	csv := waitFile(t, filepath.Join(dl, "acme-usage-history.csv"))
	eq(t, "downloaded CSV", csv, f.api.raw("/tenants/acme/usage/history?format=csv", adminKey))
	if !strings.Contains(csv, "\n2026-11-28,10,0.105,") {
		t.Fatalf("CSV without today's archived row:\n%s", csv)
	}

	// Reactivate (the toggle both ways).
	b.do("activate", chromedp.Click(chromedp.CSS(`[data-testid=toggle-active]`)))
	b.waitFor("the active state", `document.querySelector('.tenant-head [data-field=is_active]').textContent === 'Active'`)

	// Sign out clears the key.
	b.do("sign out", chromedp.Click(chromedp.CSS(`[data-testid=sign-out]`)), chromedp.WaitVisible(chromedp.CSS(`input[name=key]`)))
	eq(t, "storage after sign-out", eval[int](b, `sessionStorage.length`), 0)
	b.screenshot("signin-1440")

	// A tenant key lands on its own tenant and cannot see another.
	b.do("sign in with the tenant key", chromedp.SendKeys(chromedp.CSS(`input[name=key]`), tenantKey),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=history-chart]`)))
	b.waitReady("the tenant's own view")
	eq(t, "tenant landing", eval[string](b, `document.getElementById('view').dataset.tenantId`), "acme")
	eq(t, "who", b.text(`[data-testid=who]`), "Signed in to tenant acme")
	eq(t, "admin controls for a tenant key", b.count(`[data-testid=toggle-active], [data-testid=issue-key], [data-testid=edit-limits], [data-testid=reset-usage], [data-testid=back]`), 0)
	b.hash("#/tenants/globex")
	b.waitFor("the refusal", `document.getElementById('view').dataset.state === 'error'`)
	eq(t, "refusal message", b.text(`[data-testid=error]`), "This key may not access tenant 'globex'")
	eq(t, "globex shown", eval[bool](b, `document.body.innerText.includes('Globex')`), false)
	b.hash("#/")
	b.waitFor("the redirect to its own tenant", `location.hash === '#/tenants/acme' && document.getElementById('view').dataset.state === 'ready'`)
	eq(t, "tenant rows for a tenant key", b.count(`[data-testid=tenant-row]`), 0)

	// Revoke the key as admin: the tenant's console is signed out on its next call.
	f.api.call("DELETE", "/tenants/acme/keys/"+keyID, adminKey, nil, 204)
	b.do("reload", chromedp.Reload())
	b.waitFor("the sign-in form", `document.querySelector('input[name=key]') !== null`)
	eq(t, "revoked key message", b.text(`[data-testid=error]`), "Invalid or revoked API key")
	eq(t, "storage after revocation", eval[int](b, `sessionStorage.length`), 0)

	// No exception, console call or CSP violation in the whole session, and
	// no key in the server's logs.
	b.mu.Lock()
	problems := b.problems
	b.mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("browser problems: %q", problems)
	}
	logs := f.logs.String()
	for _, k := range []string{adminKey, tenantKey} {
		if strings.Contains(logs, k) {
			t.Errorf("a key appears in the server's logs")
		}
	}
}

// With the store down, the console shows the API's 503 message and a retry,
// never a blank page; the retry works once the store is back.
func TestConsoleStoreDown(t *testing.T) {
	faults := &ddblocal.Faults{}
	f := startEmptyAPI(t, []func(*dynamodb.Options){faults.Option})
	f.api.call("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "name": "Acme Corp"}, 201)
	down := errors.New("connection refused")
	for _, op := range []string{"GetItem", "Query", "Scan", "BatchGetItem"} {
		faults.Fail(op, -1, down)
	}
	b := newBrowser(t)
	b.do("sign in as admin", chromedp.Navigate(f.api.url+"/console"), chromedp.SendKeys(chromedp.CSS(`input[name=key]`), adminKey),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	b.waitFor("the error view", `document.getElementById('view').dataset.state === 'error'`)
	eq(t, "message", b.text(`[data-testid=view-error] [data-field=message]`), "The tenancy store is temporarily unavailable; retry later")
	eq(t, "banner", b.text(`[data-testid=error]`), "The tenancy store is temporarily unavailable; retry later")
	faults.Clear()
	b.do("retry", chromedp.Click(chromedp.CSS(`[data-testid=retry]`)), chromedp.WaitVisible(chromedp.CSS(row("acme"))))
	b.waitReady("the list")
	eq(t, "banner after the retry", eval[bool](b, `document.getElementById('error').hidden`), true)
}
