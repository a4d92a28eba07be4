// Package backup is the store-neutral form of everything a deployment keeps
// (tenants with their live usage window, agents, API key hashes, open calls,
// billing history and each agent's usage per day), one JSON record per line.
// Every store exports to it and imports from it (sessions are not carried), so a single-machine deployment (the embedded store)
// moves to DynamoDB and back exactly: money and counters are integers
// (nano-USD, tokens), times are UTC with nanoseconds. Idempotency records
// are not carried (they expire within a day and only replay responses).
package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// Record kinds, in the order a tenant's records are written.
const (
	KindTenant   = "tenant"
	KindAgent    = "agent"
	KindKey      = "key"
	KindCall     = "call"
	KindDay      = "day"
	KindAgentDay = "agent_day"
	KindAlert    = "alert"
)

// Record is one line: exactly one of its parts is set, named by Kind.
type Record struct {
	Kind     string    `json:"kind"`
	Tenant   *Tenant   `json:"tenant,omitempty"`
	Agent    *Agent    `json:"agent,omitempty"`
	Key      *Key      `json:"key,omitempty"`
	Call     *Call     `json:"call,omitempty"`
	Day      *Day      `json:"day,omitempty"`
	AgentDay *AgentDay `json:"agent_day,omitempty"`
	Alert    *Alert    `json:"alert,omitempty"`
}

// TenantID is the tenant a record belongs to.
func (r Record) TenantID() string {
	switch {
	case r.Tenant != nil:
		return r.Tenant.ID
	case r.Agent != nil:
		return r.Agent.TenantID
	case r.Key != nil:
		return r.Key.TenantID
	case r.Call != nil:
		return r.Call.TenantID
	case r.Day != nil:
		return r.Day.TenantID
	case r.AgentDay != nil:
		return r.AgentDay.TenantID
	case r.Alert != nil:
		return r.Alert.TenantID
	}
	return ""
}

// Counters are a day's usage (the live window's, or a history day's).
// Zero entries of ByModel and PriceVersions are left out.
type Counters struct {
	Queries       int64                    `json:"queries"`
	FailedCalls   int64                    `json:"failed_calls"`
	SpentNanos    int64                    `json:"spent_nanos"`
	ReservedNanos int64                    `json:"reserved_nanos"`
	OverageNanos  int64                    `json:"overage_nanos"` // cost above reservations (in SpentNanos)
	InputTokens   int64                    `json:"input_tokens"`
	OutputTokens  int64                    `json:"output_tokens"`
	CacheRead     int64                    `json:"cache_read_tokens"`
	CacheWrite    int64                    `json:"cache_write_tokens"`
	ByModel       map[string]ModelCounters `json:"by_model"`
	PriceVersions map[string]int64         `json:"price_versions"` // version -> calls priced with it
}

// ModelCounters are one model's share of a day.
type ModelCounters struct {
	Queries      int64 `json:"queries"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	CacheRead    int64 `json:"cache_read_tokens"`
	CacheWrite   int64 `json:"cache_write_tokens"`
	CostNanos    int64 `json:"cost_nanos"`
}

// Tenant is a tenant's config, state, lifetime totals and live window.
type Tenant struct {
	ID                string         `json:"tenant_id"`
	Name              string         `json:"name"`
	MaxAgents         int            `json:"max_agents"`
	MaxQueriesPerHour int            `json:"max_queries_per_hour"`
	MaxCostNanos      int64          `json:"max_cost_nanos_per_day"`
	AllowedModels     []string       `json:"allowed_models"`
	AllowedTools      []string       `json:"allowed_tools"`
	Metadata          map[string]any `json:"metadata"`
	Timezone          string         `json:"timezone"`
	PrevTimezone      string         `json:"prev_timezone,omitempty"` // the zone of the days before TimezoneFrom
	TimezoneFrom      *time.Time     `json:"timezone_from,omitempty"`
	Active            bool           `json:"is_active"`
	CreatedAt         time.Time      `json:"created_at"`
	UpdatedAt         time.Time      `json:"updated_at"`
	AgentCount        int            `json:"agent_count"`
	TotalQueries      int64          `json:"total_queries"`
	LifetimeCostNanos int64          `json:"lifetime_cost_nanos"`
	Day               string         `json:"window_day"`
	Hour              string         `json:"window_hour"`
	HourQueries       int64          `json:"hour_queries"`
	BudgetNanos       int64          `json:"budget_left_nanos"`
	MaxCostNanosMonth *int64         `json:"max_cost_nanos_per_month"` // null: no monthly budget
	Month             string         `json:"month"`                    // the window's local month, YYYY-MM
	MonthSpentNanos   int64          `json:"month_spent_nanos"`
	MonthReserved     int64          `json:"month_reserved_nanos"`
	MonthBudgetNanos  int64          `json:"month_budget_left_nanos"`
	// The tenant's OpenClaw gateway (admin-only config).
	OpenClawGatewayURL  string `json:"openclaw_gateway_url,omitempty"`
	OpenClawTokenSecret string `json:"openclaw_gateway_token_secret,omitempty"`
	// Alerts: the thresholds, and the highest one already sent in the
	// window's day and month.
	AlertThresholdsPct []int `json:"alert_thresholds_pct"`
	DayAlertPct        int   `json:"day_alert_pct"`
	MonthAlertPct      int   `json:"month_alert_pct"`
	// SessionTTLDays is session_ttl_days (absent: the default).
	SessionTTLDays int      `json:"session_ttl_days,omitempty"`
	Window         Counters `json:"window"`
}

// Agent is an agent.
type Agent struct {
	TenantID        string    `json:"tenant_id"`
	AgentID         string    `json:"agent_id"`
	Name            string    `json:"name"`
	SystemPrompt    string    `json:"system_prompt"`
	LLMModel        string    `json:"llm_model"`
	Tools           []string  `json:"tools"`
	MaxOutputTokens int       `json:"max_output_tokens"`
	MaxHistoryTurns *int      `json:"max_history_turns,omitempty"` // absent: the default
	CreatedAt       time.Time `json:"created_at"`
}

// Key is a tenant API key: its SHA-256 hash, never the key.
type Key struct {
	TenantID  string    `json:"tenant_id"`
	KeyID     string    `json:"key_id"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
}

// Call is an admitted call not settled yet, with the settlement recorded
// for reconcile when settling failed.
type Call struct {
	TenantID     string      `json:"tenant_id"`
	CallID       string      `json:"call_id"`
	AgentID      string      `json:"agent_id"`
	Model        string      `json:"model"`
	ReserveNanos int64       `json:"reserve_nanos"`
	Day          string      `json:"day"`
	AdmittedAt   time.Time   `json:"admitted_at"`
	Recorded     *Settlement `json:"recorded,omitempty"`
}

// Settlement is a call's recorded outcome.
type Settlement struct {
	Failed       bool   `json:"failed"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	CacheRead    int64  `json:"cache_read_tokens"`
	CacheWrite   int64  `json:"cache_write_tokens"`
	CostNanos    int64  `json:"cost_nanos"`
	PriceVersion string `json:"price_version"`
}

// Day is one archived day of billing history.
type Day struct {
	TenantID string `json:"tenant_id"`
	Date     string `json:"date"`
	Counters
}

// AgentDay is one agent's usage of one local day (the agent's short id; a
// deleted agent's days are kept).
type AgentDay struct {
	TenantID string `json:"tenant_id"`
	Date     string `json:"date"`
	AgentID  string `json:"agent_id"`
	ModelCounters
}

// Alert is a recorded budget alert; PeriodKey is the day (YYYY-MM-DD) or
// month (YYYY-MM) it was raised for.
type Alert struct {
	TenantID     string    `json:"tenant_id"`
	Period       string    `json:"period"`
	PeriodKey    string    `json:"period_key"`
	ThresholdPct int       `json:"threshold_pct"`
	SpentNanos   int64     `json:"spent_nanos"`
	CapNanos     int64     `json:"cap_nanos"`
	At           time.Time `json:"at"`
}

// Store is a store that exports and imports records.
type Store interface {
	// Export calls emit for every record: tenants in id order, each
	// followed by its agents, keys, open calls, days, agent days and
	// alerts, each in id (agent days: date then agent; alerts: time) order.
	Export(ctx context.Context, emit func(Record) error) error
	// Import writes one record. A tenant that exists already is refused
	// (import into an empty store, or one without those tenants).
	Import(ctx context.Context, r Record) error
}

// Write exports s as JSON lines to w and returns the number of records.
func Write(ctx context.Context, s Store, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	err := s.Export(ctx, func(r Record) error {
		n++
		return enc.Encode(r)
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// Read imports JSON lines from r into s and returns the number of records.
// A malformed line stops the import with its line number.
func Read(ctx context.Context, s Store, r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	n, line := 0, 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return n, fmt.Errorf("line %d: %w", line, err)
		}
		if err := rec.check(); err != nil {
			return n, fmt.Errorf("line %d: %w", line, err)
		}
		if err := s.Import(ctx, rec); err != nil {
			return n, fmt.Errorf("line %d (%s of tenant %q): %w", line, rec.Kind, rec.TenantID(), err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("line %d: %w", line+1, err)
	}
	return n, nil
}

// check verifies that a record has exactly the part its kind names.
func (r Record) check() error {
	parts := 0
	for _, set := range []bool{r.Tenant != nil, r.Agent != nil, r.Key != nil, r.Call != nil, r.Day != nil, r.AgentDay != nil, r.Alert != nil} {
		if set {
			parts++
		}
	}
	ok := parts == 1
	switch r.Kind {
	case KindTenant:
		ok = ok && r.Tenant != nil
	case KindAgent:
		ok = ok && r.Agent != nil
	case KindKey:
		ok = ok && r.Key != nil
	case KindCall:
		ok = ok && r.Call != nil
	case KindDay:
		ok = ok && r.Day != nil
	case KindAgentDay:
		ok = ok && r.AgentDay != nil
	case KindAlert:
		ok = ok && r.Alert != nil
	default:
		return fmt.Errorf("unknown record kind %q", r.Kind)
	}
	if !ok {
		return fmt.Errorf("a %q record must have exactly its %q part", r.Kind, r.Kind)
	}
	ids := []string{r.TenantID()}
	switch {
	case r.Agent != nil:
		ids = append(ids, r.Agent.AgentID)
	case r.Key != nil:
		ids = append(ids, r.Key.KeyID)
		if !hashPattern.MatchString(r.Key.Hash) {
			return fmt.Errorf("key hash %q is not a hex SHA-256", r.Key.Hash)
		}
	case r.Call != nil:
		ids = append(ids, r.Call.CallID)
		if !validDate(r.Call.Day) {
			return fmt.Errorf("call day %q is not a date YYYY-MM-DD", r.Call.Day)
		}
	case r.Day != nil:
		if !validDate(r.Day.Date) {
			return fmt.Errorf("date %q is not a date YYYY-MM-DD", r.Day.Date)
		}
	case r.AgentDay != nil:
		ids = append(ids, r.AgentDay.AgentID)
		if !validDate(r.AgentDay.Date) {
			return fmt.Errorf("agent day date %q is not a date YYYY-MM-DD", r.AgentDay.Date)
		}
	case r.Alert != nil:
		a := r.Alert
		switch {
		case a.Period == tenancy.PeriodDay && !validDate(a.PeriodKey),
			a.Period == tenancy.PeriodMonth && !validDate(a.PeriodKey+"-01"),
			a.Period != tenancy.PeriodDay && a.Period != tenancy.PeriodMonth:
			return fmt.Errorf("alert period %q %q is not a day YYYY-MM-DD or a month YYYY-MM", a.Period, a.PeriodKey)
		case a.ThresholdPct < 1 || a.ThresholdPct > 100:
			return fmt.Errorf("alert threshold_pct %d is not between 1 and 100", a.ThresholdPct)
		}
	}
	for _, id := range ids {
		if !tenancy.ValidID(id) {
			return fmt.Errorf("id %q is not a valid id ([a-zA-Z0-9_-]{1,64})", id)
		}
	}
	return nil
}

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}
