package tenancy

import (
	"context"
	"errors"
	"sort"
	"time"
	"unicode/utf8"
)

func validUTF8(s string) bool { return utf8.ValidString(s) }

// UsageReport is the seed's usage report plus the live window's detail.
type UsageReport struct {
	TenantID           string    `json:"tenant_id"`
	Name               string    `json:"name"`
	IsActive           bool      `json:"is_active"`
	Agents             int       `json:"agents"`
	MaxAgents          int       `json:"max_agents"`
	TotalQueries       int64     `json:"total_queries"`  // lifetime, never reset
	TotalCost          Money     `json:"total_cost_usd"` // today's settled spend
	MaxCostPerDay      Money     `json:"max_cost_usd_per_day"`
	CostUtilizationPct float64   `json:"cost_utilization_pct"`
	QueriesToday       int64     `json:"queries_today"`
	QueriesThisHour    int64     `json:"queries_this_hour"`
	MaxQueriesPerHour  int       `json:"max_queries_per_hour"`
	UsageDate          string    `json:"usage_date"`
	ResetsAt           time.Time `json:"resets_at"`
	ReservedCost       Money     `json:"reserved_cost_usd"`
	// OverageUSD is today's sum of cost above reservations: the only way
	// spend passes the cap (total_cost_usd <= cap + overage_usd).
	OverageUSD    Money                 `json:"overage_usd"`
	LifetimeCost  Money                 `json:"lifetime_cost_usd"`
	FailedCalls   int64                 `json:"failed_calls"`
	ByModel       map[string]ModelUsage `json:"by_model"`
	PriceVersions []string              `json:"price_versions"`
	// ByAgent is each agent's share of today (short id -> usage), counted
	// when its calls settle; agents without a settled call today are absent.
	ByAgent map[string]AgentUsage `json:"by_agent"`
	// The local calendar month: settled spend, the monthly budget (null:
	// none) and the spend's share of it (null without a budget).
	Month               string   `json:"month"`
	MonthCost           Money    `json:"month_cost_usd"`
	MaxCostPerMonth     *Money   `json:"max_cost_usd_per_month"`
	MonthUtilizationPct *float64 `json:"month_utilization_pct"`
}

// Report builds the usage report of a tenant as of now. A window left from
// an earlier day (no rollover yet) counts as an empty today.
func Report(t Tenant, now time.Time) UsageReport {
	cal := t.Calendar()
	r := UsageReport{
		TenantID: t.TenantID, Name: t.Name, IsActive: t.IsActive,
		Agents: t.AgentCount, MaxAgents: t.MaxAgents,
		TotalQueries: t.TotalQueries, MaxCostPerDay: t.MaxCostPerDay,
		MaxQueriesPerHour: t.MaxQueriesPerHour, UsageDate: cal.Day(now), ResetsAt: cal.NextDay(now),
		LifetimeCost: t.LifetimeCost, ByModel: map[string]ModelUsage{}, PriceVersions: []string{},
		ByAgent: map[string]AgentUsage{},
	}
	w := t.Usage
	if w.Day > r.UsageDate { // a zone further east opened it: it lasts until its own midnight
		r.UsageDate = w.Day
	}
	if w.Day >= r.UsageDate {
		r.TotalCost, r.ReservedCost, r.QueriesToday, r.FailedCalls = w.Spent, w.Reserved, w.Queries, w.FailedCalls
		r.OverageUSD = w.Overage
		for m, u := range w.ByModel {
			r.ByModel[m] = u
		}
		r.PriceVersions = append(r.PriceVersions, w.PriceVersion...)
	}
	r.Month = MonthKey(r.UsageDate)
	if w.Month >= r.Month {
		r.MonthCost = w.MonthSpent
	}
	if t.MaxCostPerMonth != nil {
		cap := *t.MaxCostPerMonth
		r.MaxCostPerMonth = &cap
		pct := 0.0
		if cap > 0 {
			pct = float64(int64(r.MonthCost)*100) / float64(cap)
		}
		r.MonthUtilizationPct = &pct
	}
	if w.Hour >= HourKey(now) {
		r.QueriesThisHour = w.HourQueries
	}
	if t.MaxCostPerDay > 0 {
		// One division of exact integers: the closest float to the true ratio.
		r.CostUtilizationPct = float64(int64(r.TotalCost)*100) / float64(t.MaxCostPerDay)
	}
	return r
}

// UsageReport returns a tenant's usage report, with today's agent counters
// (one Query of the day's agent records; none while no call of today has
// opened the day's window).
func (s *Service) UsageReport(ctx context.Context, tenantID string) (UsageReport, error) {
	t, err := s.GetTenant(ctx, tenantID)
	if err != nil {
		return UsageReport{}, err
	}
	r := Report(t, s.clock.Now())
	if t.Usage.Day < r.UsageDate {
		return r, nil // today's window is not open: nothing settled today
	}
	agents, err := s.store.AgentDays(ctx, tenantID, r.UsageDate, r.UsageDate)
	if err != nil {
		return UsageReport{}, err
	}
	for _, a := range agents {
		r.ByAgent[a.AgentID] = r.ByAgent[a.AgentID].Plus(AgentUsageOf(a.Usage))
	}
	return r, nil
}

// MaxHistoryDays bounds one history request.
const MaxHistoryDays = 366

// History returns one entry per day with usage in [from, to] (YYYY-MM-DD,
// the tenant's local days), the current day included. Empty from/to default
// to the last 30 local days.
func (s *Service) History(ctx context.Context, tenantID, from, to string) ([]DayUsage, error) {
	if err := CheckTenantID(tenantID); err != nil {
		return nil, err
	}
	if to == "" {
		t, err := s.store.GetTenant(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		to = t.Calendar().Day(s.clock.Now())
	}
	if from == "" {
		f, err := time.Parse(time.DateOnly, to)
		if err != nil {
			return nil, Validationf("to must be a date YYYY-MM-DD")
		}
		from = f.AddDate(0, 0, -29).Format(time.DateOnly)
	}
	f, ferr := time.Parse(time.DateOnly, from)
	t, terr := time.Parse(time.DateOnly, to)
	switch {
	case ferr != nil:
		return nil, Validationf("from must be a date YYYY-MM-DD")
	case terr != nil:
		return nil, Validationf("to must be a date YYYY-MM-DD")
	case t.Before(f):
		return nil, Validationf("from must not be after to")
	case t.Sub(f) > (MaxHistoryDays-1)*24*time.Hour:
		return nil, Validationf("a history range may span at most %d days", MaxHistoryDays)
	}
	days, err := s.store.History(ctx, tenantID, from, to)
	if err != nil {
		return nil, err
	}
	out := days[:0]
	byDate := map[string]int{}
	for _, d := range days {
		if !d.Empty() {
			if d.ByAgent == nil {
				d.ByAgent = map[string]AgentUsage{}
			}
			byDate[d.Date] = len(out)
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	// Read after the days: an agent's counters move in the same write as
	// its day's, so once the calls have settled they sum to the day's.
	agents, err := s.store.AgentDays(ctx, tenantID, from, to)
	if err != nil {
		return nil, err
	}
	for _, a := range agents {
		if i, ok := byDate[a.Date]; ok {
			out[i].ByAgent[a.AgentID] = out[i].ByAgent[a.AgentID].Plus(AgentUsageOf(a.Usage))
		}
	}
	return out, nil
}

// MonthUsage is one local calendar month of billing history: the sum of its
// days, exact to the nano.
type MonthUsage struct {
	Month   string `json:"month"`
	Queries int64  `json:"queries"`
	Cost    Money  `json:"cost_usd"`
	Tokens
	FailedCalls   int64                 `json:"failed_calls"`
	Overage       Money                 `json:"overage_usd"` // the days' cost above reservations, summed
	Unsettled     Money                 `json:"unsettled_reserved_usd"`
	ByModel       map[string]ModelUsage `json:"by_model"`
	PriceVersions []string              `json:"price_versions"`
	ByAgent       map[string]AgentUsage `json:"by_agent"`
}

// SumMonths sums days (in date order) into months, in month order.
func SumMonths(days []DayUsage) []MonthUsage {
	out := []MonthUsage{}
	var cur DayUsage
	month := ""
	flush := func() {
		if month != "" {
			out = append(out, MonthUsage{Month: month, Queries: cur.Queries, Cost: cur.Cost, Tokens: cur.Tokens,
				FailedCalls: cur.FailedCalls, Overage: cur.Overage, Unsettled: cur.Unsettled, ByModel: cur.ByModel,
				PriceVersions: nonNilStrings(cur.PriceVersions), ByAgent: cur.ByAgent})
		}
	}
	for _, d := range days {
		if m := MonthKey(d.Date); m != month {
			flush()
			month, cur = m, DayUsage{ByModel: map[string]ModelUsage{}, ByAgent: map[string]AgentUsage{}}
		}
		cur = MergeDays(cur, d)
	}
	flush()
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// MonthlyHistoryDays returns the days of a monthly history (SumMonths sums
// them): empty to defaults to today, empty from to the first day of the
// month 11 months before to's (a year of months).
func (s *Service) MonthlyHistoryDays(ctx context.Context, tenantID, from, to string) ([]DayUsage, error) {
	if from == "" {
		if to == "" {
			if err := CheckTenantID(tenantID); err != nil {
				return nil, err
			}
			t, err := s.store.GetTenant(ctx, tenantID)
			if err != nil {
				return nil, err
			}
			to = t.Calendar().Day(s.clock.Now())
		}
		f, err := time.Parse(time.DateOnly, to)
		if err != nil {
			return nil, Validationf("to must be a date YYYY-MM-DD")
		}
		from = time.Date(f.Year(), f.Month()-11, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}
	return s.History(ctx, tenantID, from, to)
}

// MergeDays adds b's counters into a (same date).
func MergeDays(a, b DayUsage) DayUsage {
	a.Queries += b.Queries
	a.Cost += b.Cost
	a.Tokens = a.Tokens.Plus(b.Tokens)
	a.FailedCalls += b.FailedCalls
	a.Overage += b.Overage
	a.Unsettled += b.Unsettled
	if a.ByModel == nil {
		a.ByModel = map[string]ModelUsage{}
	}
	for m, u := range b.ByModel {
		x := a.ByModel[m]
		a.ByModel[m] = ModelUsage{Queries: x.Queries + u.Queries, Tokens: x.Tokens.Plus(u.Tokens), Cost: x.Cost + u.Cost}
	}
	if a.ByAgent == nil && b.ByAgent != nil {
		a.ByAgent = make(map[string]AgentUsage, len(b.ByAgent))
	}
	for id, u := range b.ByAgent {
		a.ByAgent[id] = a.ByAgent[id].Plus(u)
	}
	a.PriceVersions = mergeSorted(a.PriceVersions, b.PriceVersions)
	return a
}

func mergeSorted(a, b []string) []string {
	out := append(append([]string{}, a...), b...)
	sort.Strings(out)
	return dedupe(out)
}

// WindowDay turns the live window into a history entry.
func WindowDay(w Window) DayUsage {
	d := DayUsage{Date: w.Day, Queries: w.Queries, Cost: w.Spent, Tokens: w.Tokens,
		FailedCalls: w.FailedCalls, Overage: w.Overage, Unsettled: w.Reserved, ByModel: map[string]ModelUsage{}}
	for m, u := range w.ByModel {
		d.ByModel[m] = u
	}
	d.PriceVersions = mergeSorted(nil, w.PriceVersion)
	return d
}

// ResetDailyUsage is the seed's manual reset: it archives today's usage into
// the history, then zeroes the daily counters. Nothing billed is lost, and
// lifetime totals are kept.
func (s *Service) ResetDailyUsage(ctx context.Context, tenantID string) (UsageReport, error) {
	if err := CheckTenantID(tenantID); err != nil {
		return UsageReport{}, err
	}
	if _, err := s.store.Rollover(ctx, tenantID, s.clock.Now(), true); err != nil {
		return UsageReport{}, err
	}
	if _, err := s.Reconcile(ctx, tenantID); err != nil {
		return UsageReport{}, err
	}
	return s.UsageReport(ctx, tenantID)
}

// ReconcileResult counts what Reconcile did.
type ReconcileResult struct {
	Applied  int `json:"applied"`  // settlements recorded after a failed settle, now applied
	Released int `json:"released"` // abandoned calls whose reservation was released
	Open     int `json:"open"`     // calls still in flight
}

// Reconcile applies settlements that were recorded because settling failed,
// and releases the reservations of calls abandoned longer than StaleCallAfter
// (their process died between admit and settle).
func (s *Service) Reconcile(ctx context.Context, tenantID string) (ReconcileResult, error) {
	var r ReconcileResult
	calls, err := s.store.OpenCalls(ctx, tenantID)
	if err != nil {
		return r, err
	}
	cutoff := s.clock.Now().Add(-s.staleAfter)
	for _, c := range calls {
		switch {
		case c.Recorded != nil:
			rec := *c.Recorded
			rec.At = s.clock.Now()
			alerts, err := s.store.Settle(ctx, c.Ticket, rec)
			if err != nil {
				return r, err
			}
			s.notify(ctx, alerts)
			r.Applied++
		case c.AdmittedAt.Before(cutoff):
			alerts, err := s.store.Settle(ctx, c.Ticket, Settlement{Failed: true, At: s.clock.Now()})
			if err != nil {
				return r, err
			}
			s.notify(ctx, alerts)
			r.Released++
		default:
			r.Open++
		}
	}
	return r, nil
}

// ResetPageSize is how many tenants the scheduled reset reads at once (one
// directory query and one BatchGetItem per page).
const ResetPageSize = 100

// ResetCheckpoint is the scheduled reset's progress in an hour: the page
// token after the last page it finished, and whether the run finished.
type ResetCheckpoint struct {
	Hour   string `json:"hour"`
	Cursor string `json:"cursor"`
	Done   bool   `json:"done"`
}

// ResetSummary is what a scheduled reset run did.
type ResetSummary struct {
	Tenants  int `json:"tenants"`  // tenants read
	Due      int `json:"due"`      // whose local midnight had passed since their window opened
	Archived int `json:"archived"` // windows rolled over by this run
	ReconcileResult
	Failed  []string `json:"failed"`
	Resumed bool     `json:"resumed"` // continued an earlier run of this hour that stopped
	Skipped bool     `json:"skipped"` // this hour's run had already finished
}

// DailyReset is the scheduled reset, run every hour: it pages through the
// tenants (ResetPageSize at a time, never one unbounded scan), rolls over
// each one whose local midnight has passed since its window opened, and
// reconciles the open calls of those and of tenants with reservations in
// flight. After each page it saves a checkpoint, so a run that stopped (an
// error, a timeout) resumes where it was when invoked again in the same
// hour, and a finished hour's run does nothing when invoked again. Every
// step is idempotent, so a run that repeats a page changes nothing twice.
// A tenant that fails is reported and the others still run.
func (s *Service) DailyReset(ctx context.Context) (ResetSummary, error) {
	sum := ResetSummary{Failed: []string{}}
	now := s.clock.Now()
	hour := HourKey(now)
	cp, err := s.store.ResetCheckpoint(ctx)
	if err != nil {
		return sum, err
	}
	token := ""
	if cp.Hour == hour {
		if cp.Done {
			sum.Skipped = true
			return sum, nil
		}
		token, sum.Resumed = cp.Cursor, cp.Cursor != ""
	}
	for {
		page, next, err := s.store.ListTenants(ctx, ResetPageSize, token)
		if err != nil {
			return sum, err
		}
		for _, t := range page {
			sum.Tenants++
			due := t.Usage.Day < t.Calendar().Day(now)
			if !due && t.Usage.Reserved == 0 {
				continue
			}
			if due {
				sum.Due++
			}
			archived, err := false, error(nil)
			if due {
				archived, err = s.store.Rollover(ctx, t.TenantID, now, false)
			}
			var rr ReconcileResult
			if err == nil {
				rr, err = s.Reconcile(ctx, t.TenantID)
			}
			if err != nil {
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					return sum, err
				}
				s.log.ErrorContext(ctx, "scheduled reset failed for tenant", "tenant_id", t.TenantID, "error", err)
				sum.Failed = append(sum.Failed, t.TenantID)
				continue
			}
			if archived {
				sum.Archived++
			}
			sum.Applied += rr.Applied
			sum.Released += rr.Released
			sum.Open += rr.Open
		}
		// A run with failed tenants is not done: invoked again, it reads
		// every tenant again (the others are no longer due).
		cp = ResetCheckpoint{Hour: hour, Cursor: next, Done: next == "" && len(sum.Failed) == 0}
		if err := s.store.SaveResetCheckpoint(ctx, cp); err != nil {
			return sum, err
		}
		if next == "" {
			return sum, nil
		}
		token = next
	}
}
