package tests

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/localapi"
)

// An execute whose settlement raises an alert answers without waiting for
// the receiver: one that never answers held it 21.4 s (5 s x 4 attempts and
// backoff) before the local server delivered from a background queue. The
// alert is recorded, and delivered once the receiver answers.
func TestAlertToHangingReceiverDoesNotHoldTheExecute(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hook.Close) // after the server's cleanup, which drains the queue
	s := newServer(t, true, func(o *app.Options) {
		o.Getenv = env(map[string]string{"TENANCY_ADMIN_KEY": adminKey, "TENANCY_LISTEN": "127.0.0.1:0",
			"TENANCY_ALERT_WEBHOOK": hook.URL, "TENANCY_ALERT_SECRET": "s3cret"})
	})
	// Runs before the server's cleanup (which drains the queue).
	t.Cleanup(func() { close(release) })
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "max_cost_usd_per_day": 1,
		"alert_thresholds_pct": []int{1}}), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	start := time.Now()
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "Help me reset my password"}), 200)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the execute that raised the alert took %v (bound 2 s, generous for a loaded machine)", took)
	}
	r := s.must(s.do("GET", "/tenants/acme/alerts", adminKey, nil), 200)
	eq(t, "alerts listed", len(r.get("alerts").([]any)), 1)
	for deadline := time.Now().Add(5 * time.Second); calls.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the receiver was never called")
		}
	}
}

// A webhook without a secret (it would sign with an empty key) and a URL
// that is not http(s) are refused at start-up; the start-up output says
// where alerts go.
func TestAlertWebhookConfig(t *testing.T) {
	start := func(vars map[string]string) (string, error) {
		e := map[string]string{"TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_DATA_DIR": t.TempDir()}
		for k, v := range vars {
			e[k] = v
		}
		var out bytes.Buffer
		loc, err := localapi.Start(context.Background(), localapi.Options{Out: &out,
			App: app.Options{Getenv: func(k string) string { return e[k] }, Logger: newTestLogger(&logBuffer{})}})
		if err == nil {
			loc.Close()
		}
		return out.String(), err
	}
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"TENANCY_ALERT_WEBHOOK": "http://127.0.0.1:9/hook"},
			"TENANCY_ALERT_WEBHOOK is set but TENANCY_ALERT_SECRET is not: alerts would be signed with an empty key"},
		{map[string]string{"TENANCY_ALERT_WEBHOOK": "ftp://example.com/hook", "TENANCY_ALERT_SECRET": "k"},
			`TENANCY_ALERT_WEBHOOK="ftp://example.com/hook": must be an http or https URL`},
		{map[string]string{"TENANCY_ALERT_WEBHOOK": "https:///hook", "TENANCY_ALERT_SECRET": "k"},
			`TENANCY_ALERT_WEBHOOK="https:///hook": must be an http or https URL`},
	} {
		if _, err := start(c.vars); err == nil || err.Error() != c.want {
			t.Fatalf("%v: err %v, want %q", c.vars, err, c.want)
		}
	}
	out, err := start(map[string]string{"TENANCY_ALERT_WEBHOOK": "https://user:pw@example.com/hook", "TENANCY_ALERT_SECRET": "k"})
	if err != nil {
		t.Fatal(err)
	}
	want := "Alerts:   webhook https://user:xxxxx@example.com/hook (signed with TENANCY_ALERT_SECRET) from a background queue (1024, retried with backoff, drained on shutdown)\n"
	if !strings.Contains(out, want) {
		t.Fatalf("start-up output\n%s\nwant the line %q", out, want)
	}
	out, err = start(nil)
	if err != nil {
		t.Fatal(err)
	}
	want = "Alerts:   recorded only (GET /tenants/{t}/alerts); set TENANCY_ALERT_WEBHOOK and TENANCY_ALERT_SECRET to POST them\n"
	if !strings.Contains(out, want) {
		t.Fatalf("start-up output\n%s\nwant the line %q", out, want)
	}
}
