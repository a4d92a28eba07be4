package dynamostore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

type alertRecorder struct {
	mu     sync.Mutex
	alerts []tenancy.Alert
}

func (r *alertRecorder) Notify(_ context.Context, a tenancy.Alert) error {
	r.mu.Lock()
	r.alerts = append(r.alerts, a)
	r.mu.Unlock()
	return nil
}

func (r *alertRecorder) sorted() []tenancy.Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]tenancy.Alert{}, r.alerts...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Period != out[j].Period {
			return out[i].Period < out[j].Period
		}
		return out[i].ThresholdPct < out[j].ThresholdPct
	})
	return out
}

// exactUsage makes a call cost exactly its reservation (115 input tokens
// at the cache-write price, 1,024 output tokens): 15,791,250 nano-USD, so
// spend can reach a cap exactly.
var exactUsage = provider.Usage{CacheWriteTokens: 115, OutputTokens: 1024}

func (v *env) alertingService() (*tenancy.Service, *alertRecorder) {
	rec := &alertRecorder{}
	// moto serialises 200 racing requests behind one lock on a loaded
	// machine: a settle may wait longer than the default 10 s for its turn.
	return tenancy.New(tenancy.Options{Store: v.store, Clock: v.clock, Catalog: v.svc.Catalog(), Models: v.model,
		Alerts: rec, SettleTimeout: 2 * time.Minute}), rec
}

// 200 executes race across the 80% and 100% thresholds of a daily cap of
// exactly 10 calls: exactly two alerts, each recorded once, with the spend
// of the settlement that crossed it.
func TestAlertsExactlyOnce(t *testing.T) {
	repeated(t, func(t *testing.T, v *env) {
		svc, rec := v.alertingService()
		v.acme(func(c *tenancy.TenantConfig) { c.MaxCostPerDay = 10 * reserveNanos })
		v.model.set(exactUsage, nil)
		ok, refused := raceExecutes(t, v, svc, 200)
		eq(t, "answered", ok, 10)
		eq(t, "refused", refused, 190)
		got := rec.sorted()
		eq(t, "alerts delivered", len(got), 2)
		want := []tenancy.Alert{
			{TenantID: "acme", Period: "day", ThresholdPct: 80, Spent: 8 * reserveNanos, Cap: 10 * reserveNanos, At: t0},
			{TenantID: "acme", Period: "day", ThresholdPct: 100, Spent: 10 * reserveNanos, Cap: 10 * reserveNanos, At: t0},
		}
		for i := range want {
			eq(t, "alert", got[i], want[i])
		}
		listed, err := svc.Alerts(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "alerts listed", len(listed), 2)
		r := v.report("acme")
		eq(t, "report spend", r.TotalCost, 10*reserveNanos)
		// The settlements that crossed a threshold credited the agent too.
		eq(t, "by_agent", len(r.ByAgent), 1)
		eq(t, "agent support", r.ByAgent["support"], tenancy.AgentUsage{Queries: 10, TotalTokens: 10 * (115 + 1024),
			Tokens: tenancy.Tokens{CacheWrite: 1150, Output: 10240}, Cost: 10 * reserveNanos})
	})
}

// Month alerts, thresholds changed mid-period, and a new day's alerts.
func TestAlertPeriods(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		svc, rec := v.alertingService()
		v.acme(func(c *tenancy.TenantConfig) {
			c.MaxCostPerDay = 4 * reserveNanos
			m := 6 * reserveNanos
			c.MaxCostPerMonth = &m
			c.AlertThresholdsPct = []int{50, 100}
		})
		v.model.set(exactUsage, nil)
		run := func(n int) {
			for i := 0; i < n; i++ {
				if _, err := svc.Execute(v.ctx, "acme", "support", query); err != nil {
					t.Fatal(err)
				}
			}
		}
		run(1)
		eq(t, "no alert below 50%", len(rec.sorted()), 0)
		run(1) // day 50%
		got := rec.sorted()
		eq(t, "alerts", len(got), 1)
		eq(t, "day 50%", got[0], tenancy.Alert{TenantID: "acme", Period: "day", ThresholdPct: 50, Spent: 2 * reserveNanos,
			Cap: 4 * reserveNanos, At: t0})
		// Adding 75 alerts at the next settle that reaches it, once.
		p := []int{100, 75, 50, 75}
		tn, err := svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{AlertThresholds: &p})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "thresholds sorted, deduped", len(tn.AlertThresholdsPct), 3)
		run(1) // day 75%, month 50%
		got = rec.sorted()
		eq(t, "alerts", len(got), 3)
		eq(t, "day 75%", got[1].ThresholdPct, 75)
		eq(t, "month 50%", got[2], tenancy.Alert{TenantID: "acme", Period: "month", ThresholdPct: 50, Spent: 3 * reserveNanos,
			Cap: 6 * reserveNanos, At: t0})
		// The next day: the day's alerts start again; the month's do not.
		v.clock.Set(midnight.Add(time.Hour))
		run(2) // day 50%, month 75%
		got = rec.sorted()
		eq(t, "alerts", len(got), 5)
		eq(t, "second day 50%", got[1], tenancy.Alert{TenantID: "acme", Period: "day", ThresholdPct: 50, Spent: 2 * reserveNanos,
			Cap: 4 * reserveNanos, At: midnight.Add(time.Hour)})
		eq(t, "month 75%", got[4].ThresholdPct, 75)
		listed, err := svc.Alerts(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "alerts listed", len(listed), 5)
		eq(t, "newest first", listed[0].At, midnight.Add(time.Hour))
	})
}

// An alert raised by the charge of an implausible-usage call (the
// reservation) carries the clock's time, recorded and delivered, as any.
func TestImplausibleUsageAlertAt(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		svc, rec := v.alertingService()
		v.acme(func(c *tenancy.TenantConfig) {
			c.MaxCostPerDay = 2 * reserveNanos
			c.AlertThresholdsPct = []int{50}
		})
		at := t0.Add(7*time.Minute + 3*time.Second)
		v.clock.Set(at)
		v.model.set(provider.Usage{InputTokens: -5, OutputTokens: 1}, nil)
		if _, err := svc.Execute(v.ctx, "acme", "support", query); !errors.Is(err, provider.ErrUpstream) {
			t.Fatalf("err %v, want a provider error", err)
		}
		want := tenancy.Alert{TenantID: "acme", Period: "day", ThresholdPct: 50, Spent: reserveNanos, Cap: 2 * reserveNanos, At: at}
		got := rec.sorted()
		eq(t, "alerts delivered", len(got), 1)
		eq(t, "alert delivered", got[0], want)
		listed, err := svc.Alerts(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "alerts listed", len(listed), 1)
		eq(t, "alert at", listed[0].At, at)
	})
}

// An ordinary model's usage is below its reservation, so the worst case
// refuses calls before the settled spend reaches the cap. 200 executes race
// across the 80% and 100% thresholds of a daily cap of 10 reservations at
// 10,500,000 nano-USD a call: 14 are answered (the 15th's reservation no
// longer fits over 147,000,000 settled), 186 refused cost_limit, and
// exactly two alerts: 80% from the 13th settlement (136,500,000 >=
// 126,330,000), 100% from the wall with the settled spend.
func TestAlertsAtTheWall(t *testing.T) {
	repeated(t, func(t *testing.T, v *env) {
		svc, rec := v.alertingService()
		v.acme(func(c *tenancy.TenantConfig) { c.MaxCostPerDay = 10 * reserveNanos })
		ok, refused := raceExecutes(t, v, svc, 200)
		eq(t, "answered", ok, 14)
		eq(t, "refused", refused, 186)
		got := rec.sorted()
		eq(t, "alerts delivered", len(got), 2)
		want := []tenancy.Alert{
			{TenantID: "acme", Period: "day", ThresholdPct: 80, Spent: 13 * costNanos, Cap: 10 * reserveNanos, At: t0},
			{TenantID: "acme", Period: "day", ThresholdPct: 100, Spent: 14 * costNanos, Cap: 10 * reserveNanos, At: t0},
		}
		for i := range want {
			eq(t, "alert", got[i], want[i])
		}
		listed, err := svc.Alerts(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "alerts listed", len(listed), 2)
		r := v.report("acme")
		eq(t, "report spend", r.TotalCost, 14*costNanos)
		eq(t, "report queries", r.QueriesToday, int64(14))
		// Another refusal at the wall: no alert again, nothing moves.
		if _, err := svc.Execute(v.ctx, "acme", "support", query); !errorIs(err, tenancy.ErrCostLimit) {
			t.Fatalf("err %v, want cost_limit", err)
		}
		eq(t, "alerts after another refusal", len(rec.sorted()), 2)
		if after := v.report("acme"); !reflect.DeepEqual(after, r) {
			t.Fatalf("the refusal changed the report:\n%+v\n%+v", r, after)
		}
	})
}

// The month's wall: every threshold of the month not sent yet fires at
// the first monthly_cost_limit refusal, with the month's settled spend; the
// day's thresholds are left alone; the refusal moves no counter. A month of
// 3 reservations (47,373,750) admits 4 calls at 10,500,000 (the 4th's
// reservation still fits over 31,500,000): 50% (23,686,875) fires at the
// 3rd settlement, 90% (42,636,375) is never reached by a settlement
// (42,000,000), the 5th call is refused at the wall.
func TestMonthAlertsAtTheWall(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		svc, rec := v.alertingService()
		v.acme(func(c *tenancy.TenantConfig) {
			c.MaxCostPerDay = 100 * reserveNanos
			m := 3 * reserveNanos
			c.MaxCostPerMonth = &m
			c.AlertThresholdsPct = []int{50, 90, 100}
		})
		for i := 0; i < 4; i++ {
			if _, err := svc.Execute(v.ctx, "acme", "support", query); err != nil {
				t.Fatal(err)
			}
		}
		got := rec.sorted()
		eq(t, "alerts before the wall", len(got), 1)
		eq(t, "month 50%", got[0], tenancy.Alert{TenantID: "acme", Period: "month", ThresholdPct: 50, Spent: 3 * costNanos,
			Cap: 3 * reserveNanos, At: t0})
		before := v.report("acme")
		at := t0.Add(time.Minute)
		v.clock.Set(at)
		for i := 0; i < 2; i++ {
			if _, err := svc.Execute(v.ctx, "acme", "support", query); !errorIs(err, tenancy.ErrMonthlyLimit) {
				t.Fatalf("err %v, want monthly_cost_limit", err)
			}
		}
		got = rec.sorted()
		eq(t, "alerts", len(got), 3)
		for i, p := range []int{90, 100} {
			eq(t, "month at the wall", got[1+i], tenancy.Alert{TenantID: "acme", Period: "month", ThresholdPct: p,
				Spent: 4 * costNanos, Cap: 3 * reserveNanos, At: at})
		}
		listed, err := svc.Alerts(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "alerts listed", len(listed), 3)
		if after := v.report("acme"); !reflect.DeepEqual(after, before) {
			t.Fatalf("the refusals changed the report:\n%+v\n%+v", before, after)
		}
	})
}

// raceExecutes runs n racing executes on acme's support agent and counts
// the answered ones and the cost_limit refusals; anything else fails the
// test. As Retry-After says, a cost_limit_in_flight refusal may free up:
// it is retried after a short jittered pause (n clients spinning would
// starve the settlements they wait for), until a deadline that turns a
// reservation that never frees into a failure, not a hang.
func raceExecutes(t *testing.T, v *env, svc *tenancy.Service, n int) (ok, refused int64) {
	t.Helper()
	var okN, refusedN atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Execute(v.ctx, "acme", "support", query)
			for deadline := time.Now().Add(2 * time.Minute); errorIs(err, tenancy.ErrCostLimitInFlight); {
				if time.Now().After(deadline) {
					t.Error("still refused cost_limit_in_flight after 2 minutes")
					return
				}
				time.Sleep(time.Duration(10+rand.IntN(20)) * time.Millisecond)
				_, err = svc.Execute(v.ctx, "acme", "support", query)
			}
			switch {
			case err == nil:
				okN.Add(1)
			case errorIs(err, tenancy.ErrCostLimit):
				refusedN.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return okN.Load(), refusedN.Load()
}
