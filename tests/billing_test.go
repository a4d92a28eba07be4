package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/alerts"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/provider"
)

// The tenant's own day over HTTP: timezone field, 400 for an unknown zone,
// a change pending until the next local midnight, usage_date/resets_at and
// the cost limit's Retry-After in the tenant's calendar.
func TestTimezoneOverHTTP(t *testing.T) {
	s := newServer(t, true)
	body := map[string]any{"tenant_id": "acme", "max_cost_usd_per_day": 0.01, "timezone": "Mars/Olympus_Mons"}
	s.must(s.do("POST", "/tenants", adminKey, body), 400, "timezone must be an IANA time zone name such as Europe/Paris or UTC")
	body["timezone"] = "Asia/Tokyo"
	r := s.must(s.do("POST", "/tenants", adminKey, body), 201)
	eq(t, "timezone", r.str("timezone"), "Asia/Tokyo")
	eq(t, "nothing pending", r.get("timezone_effective_at"), nil)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	// t0 is 14:30Z on November 28: 23:30 in Tokyo.
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "usage_date", r.str("usage_date"), "2026-11-28")
	eq(t, "resets_at", r.str("resets_at"), "2026-11-28T15:00:00Z")
	r = s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi"}), 429)
	eq(t, "Retry-After (to Tokyo's midnight)", r.header.Get("Retry-After"), "1800")

	s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"timezone": "Europe/Atlantis"}), 400,
		"timezone must be an IANA time zone name such as Europe/Paris or UTC")
	r = s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"timezone": "America/New_York"}), 200)
	eq(t, "timezone", r.str("timezone"), "America/New_York")
	eq(t, "takes effect at Tokyo's midnight", r.str("timezone_effective_at"), "2026-11-28T15:00:00Z")
	s.clock.Set(time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)) // 10:00 in New York
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "usage_date (New York)", r.str("usage_date"), "2026-11-28")
	eq(t, "resets_at (New York's midnight)", r.str("resets_at"), "2026-11-29T05:00:00Z")
	r = s.must(s.do("GET", "/tenants/acme", adminKey, nil), 200)
	eq(t, "no longer pending", r.get("timezone_effective_at"), nil)
}

// The monthly budget over HTTP: field (null = none), 429 monthly_cost_limit
// with Retry-After to the next local month, report fields, group=month.
func TestMonthlyBudgetOverHTTP(t *testing.T) {
	s := newServer(t, true)
	r := s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "timezone": "Europe/Paris"}), 201)
	eq(t, "no monthly budget by default", r.get("max_cost_usd_per_month"), nil)
	s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"max_cost_usd_per_month": -1}), 400,
		"max_cost_usd_per_month must be null or between 0 and 1000000")
	r = s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"max_cost_usd_per_month": 0.03}), 200)
	eq(t, "max_cost_usd_per_month", r.num("max_cost_usd_per_month"), "0.03")
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	q := map[string]any{"query": "Help me reset my password"}
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, q), 200)
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, q), 200)
	r = s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, q), 429,
		"Tenant 'acme' has exceeded its monthly budget (cost: $0.02 / $0.03)")
	eq(t, "code", r.str("error", "code"), "monthly_cost_limit")
	// t0 = 15:30 in Paris on November 28; December starts at 23:00Z on November 30.
	eq(t, "Retry-After (to December in Paris)", r.header.Get("Retry-After"), strconv.Itoa(2*86400+8*3600+30*60))
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "month", r.str("month"), "2026-11")
	eq(t, "month_cost_usd", r.num("month_cost_usd"), "0.021")
	eq(t, "max_cost_usd_per_month", r.num("max_cost_usd_per_month"), "0.03")
	eq(t, "month_utilization_pct", r.num("month_utilization_pct"), "70")

	s.clock.Set(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)) // December 1 in Paris
	s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, q), 200)
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "month", r.str("month"), "2026-12")
	eq(t, "month_cost_usd", r.num("month_cost_usd"), "0.0105")
	r = s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"max_cost_usd_per_month": nil}), 200)
	eq(t, "removed", r.get("max_cost_usd_per_month"), nil)
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "no utilization without a budget", r.get("month_utilization_pct"), nil)

	r = s.must(s.do("GET", "/tenants/acme/usage/history?group=month", adminKey, nil), 200)
	months := r.get("months").([]any)
	eq(t, "months", len(months), 2)
	eq(t, "November", months[0].(map[string]any)["month"], "2026-11")
	eq(t, "November cost", months[0].(map[string]any)["cost_usd"].(json.Number).String(), "0.021")
	eq(t, "December cost", months[1].(map[string]any)["cost_usd"].(json.Number).String(), "0.0105")
	r = s.must(s.do("GET", "/tenants/acme/usage/history?group=month&format=csv", adminKey, nil), 200)
	eq(t, "csv header", strings.SplitN(r.raw, "\n", 2)[0], "month,queries,cost_usd,input_tokens,output_tokens,"+
		"cache_read_tokens,cache_write_tokens,failed_calls,unsettled_reserved_usd,price_versions,by_model,overage_usd,by_agent")
	eq(t, "csv rows", strings.Count(r.raw, "\n"), 3)
	s.must(s.do("GET", "/tenants/acme/usage/history?group=week", adminKey, nil), 400, "group must be day or month")
}

// 200 executes race across the 80% and 100% thresholds of the daily cap
// (10 calls that each cost exactly their reservation): the webhook receives
// exactly two signed alerts, and GET /tenants/{t}/alerts lists them.
func TestAlertsOverHTTP(t *testing.T) {
	alertRace(t, provider.Usage{CacheWriteTokens: 115, OutputTokens: 1024}, 10, "0.12633", "0.1579125")
}

// The same race with an ordinary model, whose usage (1,000 input and 500
// output tokens: 10,500,000 nano-USD) is below its reservation: the worst
// case refuses calls before the settled spend reaches the cap, 14 are
// answered (147,000,000 settled; a 15th reservation does not fit), and the
// wall fires the 100% alert with the settled spend: still exactly two.
func TestAlertsAtTheWallOverHTTP(t *testing.T) {
	alertRace(t, provider.Usage{InputTokens: 1000, OutputTokens: 500}, 14, "0.1365", "0.147")
}

func alertRace(t *testing.T, usage provider.Usage, answered int32, spent80, spent100 string) {
	var mu sync.Mutex
	var got []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if sig := r.Header.Get("X-Tenancy-Signature"); sig != alerts.Sign([]byte("s3cret"), b) {
			t.Errorf("signature %q does not match the body", sig)
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer hook.Close()
	s := newServer(t, true, func(o *app.Options) {
		o.Getenv = env(map[string]string{"TENANCY_ADMIN_KEY": adminKey, "TENANCY_LISTEN": "127.0.0.1:0",
			"TENANCY_ALERT_WEBHOOK": hook.URL, "TENANCY_ALERT_SECRET": "s3cret"})
	})
	// reserve = (26 + 25 + 64) x 3750 + 1024 x 15000 = 15,791,250 nano-USD
	r := s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "max_cost_usd_per_day": 0.1579125}), 201)
	eq(t, "default thresholds", r.get("alert_thresholds_pct"), []any{json.Number("80"), json.Number("100")})
	s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"alert_thresholds_pct": []int{0}}), 400,
		"alert_thresholds_pct entries must be integers between 1 and 100")
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	s.model.set(usage, nil)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for deadline := time.Now().Add(2 * time.Minute); ; {
				r := s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "Help me reset my password"})
				if r.status == 429 && r.str("error", "code") == "cost_limit_in_flight" {
					// As Retry-After says, the budget may free up; a short
					// jittered pause keeps 200 retrying clients from starving
					// the settlements they wait for, and a deadline turns a
					// reservation that never frees into a failure, not a hang.
					if time.Now().After(deadline) {
						t.Error("still refused cost_limit_in_flight after 2 minutes")
						return
					}
					time.Sleep(time.Duration(10+rand.IntN(20)) * time.Millisecond)
					continue
				}
				if r.status == 200 {
					ok.Add(1)
				}
				return
			}
		}()
	}
	wg.Wait()
	eq(t, "answered", ok.Load(), answered)
	// Delivery does not hold the executes' responses: wait for it (and
	// for a third alert that must not come).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	eq(t, "alerts received", len(got), 2)
	pct := func(m map[string]any) int64 { n, _ := m["threshold_pct"].(json.Number).Int64(); return n }
	sort.Slice(got, func(i, j int) bool { return pct(got[i]) < pct(got[j]) })
	for i, want := range []map[string]any{
		{"tenant_id": "acme", "period": "day", "threshold_pct": json.Number("80"), "spent_usd": json.Number(spent80),
			"cap_usd": json.Number("0.1579125"), "at": "2026-11-28T14:30:00Z"},
		{"tenant_id": "acme", "period": "day", "threshold_pct": json.Number("100"), "spent_usd": json.Number(spent100),
			"cap_usd": json.Number("0.1579125"), "at": "2026-11-28T14:30:00Z"},
	} {
		eq(t, "alert", fmt.Sprint(got[i]), fmt.Sprint(want))
	}
	r = s.must(s.do("GET", "/tenants/acme/alerts", adminKey, nil), 200)
	eq(t, "alerts listed", len(r.get("alerts").([]any)), 2)
}
