package tenancy

import (
	"fmt"
	"strings"
	"time"

	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/provider"
)

// InputOverheadTokens is the fixed per-call allowance added to the input
// bound for the provider's message framing (roles, separators).
const InputOverheadTokens = 64

// InputBound is an upper bound on a call's input tokens: no tokenizer yields
// more tokens than bytes, plus the fixed per-call overhead.
func InputBound(systemPrompt, query string) int64 {
	return int64(len(systemPrompt)) + int64(len(query)) + InputOverheadTokens
}

// Reserve is the worst-case cost of a call, reserved against the daily cap
// at admit: every input token at the highest input-side price and every
// allowed output token at the output price.
func Reserve(p catalog.Price, systemPrompt, query string, maxOutputTokens int) Money {
	return Money(InputBound(systemPrompt, query)*p.MaxInput() + int64(maxOutputTokens)*p.Output)
}

// ReserveRun is the worst-case cost of an execute: the model's
// max_calls_per_run worst-case calls (an agent runtime may call the model
// several times in one run).
func ReserveRun(m catalog.Model, systemPrompt, query string, maxOutputTokens int) Money {
	return Money(m.CallsPerRun()) * Reserve(m.Price, systemPrompt, query, maxOutputTokens)
}

// MaxPlausibleTokens is the most tokens of one kind a call may report. A
// count above it (or below 0) is implausible: a broken or hostile provider.
const MaxPlausibleTokens = 1_000_000_000

// CheckUsage refuses an implausible usage report. Such a call is settled as
// failed and charged its reservation, the bound promised at admit. Each
// count the provider reported (r.Reported, else r.Usage's) must be within
// 0..MaxPlausibleTokens, and so must the disjoint counts derived from them
// (OpenAI's cached_tokens above its prompt_tokens contradict each other).
// The error names the counts as the provider reported them.
func CheckUsage(r provider.Response) error {
	u := r.Usage
	derived := []provider.Count{{Name: "input_tokens", N: u.InputTokens}, {Name: "output_tokens", N: u.OutputTokens},
		{Name: "cache_read_tokens", N: u.CacheReadTokens}, {Name: "cache_write_tokens", N: u.CacheWriteTokens}}
	reported := r.Reported
	if reported == nil {
		reported = derived
	}
	for _, c := range reported {
		if c.N < 0 || c.N > MaxPlausibleTokens {
			return fmt.Errorf("%s=%d is outside 0..%d", c.Name, c.N, MaxPlausibleTokens)
		}
	}
	for _, c := range derived {
		if c.N < 0 || c.N > MaxPlausibleTokens {
			parts := make([]string, len(reported))
			for i, c := range reported {
				parts[i] = fmt.Sprintf("%s=%d", c.Name, c.N)
			}
			return fmt.Errorf("%s contradict each other", strings.Join(parts, " "))
		}
	}
	return nil
}

// Overage is the part of a settled cost above its reservation: money
// really spent beyond the bound promised at admit, charged in full and
// reported (overage_usd), never dropped.
func (st Settlement) Overage(t Ticket) Money {
	if st.Cost > t.Reserve {
		return st.Cost - t.Reserve
	}
	return 0
}

// InFlightRetryAfter is the Retry-After of a refusal caused by calls in
// flight: they settle (and free most of their reservation) within seconds.
const InFlightRetryAfter = 2 * time.Second

// InterruptedCost is what a streamed call that stopped early is charged: the
// usage the provider reported so far where it reported any, else the
// bounds (every input token of the bound at the highest input-side price,
// one output token per byte streamed, as no tokenizer yields more tokens
// than bytes), never more than the reservation.
func InterruptedCost(p catalog.Price, r provider.Response, inputBound int64, reserve Money) (Tokens, Money) {
	out := max(r.Usage.OutputTokens, int64(len(r.Content)))
	var t Tokens
	var cost int64
	if in := r.Usage; in.InputTokens+in.CacheReadTokens+in.CacheWriteTokens > 0 {
		t = Tokens{Input: in.InputTokens, Output: out, CacheRead: in.CacheReadTokens, CacheWrite: in.CacheWriteTokens}
		cost = p.Cost(provider.Usage{InputTokens: t.Input, OutputTokens: out, CacheReadTokens: t.CacheRead, CacheWriteTokens: t.CacheWrite})
	} else {
		t = Tokens{Input: inputBound, Output: out}
		cost = inputBound*p.MaxInput() + out*p.Output
	}
	return t, min(Money(cost), reserve)
}

// AdmitPlan is the window an admission attempt counts in. NewHour selects
// the form of the write that starts a new hourly counter at 1.
type AdmitPlan struct {
	Day     string
	Hour    string
	NewHour bool
}

// PlanFor is the first attempt's plan at time now, in the tenant's calendar
// as last seen (a stale one costs one refused attempt, never a wrong count:
// ExplainRefusal recomputes the day from the tenant item).
func PlanFor(now time.Time, cal Calendar) AdmitPlan {
	return AdmitPlan{Day: cal.Day(now), Hour: HourKey(now)}
}

// Verdict is what to do after an admission's condition failed.
type Verdict int

// Verdicts.
const (
	Refuse   Verdict = iota // return the error
	Rollover                // the daily window is stale: roll it over, then retry
	Retry                   // retry with the returned plan
)

// ExplainRefusal decides why an admission was refused, from the tenant as it
// was when the condition failed (nil: there is no such tenant). These are the
// rules the store's condition expression encodes, in the order a client
// should hear about them.
func ExplainRefusal(t *Tenant, a Admission, plan AdmitPlan) (Verdict, AdmitPlan, error) {
	if t == nil {
		return Refuse, plan, TenantNotFound(a.TenantID)
	}
	if !t.IsActive {
		return Refuse, plan, TenantInactive(a.TenantID)
	}
	if !Allows(t.AllowedModels, a.Model) {
		return Refuse, plan, ModelNotAllowed(a.Model, a.TenantID)
	}
	for _, tool := range a.Tools {
		if !Allows(t.AllowedTools, tool) {
			return Refuse, plan, ToolNotAllowed(tool, a.TenantID)
		}
	}
	w := t.Usage
	cal := t.Calendar()
	switch day := cal.Day(a.Now); {
	case w.Day < day: // the window is an earlier local day's
		plan.Day = day
		return Rollover, plan, nil
	case w.Day != plan.Day:
		// The plan's day was computed in a calendar seen earlier, or this
		// clock is behind the one that opened the window: count in it.
		plan.Day = w.Day
		return Retry, plan, nil
	}
	switch {
	case w.Hour < plan.Hour && !plan.NewHour:
		plan.NewHour = true
		return Retry, plan, nil
	case w.Hour > plan.Hour:
		plan.Hour, plan.NewHour = w.Hour, false
		return Retry, plan, nil
	case w.Hour == plan.Hour && plan.NewHour: // another call opened the hour first
		plan.NewHour = false
		return Retry, plan, nil
	}
	used := w.HourQueries
	if plan.NewHour {
		used = 0
	}
	if used >= int64(t.MaxQueriesPerHour) {
		return Refuse, plan, QueryLimit(a.TenantID, used, t.MaxQueriesPerHour, until(a.Now, NextHour(a.Now)))
	}
	if t.MaxCostPerMonth != nil && w.MonthBudget < a.Reserve {
		// As for the day: when the month's settled spend plus this call
		// fits the monthly budget, only calls in flight hold it, unless the
		// day's budget is really exhausted (a retry in seconds would only
		// meet that: the day's refusal below says so).
		dayExhausted := w.BudgetLeft < a.Reserve && w.Spent > t.MaxCostPerDay-a.Reserve
		switch {
		case w.MonthSpent > *t.MaxCostPerMonth-a.Reserve:
			return Refuse, plan, MonthlyCostLimit(a.TenantID, w.MonthSpent+w.MonthReserved, *t.MaxCostPerMonth,
				until(a.Now, cal.NextMonth(a.Now)))
		case !dayExhausted:
			return Refuse, plan, MonthlyCostLimitInFlight(a.TenantID, w.MonthSpent, w.MonthReserved, *t.MaxCostPerMonth,
				min(InFlightRetryAfter, until(a.Now, cal.NextMonth(a.Now))))
		}
	}
	if w.BudgetLeft < a.Reserve {
		// Settled spend plus this call fits the cap: only calls in flight
		// hold the budget, and they settle in seconds. Otherwise the day's
		// budget is really exhausted: until the next day boundary.
		if w.Spent <= t.MaxCostPerDay-a.Reserve {
			return Refuse, plan, CostLimitInFlight(a.TenantID, w.Spent, w.Reserved, t.MaxCostPerDay,
				min(InFlightRetryAfter, until(a.Now, cal.NextDay(a.Now))))
		}
		return Refuse, plan, CostLimit(a.TenantID, w.Spent+w.Reserved, t.MaxCostPerDay, until(a.Now, cal.NextDay(a.Now)))
	}
	return Retry, plan, nil // the item changed between the write and now: try again
}

func until(now, then time.Time) time.Duration {
	d := then.Sub(now)
	if d < time.Second {
		d = time.Second
	}
	return d
}

// ExplainAgentRefusal decides why creating agent a was refused by the tenant
// item's condition, from the tenant as it was then (nil: no such tenant).
// nil means the tenant allowed it (so the agent item itself was the conflict).
func ExplainAgentRefusal(t *Tenant, a Agent) error {
	if t == nil {
		return TenantNotFound(a.TenantID)
	}
	if !Allows(t.AllowedModels, a.LLMModel) {
		return ModelNotAllowed(a.LLMModel, a.TenantID)
	}
	for _, tool := range a.Tools {
		if !Allows(t.AllowedTools, tool) {
			return ToolNotAllowed(tool, a.TenantID)
		}
	}
	if t.AgentCount >= t.MaxAgents {
		return AgentLimit(a.TenantID, t.MaxAgents)
	}
	return nil
}
