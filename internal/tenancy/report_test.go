package tenancy

import (
	"reflect"
	"testing"
)

// SumMonths sums each agent's days into its month, exact to the nano, and
// leaves the days' maps untouched.
func TestSumMonthsByAgent(t *testing.T) {
	a := func(q, in, out int64, cost Money) AgentUsage {
		return AgentUsage{Queries: q, TotalTokens: in + out, Tokens: Tokens{Input: in, Output: out}, Cost: cost}
	}
	days := []DayUsage{
		{Date: "2026-11-29", ByAgent: map[string]AgentUsage{"support": a(1, 10, 20, 100_000_001), "sales": a(2, 1, 2, 3)}},
		{Date: "2026-11-30", ByAgent: map[string]AgentUsage{"support": a(3, 30, 40, 200_000_002)}},
		{Date: "2026-12-01", ByAgent: map[string]AgentUsage{"sales": a(4, 5, 6, 7)}},
		{Date: "2026-12-02", ByAgent: map[string]AgentUsage{}},
	}
	months := SumMonths(days)
	if len(months) != 2 {
		t.Fatalf("%d months", len(months))
	}
	want := []map[string]AgentUsage{
		{"support": a(4, 40, 60, 300_000_003), "sales": a(2, 1, 2, 3)},
		{"sales": a(4, 5, 6, 7)},
	}
	for i, m := range months {
		if !reflect.DeepEqual(m.ByAgent, want[i]) {
			t.Fatalf("%s by_agent\n got %+v\nwant %+v", m.Month, m.ByAgent, want[i])
		}
	}
	if got := days[0].ByAgent["support"]; got != a(1, 10, 20, 100_000_001) {
		t.Fatalf("the first day's map changed: %+v", got)
	}
}

// SumMonths sums the days' overage into each month, exact to the nano.
func TestSumMonthsOverage(t *testing.T) {
	days := []DayUsage{
		{Date: "2026-11-29", Overage: 601_200, Cost: 1_215_000},
		{Date: "2026-11-30", Overage: 1},
		{Date: "2026-12-01", Overage: 999_999_999},
		{Date: "2026-12-02"},
	}
	months := SumMonths(days)
	if len(months) != 2 || months[0].Overage != 601_201 || months[1].Overage != 999_999_999 || months[0].Cost != 1_215_000 {
		t.Fatalf("months %+v", months)
	}
}
