package tenancy

import (
	"testing"
	"time"
)

// The monthly refusal's three cases, decided from the tenant item: calls in
// flight hold the month (retry in 2 s); the month is really exhausted (to
// the next month); calls in flight hold the month but the day is really
// exhausted (the day's refusal, to the next day: a retry in seconds would
// only meet it). Monthly budget $2.50, daily $5.00 (in the last case
// $2.00), reservation $1.00, 2026-11-28 14:30 UTC.
func TestExplainMonthlyRefusal(t *testing.T) {
	now := time.Date(2026, 11, 28, 14, 30, 0, 0, time.UTC)
	const usd = Money(1_000_000_000)
	month := 5 * usd / 2
	for _, c := range []struct {
		name                      string
		monthSpent, monthReserved Money
		daySpent, dayReserved     Money
		dayMax                    Money
		code                      Code
		msg                       string
		retryAfter                time.Duration
	}{
		{"held by calls in flight", 0, 2 * usd, 0, 2 * usd, 5 * usd, CodeMonthlyLimitInFlight,
			"Tenant 'acme' has calls in flight holding its monthly budget (cost: $0.00 + $2.00 reserved / $2.50)", 2 * time.Second},
		{"exhausted", 2 * usd, 0, 0, 0, 5 * usd, CodeMonthlyLimit,
			"Tenant 'acme' has exceeded its monthly budget (cost: $2.00 / $2.50)", 57*time.Hour + 30*time.Minute},
		{"month held, day exhausted", 3 * usd / 2, usd / 2, 3 * usd / 2, usd / 2, 2 * usd, CodeCostLimit,
			"Tenant 'acme' has exceeded usage limits (cost: $2.00 / $2.00)", 9*time.Hour + 30*time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			day := "2026-11-28"
			tn := &Tenant{TenantConfig: TenantConfig{TenantID: "acme", MaxQueriesPerHour: 100, MaxCostPerDay: c.dayMax,
				MaxCostPerMonth: &month}, IsActive: true,
				Usage: Window{Day: day, Hour: HourKey(now), Spent: c.daySpent, Reserved: c.dayReserved,
					BudgetLeft: c.dayMax - c.daySpent - c.dayReserved, Month: MonthKey(day), MonthSpent: c.monthSpent,
					MonthReserved: c.monthReserved, MonthBudget: month - c.monthSpent - c.monthReserved}}
			a := Admission{TenantID: "acme", Reserve: usd, Now: now}
			v, _, err := ExplainRefusal(tn, a, PlanFor(now, tn.Calendar()))
			e, ok := err.(*Error)
			if v != Refuse || !ok {
				t.Fatalf("verdict %v, err %v", v, err)
			}
			if e.Code != c.code || e.Message != c.msg || e.RetryAfter != c.retryAfter {
				t.Fatalf("got %s %q %v, want %s %q %v", e.Code, e.Message, e.RetryAfter, c.code, c.msg, c.retryAfter)
			}
		})
	}
}
