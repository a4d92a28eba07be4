package dynamostore_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/tenancy"
)

var (
	day1      = "2026-11-28"
	day2      = "2026-11-29"
	midnight  = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	claude    = "claude-sonnet-4-20250514"
	usage1    = tenancy.Tokens{Input: 1000, Output: 500}
	settle1   = tenancy.Settlement{Tokens: usage1, Cost: costNanos, PriceVersion: "builtin-2026-11"}
	claudeDay = func(n int64) map[string]tenancy.ModelUsage {
		return map[string]tenancy.ModelUsage{claude: {Queries: n, Tokens: tenancy.Tokens{Input: 1000 * n, Output: 500 * n},
			Cost: tenancy.Money(n) * costNanos}}
	}
)

func (v *env) exec(n int) {
	v.t.Helper()
	for i := 0; i < n; i++ {
		if _, err := v.svc.Execute(v.ctx, "acme", "support", query); err != nil {
			v.t.Fatal(err)
		}
	}
}

func (v *env) history(from, to string) []tenancy.DayUsage {
	v.t.Helper()
	days, err := v.svc.History(v.ctx, "acme", from, to)
	if err != nil {
		v.t.Fatal(err)
	}
	return days
}

func day(date string, n int64) tenancy.DayUsage {
	return tenancy.DayUsage{Date: date, Queries: n, Cost: tenancy.Money(n) * costNanos,
		Tokens: tenancy.Tokens{Input: 1000 * n, Output: 500 * n}, ByModel: claudeDay(n), PriceVersions: []string{"builtin-2026-11"},
		ByAgent: supportDay(n)}
}

// supportDay is agent support's share of a day of n calls of usage1.
func supportDay(n int64) map[string]tenancy.AgentUsage {
	return map[string]tenancy.AgentUsage{"support": {Queries: n, TotalTokens: 1500 * n,
		Tokens: tenancy.Tokens{Input: 1000 * n, Output: 500 * n}, Cost: tenancy.Money(n) * costNanos}}
}

func wantDays(t *testing.T, got []tenancy.DayUsage, want ...tenancy.DayUsage) {
	t.Helper()
	if len(want) == 0 {
		want = []tenancy.DayUsage{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("history\n got %+v\nwant %+v", got, want)
	}
}

func (v *env) admit(id string) tenancy.Ticket {
	v.t.Helper()
	tk, err := v.store.Admit(v.ctx, tenancy.Admission{TenantID: "acme", AgentID: "support", Model: claude,
		Reserve: reserveNanos, CallID: id, Now: v.clock.Now()})
	if err != nil {
		v.t.Fatal(err)
	}
	return tk
}

// The scheduled reset never ran: the first admit of the new day rolls the
// window over; yesterday is in the history, lifetime totals keep counting.
func TestDayRolloverWithoutReset(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.exec(2)
		v.clock.Set(midnight.Add(9 * time.Hour))
		eq(t, "report before any call of the new day", v.report("acme").TotalCost, 0)
		v.exec(1)
		r := v.report("acme")
		eq(t, "usage date", r.UsageDate, day2)
		eq(t, "today's cost", r.TotalCost, costNanos)
		eq(t, "queries today", r.QueriesToday, 1)
		eq(t, "total queries (lifetime)", r.TotalQueries, 3)
		eq(t, "lifetime cost", r.LifetimeCost, 3*costNanos)
		wantDays(t, v.history(day1, day2), day(day1, 2), day(day2, 1))
	})
}

// The scheduled reset runs twice: the second run changes nothing.
func TestDailyResetTwice(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.register(tenantCfg("idle"))
		v.exec(2)
		v.clock.Set(midnight.Add(5 * time.Second))
		sum, err := v.svc.DailyReset(v.ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "tenants", sum.Tenants, 2)
		eq(t, "archived", sum.Archived, 2)
		sum, err = v.svc.DailyReset(v.ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "archived by the second run", sum.Archived, 0)
		wantDays(t, v.history(day1, day2), day(day1, 2))
		tn, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "window day", tn.Usage.Day, day2)
		eq(t, "budget restored", tn.Usage.BudgetLeft, 50*tenancy.NanosPerUSD)
		eq(t, "lifetime", v.report("acme").TotalQueries, 2)
	})
}

// A call admitted before midnight and settled after belongs to the day it
// was admitted, whether the reset ran in between or another admit rolled
// the window.
func TestCallStraddlingMidnight(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.clock.Set(midnight.Add(-time.Second))
		late := v.admit("late-1")
		other := v.admit("late-2")
		v.clock.Set(midnight.Add(time.Second))
		if _, err := v.svc.DailyReset(v.ctx); err != nil {
			t.Fatal(err)
		}
		wantDays(t, v.history(day1, day1), tenancy.DayUsage{Date: day1, Unsettled: 2 * reserveNanos,
			ByModel: map[string]tenancy.ModelUsage{}, PriceVersions: []string{}, ByAgent: map[string]tenancy.AgentUsage{}})
		eq(t, "reserved today after rollover", v.report("acme").ReservedCost, 0)
		if _, err := v.store.Settle(v.ctx, late, settle1); err != nil {
			t.Fatal(err)
		}
		if _, err := v.store.Settle(v.ctx, other, tenancy.Settlement{Failed: true}); err != nil {
			t.Fatal(err)
		}
		d := day(day1, 1)
		d.FailedCalls = 1
		wantDays(t, v.history(day1, day2), d)
		r := v.report("acme")
		eq(t, "today's cost", r.TotalCost, 0)
		eq(t, "lifetime queries", r.TotalQueries, 1)
		eq(t, "lifetime cost", r.LifetimeCost, costNanos)

		// Without a reset: an admit of the new day rolls the window first.
		v.clock.Set(midnight.Add(24*time.Hour - time.Second))
		tk := v.admit("late-3")
		v.clock.Set(midnight.Add(24*time.Hour + time.Second))
		v.exec(1)
		if _, err := v.store.Settle(v.ctx, tk, settle1); err != nil {
			t.Fatal(err)
		}
		wantDays(t, v.history(day2, "2026-11-30"), day(day2, 1), day("2026-11-30", 1))
	})
}

// The seed's manual reset archives before zeroing: nothing billed is lost,
// lifetime totals stay, and a call in flight during the reset settles into
// the same day.
func TestManualResetKeepsHistory(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.exec(2)
		inflight := v.admit("inflight")
		r, err := v.svc.ResetDailyUsage(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "cost after reset", r.TotalCost, 0)
		eq(t, "queries today after reset", r.QueriesToday, 0)
		eq(t, "reserved kept", r.ReservedCost, reserveNanos)
		eq(t, "lifetime queries kept", r.TotalQueries, 2)
		eq(t, "lifetime cost kept", r.LifetimeCost, 2*costNanos)
		tn, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "budget after reset", tn.Usage.BudgetLeft, 50*tenancy.NanosPerUSD-reserveNanos)
		if _, err := v.store.Settle(v.ctx, inflight, settle1); err != nil {
			t.Fatal(err)
		}
		v.exec(1)
		eq(t, "cost since reset", v.report("acme").TotalCost, 2*costNanos)
		wantDays(t, v.history(day1, day1), day(day1, 4))
		if _, err := v.svc.ResetDailyUsage(v.ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		wantDays(t, v.history(day1, day1), day(day1, 4))
		eq(t, "lifetime after two resets", v.report("acme").TotalQueries, 4)
	})
}

// Reconcile: a call whose process died is released once stale; a
// settlement recorded after a failed settle is applied exactly once.
func TestReconcile(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.admit("dead")
		rec := v.admit("recorded")
		if err := v.store.RecordUnsettled(v.ctx, rec, settle1); err != nil {
			t.Fatal(err)
		}
		res, err := v.svc.Reconcile(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "applied", res.Applied, 1)
		eq(t, "open (not stale yet)", res.Open, 1)
		r := v.report("acme")
		eq(t, "reserved shows the live call", r.ReservedCost, reserveNanos)
		eq(t, "recorded cost applied", r.TotalCost, costNanos)
		v.clock.Advance(16 * time.Minute)
		res, err = v.svc.Reconcile(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "released", res.Released, 1)
		r = v.report("acme")
		eq(t, "reserved", r.ReservedCost, 0)
		eq(t, "failed calls", r.FailedCalls, 1)
		eq(t, "cost applied once", r.TotalCost, costNanos)
		res, _ = v.svc.Reconcile(v.ctx, "acme")
		eq(t, "nothing left", res, tenancy.ReconcileResult{})
	})
}

func TestHistoryRange(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.exec(1)
		v.clock.Set(midnight.Add(48 * time.Hour)) // 2026-12-01; 11-29 and 11-30 had no usage
		v.exec(3)
		wantDays(t, v.history("2026-11-01", "2026-12-31"), day(day1, 1), day("2026-12-01", 3))
		wantDays(t, v.history("2026-11-29", "2026-11-30"))
		wantDays(t, v.history("", ""), day(day1, 1), day("2026-12-01", 3))
		for _, c := range []struct{ from, to, msg string }{
			{"2026-13-01", "2026-12-01", "from must be a date YYYY-MM-DD"},
			{"2026-12-01", "yesterday", "to must be a date YYYY-MM-DD"},
			{"2026-12-02", "2026-12-01", "from must not be after to"},
			{"2024-01-01", "2026-12-01", "a history range may span at most 366 days"},
		} {
			_, err := v.svc.History(v.ctx, "acme", c.from, c.to)
			wantErr(t, err, tenancy.ErrValidation, c.msg)
		}
		_, err := v.svc.History(v.ctx, "nope", "", "")
		wantErr(t, err, tenancy.ErrTenantNotFound, "Tenant 'nope' not found")
	})
}
