package dynamostore_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/tenancy"
)

func monthCap(m tenancy.Money) func(*tenancy.TenantConfig) {
	return func(c *tenancy.TenantConfig) { c.MaxCostPerMonth = &m }
}

// The monthly budget is a hard cap in the same admit write: 30,000,000
// nano-USD admits two calls (reserve 15,791,250; cost 10,500,000 each) and
// refuses the third, on any day of the month, until the next local month.
func TestMonthlyBudget(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme(monthCap(30_000_000))
		v.counter.Reset()
		v.exec(1)
		if v.dynamo() {
			eq(t, "writes per execute with a monthly budget", v.counter.Writes(), 2)
		}
		v.exec(1)
		_, err := v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrMonthlyLimit, "Tenant 'acme' has exceeded its monthly budget (cost: $0.02 / $0.03)")
		eq(t, "Retry-After to December 1 (UTC)", err.(*tenancy.Error).RetryAfter, 57*time.Hour+30*time.Minute)
		r := v.report("acme")
		eq(t, "month", r.Month, "2026-11")
		eq(t, "month_cost_usd", r.MonthCost, 2*costNanos)
		eq(t, "max_cost_usd_per_month", *r.MaxCostPerMonth, 30_000_000)
		eq(t, "month_utilization_pct", *r.MonthUtilizationPct, 70.0)
		eq(t, "queries today", r.QueriesToday, 2)

		// The next day of the same month: the daily budget is whole again,
		// the month's is not.
		v.clock.Set(midnight.Add(time.Hour))
		_, err = v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrMonthlyLimit, "Tenant 'acme' has exceeded its monthly budget (cost: $0.02 / $0.03)")
		r = v.report("acme")
		eq(t, "month_cost_usd on the 29th", r.MonthCost, 2*costNanos)
		eq(t, "total_cost_usd on the 29th", r.TotalCost, 0)

		// Raising it frees the difference at once; null removes it.
		capUp := tenancy.Money(50_000_000)
		if _, err := v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{MaxCostPerMonth: tenancy.OptionalMoney{Set: true, Value: &capUp}}); err != nil {
			t.Fatal(err)
		}
		v.exec(1)
		eq(t, "month_cost_usd", v.report("acme").MonthCost, 3*costNanos)
		if _, err := v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{MaxCostPerMonth: tenancy.OptionalMoney{Set: true}}); err != nil {
			t.Fatal(err)
		}
		v.exec(3)
		r = v.report("acme")
		eq(t, "no monthly budget", r.MaxCostPerMonth == nil && r.MonthUtilizationPct == nil, true)
		eq(t, "month_cost_usd without a budget", r.MonthCost, 6*costNanos)

		// A call admitted on November 30 and settled on December 1 belongs
		// to November; December starts whole.
		capBack := tenancy.Money(30_000_000)
		if _, err := v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{MaxCostPerMonth: tenancy.OptionalMoney{Set: true, Value: &capBack}}); err != nil {
			t.Fatal(err)
		}
		_, err = v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrMonthlyLimit, "Tenant 'acme' has exceeded its monthly budget (cost: $0.06 / $0.03)")
		v.clock.Set(utc("2026-11-30T23:59:59Z"))
		capUp2 := tenancy.Money(100_000_000)
		if _, err := v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{MaxCostPerMonth: tenancy.OptionalMoney{Set: true, Value: &capUp2}}); err != nil {
			t.Fatal(err)
		}
		late := v.admit("late")
		v.clock.Set(utc("2026-12-01T00:00:01Z"))
		v.exec(1)
		if _, err := v.store.Settle(v.ctx, late, settle1); err != nil {
			t.Fatal(err)
		}
		r = v.report("acme")
		eq(t, "month", r.Month, "2026-12")
		eq(t, "December's cost", r.MonthCost, costNanos)
		tn, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "December reserved", tn.Usage.MonthReserved, 0)
		eq(t, "December budget", tn.Usage.MonthBudget, 100_000_000-costNanos)
		wantQueries(t, v.days("acme", "2026-11-28", "2026-12-01"),
			map[string]int64{"2026-11-28": 2, "2026-11-29": 4, "2026-11-30": 1, "2026-12-01": 1})

		// group=month sums the days, exact to the nano.
		days, err := v.svc.MonthlyHistoryDays(v.ctx, "acme", "", "")
		if err != nil {
			t.Fatal(err)
		}
		months := tenancy.SumMonths(days)
		eq(t, "months", len(months), 2)
		eq(t, "November", months[0].Month, "2026-11")
		eq(t, "November queries", months[0].Queries, 7)
		eq(t, "November cost", months[0].Cost, 7*costNanos)
		eq(t, "November claude cost", months[0].ByModel[claude].Cost, 7*costNanos)
		eq(t, "December cost", months[1].Cost, costNanos)
	})
}

// A monthly refusal caused only by calls in flight says so and asks to
// retry in seconds (as the daily one, issue 9 §4); only a real exhaustion
// is monthly_cost_limit until the next local month.
func TestMonthlyRefusalSaysTheTruth(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme(monthCap(40_000_000)) // $0.04: two reservations (15,791,250 each) fit, a third does not
		tickets := []tenancy.Ticket{v.admit("c1"), v.admit("c2")}
		before, _ := v.svc.GetTenant(v.ctx, "acme")
		_, err := v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrMonthlyLimitInFlight,
			"Tenant 'acme' has calls in flight holding its monthly budget (cost: $0.00 + $0.03 reserved / $0.04)")
		var te *tenancy.Error
		errors.As(err, &te)
		eq(t, "retry after", te.RetryAfter, 2*time.Second)
		after, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "refusal changed nothing", fmt.Sprint(after.Usage), fmt.Sprint(before.Usage))
		for _, tk := range tickets {
			if _, err := v.store.Settle(v.ctx, tk, settle1); err != nil {
				t.Fatal(err)
			}
		}
		// 21,000,000 spent: one more fits (21,000,000 + 15,791,250 <=
		// 40,000,000), then 31,500,000 + 15,791,250 > 40,000,000 is a real
		// exhaustion, refused until December 1 (UTC).
		if _, err := v.svc.Execute(v.ctx, "acme", "support", query); err != nil {
			t.Fatal(err)
		}
		_, err = v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrMonthlyLimit, "Tenant 'acme' has exceeded its monthly budget (cost: $0.03 / $0.04)")
		errors.As(err, &te)
		eq(t, "retry after (to the next month)", te.RetryAfter, 57*time.Hour+30*time.Minute)
		eq(t, "month_cost_usd", v.report("acme").MonthCost, 3*costNanos)
	})
}

// A call in flight when the month rolls over within the same month's day
// keeps the month's counters exact: a day rollover within a month keeps
// the reservation in the month, and settling releases it.
func TestMonthCountersAcrossDays(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme(monthCap(1_000_000_000))
		v.clock.Set(midnight.Add(-time.Second))
		tk := v.admit("straddle")
		v.clock.Set(midnight.Add(time.Second))
		v.exec(1)
		tn, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "month reserved while in flight", tn.Usage.MonthReserved, reserveNanos)
		if _, err := v.store.Settle(v.ctx, tk, settle1); err != nil {
			t.Fatal(err)
		}
		tn, _ = v.svc.GetTenant(v.ctx, "acme")
		eq(t, "month reserved", tn.Usage.MonthReserved, 0)
		eq(t, "month spent", tn.Usage.MonthSpent, 2*costNanos)
		eq(t, "month budget", tn.Usage.MonthBudget, 1_000_000_000-2*costNanos)
	})
}

// Racing executes never spend past the monthly budget (the daily cap is far
// above it): 68,291,249 nano-USD fits 5 calls one after another (a sixth
// would need 15,791,250 left, 68,291,249 - 5 x 10,500,000 = 15,791,249), and
// at least 4 under any interleaving (4 worst-case reserves fit at once).
func TestConcurrentMonthlyBudget(t *testing.T) {
	repeated(t, func(t *testing.T, v *env) {
		v.acme(monthCap(68_291_249))
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := v.svc.Execute(v.ctx, "acme", "support", query)
				switch {
				case err == nil:
					ok.Add(1)
				case errorIs(err, tenancy.ErrMonthlyLimit), errorIs(err, tenancy.ErrMonthlyLimitInFlight):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		r := v.report("acme")
		if r.MonthCost > 68_291_249 {
			t.Fatalf("month spend %d over the budget", r.MonthCost)
		}
		eq(t, "answered + refused", ok.Load()+refused.Load(), 20)
		if n := ok.Load(); n < 4 || n > 5 {
			t.Fatalf("answered %d, want 4 or 5", n)
		}
		eq(t, "month spend = answered x cost", r.MonthCost, tenancy.Money(ok.Load())*costNanos)
		tn, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "nothing left reserved", tn.Usage.MonthReserved, 0)
		eq(t, "budget = cap - spend", tn.Usage.MonthBudget, 68_291_249-r.MonthCost)
	})
}
