// Package backup is the store-neutral form of everything a deployment keeps
// (tenants with their live usage window, agents, API key hashes, open calls,
// billing history, each agent's usage per day, budget alerts and
// conversation sessions), one JSON record per line. Every store exports to
// it and imports from it, so a single-machine deployment (the embedded
// store) moves to DynamoDB and back exactly: money and counters are
// integers (nano-USD, tokens), times are UTC with nanoseconds. Idempotency
// records are not carried (they expire within a day and only replay
// responses). Sessions expired at the time of the export are left out, and
// those expired at the time of an import are skipped, so no expired
// conversation comes back.
package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
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
	KindSession  = "session"
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
	Session  *Session  `json:"session,omitempty"`
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
	case r.Session != nil:
		return r.Session.TenantID
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
	ID                string           `json:"tenant_id"`
	Name              string           `json:"name"`
	MaxAgents         int              `json:"max_agents"`
	MaxQueriesPerHour int              `json:"max_queries_per_hour"`
	MaxCostNanos      int64            `json:"max_cost_nanos_per_day"`
	AllowedModels     []string         `json:"allowed_models"`
	AllowedTools      []string         `json:"allowed_tools"`
	Metadata          tenancy.Metadata `json:"metadata"`
	Timezone          string           `json:"timezone"`
	PrevTimezone      string           `json:"prev_timezone,omitempty"` // the zone of the days before TimezoneFrom
	TimezoneFrom      *time.Time       `json:"timezone_from,omitempty"`
	Active            bool             `json:"is_active"`
	CreatedAt         time.Time        `json:"created_at"`
	UpdatedAt         time.Time        `json:"updated_at"`
	AgentCount        int              `json:"agent_count"`
	TotalQueries      int64            `json:"total_queries"`
	LifetimeCostNanos int64            `json:"lifetime_cost_nanos"`
	Day               string           `json:"window_day"`
	Hour              string           `json:"window_hour"`
	HourQueries       int64            `json:"hour_queries"`
	BudgetNanos       int64            `json:"budget_left_nanos"`
	MaxCostNanosMonth *int64           `json:"max_cost_nanos_per_month"` // null: no monthly budget
	Month             string           `json:"month"`                    // the window's local month, YYYY-MM
	MonthSpentNanos   int64            `json:"month_spent_nanos"`
	MonthReserved     int64            `json:"month_reserved_nanos"`
	MonthBudgetNanos  int64            `json:"month_budget_left_nanos"`
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

// Session is a conversation session as stored: its kept turns (each a user
// query and the assistant's answer, oldest first), the counts of every turn
// ever appended, and its exact expiry (DynamoDB's TTL attribute is derived
// from it on import). Version is the stored version (the condition of the
// next append).
type Session struct {
	TenantID   string    `json:"tenant_id"`
	AgentID    string    `json:"agent_id"`
	SessionID  string    `json:"session_id"`
	Turns      []Turn    `json:"turns"`
	TotalTurns int64     `json:"total_turns"`
	CostNanos  int64     `json:"cost_nanos"`
	CreatedAt  time.Time `json:"created_at"`
	LastAt     time.Time `json:"last_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Version    int64     `json:"version"`
}

// Turn is one turn of a session: the user's query and the assistant's
// answer (as stored: Truncated when it was cut to
// tenancy.MaxStoredAnswerBytes).
type Turn struct {
	Query        string    `json:"query"`
	Answer       string    `json:"answer"`
	Truncated    bool      `json:"answer_truncated"`
	InputTokens  int64     `json:"input_tokens"`
	OutputTokens int64     `json:"output_tokens"`
	CacheRead    int64     `json:"cache_read_tokens"`
	CacheWrite   int64     `json:"cache_write_tokens"`
	CostNanos    int64     `json:"cost_nanos"`
	CallID       string    `json:"call_id"`
	At           time.Time `json:"at"`
}

// FromSession is the record of a stored session (times in UTC).
func FromSession(s tenancy.Session) *Session {
	r := &Session{TenantID: s.TenantID, AgentID: s.AgentID, SessionID: s.SessionID, Turns: make([]Turn, 0, len(s.Turns)),
		TotalTurns: s.TotalTurns, CostNanos: int64(s.Cost), CreatedAt: s.CreatedAt.UTC(), LastAt: s.LastAt.UTC(),
		ExpiresAt: s.ExpiresAt.UTC(), Version: s.Version}
	for _, t := range s.Turns {
		r.Turns = append(r.Turns, Turn{Query: t.Query, Answer: t.Answer, Truncated: t.Truncated,
			InputTokens: t.Tokens.Input, OutputTokens: t.Tokens.Output, CacheRead: t.Tokens.CacheRead,
			CacheWrite: t.Tokens.CacheWrite, CostNanos: int64(t.Cost), CallID: t.CallID, At: t.At.UTC()})
	}
	return r
}

// Session is the session a record stores.
func (r *Session) Session() tenancy.Session {
	s := tenancy.Session{SessionKey: tenancy.SessionKey{TenantID: r.TenantID, AgentID: r.AgentID, SessionID: r.SessionID},
		Turns: make([]tenancy.Turn, 0, len(r.Turns)), TotalTurns: r.TotalTurns, Cost: tenancy.Money(r.CostNanos),
		CreatedAt: r.CreatedAt.UTC(), LastAt: r.LastAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), Version: r.Version}
	for _, t := range r.Turns {
		s.Turns = append(s.Turns, tenancy.Turn{Query: t.Query, Answer: t.Answer, Truncated: t.Truncated,
			Tokens: tenancy.Tokens{Input: t.InputTokens, Output: t.OutputTokens, CacheRead: t.CacheRead, CacheWrite: t.CacheWrite},
			Cost:   tenancy.Money(t.CostNanos), CallID: t.CallID, At: t.At.UTC()})
	}
	return s
}

// Store is a store that exports and imports records.
type Store interface {
	// Export calls emit for every record: tenants in id order, each
	// followed by its agents, keys, open calls, days, agent days, alerts
	// and sessions, each in id (agent days: date then agent; alerts: time;
	// sessions: agent id, then session id) order. Sessions whose agent no
	// longer exists (deleted agents leave their sessions to their TTL) are
	// left out; expired ones are emitted (Write leaves them out). Sessions
	// are read a page at a time, never all of a tenant's at once.
	Export(ctx context.Context, emit func(Record) error) error
	// Import writes one record. A tenant that exists already is refused
	// (import into an empty store, or one without those tenants); a
	// session whose agent is not in the store is refused (AgentNotFound).
	Import(ctx context.Context, r Record) error
	// GetTenant and GetAgent are the store's reads (tenancy.Store's): an
	// import checks its references against them before it writes.
	GetTenant(ctx context.Context, tenantID string) (tenancy.Tenant, error)
	GetAgent(ctx context.Context, tenantID, agentID string) (tenancy.Agent, error)
}

// Write exports s as JSON lines to w and returns the number of records
// written and of sessions left out because they had expired at now.
func Write(ctx context.Context, s Store, w io.Writer, now time.Time) (n, expired int, err error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	err = s.Export(ctx, func(r Record) error {
		if r.Session != nil && !now.Before(r.Session.ExpiresAt) {
			expired++
			return nil
		}
		n++
		return enc.Encode(r)
	})
	if err != nil {
		return n, expired, err
	}
	return n, expired, bw.Flush()
}

// Read imports JSON lines from r into s and returns the number of records
// written and of session lines skipped because they had expired at now (an
// old backup: they are not brought back).
//
// The import is all or nothing as far as the input decides: the whole input
// is read and checked before anything is written (each line against the
// API's own validators, tenancy.TenantConfig.Validate and
// tenancy.AgentConfig.Validate and the id rules; every record's tenant, and
// a session's agent, on an earlier line or in the store; no tenant twice nor
// one the store has). The first bad line refuses the import with its line
// number and the validator's message, and nothing is written. Only a store
// failure while writing (after every check passed) can leave a partial
// import; the error names the line it stopped at. The input is spooled to a
// temporary file between the two passes, so it is never held in memory.
func Read(ctx context.Context, s Store, r io.Reader, now time.Time) (n, expired int, err error) {
	spool, err := os.CreateTemp("", "tenancy-import-*.jsonl")
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		_ = spool.Close()
		_ = os.Remove(spool.Name())
	}()
	refs := newReferences(s)
	err = scanLines(io.TeeReader(r, spool), func(line int, rec Record) error {
		if rec.Session != nil && !now.Before(rec.Session.ExpiresAt) {
			expired++
			return nil
		}
		if err := rec.validate(); err != nil {
			return fmt.Errorf("line %d (%s of tenant %q): %w", line, rec.Kind, rec.TenantID(), err)
		}
		if err := refs.check(ctx, rec); err != nil {
			return fmt.Errorf("line %d (%s of tenant %q): %w", line, rec.Kind, rec.TenantID(), err)
		}
		return nil
	})
	if err != nil {
		return 0, expired, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return 0, expired, err
	}
	err = scanLines(spool, func(line int, rec Record) error {
		if rec.Session != nil && !now.Before(rec.Session.ExpiresAt) {
			return nil
		}
		if err := s.Import(ctx, rec); err != nil {
			return fmt.Errorf("line %d (%s of tenant %q): %w (the lines before it are written: see README, Moving up)",
				line, rec.Kind, rec.TenantID(), err)
		}
		n++
		return nil
	})
	return n, expired, err
}

// scanLines decodes each non-empty line of r (unknown fields refused) and
// hands it, checked for its shape (check), to f with its line number. A
// malformed line stops the scan with its line number.
func scanLines(r io.Reader, f func(line int, rec Record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := rec.check(); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := f(line, rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}

// references are the tenants and agents an import has seen on earlier
// lines, and what the store was found to hold (each asked once).
type references struct {
	s            Store
	fileTenants  map[string]bool
	fileAgents   map[string]bool
	storeTenants map[string]bool
	storeAgents  map[string]bool
}

func newReferences(s Store) *references {
	return &references{s: s, fileTenants: map[string]bool{}, fileAgents: map[string]bool{},
		storeTenants: map[string]bool{}, storeAgents: map[string]bool{}}
}

// check refuses a tenant the file has already or the store has, a record
// whose tenant is neither on an earlier line nor in the store, an agent
// twice, and a session whose agent is neither on an earlier line nor in the
// store.
func (f *references) check(ctx context.Context, rec Record) error {
	tenantID := rec.TenantID()
	if rec.Tenant != nil {
		if f.fileTenants[tenantID] {
			return fmt.Errorf("tenant %q is in the file twice", tenantID)
		}
		in, err := f.inStore(ctx, tenantID)
		if err != nil {
			return err
		}
		if in {
			return tenancy.TenantExists(tenantID)
		}
		f.fileTenants[tenantID] = true
		return nil
	}
	if !f.fileTenants[tenantID] {
		in, err := f.inStore(ctx, tenantID)
		if err != nil {
			return err
		}
		if !in {
			return tenancy.TenantNotFound(tenantID)
		}
	}
	switch {
	case rec.Agent != nil:
		k := tenantID + "/" + rec.Agent.AgentID
		if f.fileAgents[k] {
			return fmt.Errorf("agent %q of tenant %q is in the file twice", rec.Agent.AgentID, tenantID)
		}
		f.fileAgents[k] = true
	case rec.Session != nil:
		k := tenantID + "/" + rec.Session.AgentID
		if f.fileAgents[k] {
			return nil
		}
		in, ok := f.storeAgents[k]
		if !ok {
			_, err := f.s.GetAgent(ctx, tenantID, rec.Session.AgentID)
			switch {
			case err == nil:
				in = true
			case errors.Is(err, tenancy.ErrAgentNotFound), errors.Is(err, tenancy.ErrTenantNotFound):
			default:
				return err
			}
			f.storeAgents[k] = in
		}
		if !in {
			return tenancy.AgentNotFound(rec.Session.AgentID, tenantID)
		}
	}
	return nil
}

func (f *references) inStore(ctx context.Context, tenantID string) (bool, error) {
	if in, ok := f.storeTenants[tenantID]; ok {
		return in, nil
	}
	_, err := f.s.GetTenant(ctx, tenantID)
	switch {
	case err == nil:
		f.storeTenants[tenantID] = true
		return true, nil
	case errors.Is(err, tenancy.ErrTenantNotFound):
		f.storeTenants[tenantID] = false
		return false, nil
	}
	return false, err
}

// Config is the tenant's configuration as the API validates it (absent
// session_ttl_days: the default).
func (t *Tenant) Config() tenancy.TenantConfig {
	c := tenancy.TenantConfig{TenantID: t.ID, Name: t.Name, MaxAgents: t.MaxAgents, MaxQueriesPerHour: t.MaxQueriesPerHour,
		MaxCostPerDay: tenancy.Money(t.MaxCostNanos), AllowedModels: t.AllowedModels, AllowedTools: t.AllowedTools,
		Metadata: t.Metadata, Timezone: t.Timezone, OpenClawGatewayURL: t.OpenClawGatewayURL,
		OpenClawTokenSecret: t.OpenClawTokenSecret, AlertThresholdsPct: t.AlertThresholdsPct, SessionTTLDays: t.SessionTTLDays}
	if t.MaxCostNanosMonth != nil {
		m := tenancy.Money(*t.MaxCostNanosMonth)
		c.MaxCostPerMonth = &m
	}
	if c.SessionTTLDays == 0 {
		c.SessionTTLDays = tenancy.DefaultSessionTTLDays
	}
	return c
}

// Config is the agent's configuration as the API validates it (absent
// max_history_turns: the default).
func (a *Agent) Config() tenancy.AgentConfig {
	c := tenancy.AgentConfig{AgentID: a.AgentID, Name: a.Name, SystemPrompt: a.SystemPrompt, LLMModel: a.LLMModel,
		Tools: a.Tools, MaxOutputTokens: a.MaxOutputTokens, MaxHistoryTurns: tenancy.DefaultMaxHistoryTurns}
	if a.MaxHistoryTurns != nil {
		c.MaxHistoryTurns = *a.MaxHistoryTurns
	}
	return c
}

// validate checks a record with the API's own rules: a tenant's config
// (tenancy.TenantConfig.Validate, and a pending previous zone), an agent's
// (tenancy.AgentConfig.Validate), every tenant id and agent id.
func (r Record) validate() error {
	if err := tenancy.CheckTenantID(r.TenantID()); err != nil {
		return err
	}
	switch {
	case r.Tenant != nil:
		t := r.Tenant
		if err := t.Config().Validate(); err != nil {
			return err
		}
		if !slices.IsSorted(t.AlertThresholdsPct) || len(slices.Compact(slices.Clone(t.AlertThresholdsPct))) != len(t.AlertThresholdsPct) {
			return tenancy.Validationf("alert_thresholds_pct must be in ascending order without repeats (as the API stores them)")
		}
		if t.PrevTimezone != "" {
			if _, err := tenancy.LoadZone(t.PrevTimezone); err != nil {
				return fmt.Errorf("prev_timezone: %w", err)
			}
			if t.TimezoneFrom == nil {
				return tenancy.Validationf("prev_timezone needs timezone_from")
			}
		}
	case r.Agent != nil:
		return r.Agent.Config().Validate()
	case r.AgentDay != nil:
		return tenancy.CheckAgentID(r.AgentDay.AgentID)
	case r.Session != nil:
		return tenancy.CheckAgentID(r.Session.AgentID)
	case r.Call != nil && r.Call.AgentID != "":
		return tenancy.CheckAgentID(r.Call.AgentID)
	}
	return nil
}

// check verifies that a record has exactly the part its kind names.
func (r Record) check() error {
	parts := 0
	for _, set := range []bool{r.Tenant != nil, r.Agent != nil, r.Key != nil, r.Call != nil, r.Day != nil, r.AgentDay != nil, r.Alert != nil, r.Session != nil} {
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
	case KindSession:
		ok = ok && r.Session != nil
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
	case r.Session != nil:
		ids = append(ids, r.Session.AgentID)
	}
	for _, id := range ids {
		if !tenancy.ValidID(id) {
			return fmt.Errorf("id %q is not a valid id ([a-zA-Z0-9_-]{1,64})", id)
		}
	}
	if r.Session != nil {
		return r.Session.check()
	}
	return nil
}

// check verifies what a store needs of a session: a session id, a stored
// version, turns within the bounds every append keeps (at most
// tenancy.MaxHistoryTurnsLimit, tenancy.MaxSessionBytes in all, answers of
// at most tenancy.MaxStoredAnswerBytes), counts that are not negative and
// an expiry.
func (s *Session) check() error {
	id := fmt.Sprintf("session %q", s.SessionID)
	if err := tenancy.CheckSessionID(s.SessionID); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	bytes := 0
	for _, t := range s.Turns {
		bytes += tenancy.Turn{Query: t.Query, Answer: t.Answer}.Bytes()
		switch {
		case len(t.Answer) > tenancy.MaxStoredAnswerBytes:
			return fmt.Errorf("%s: an answer of %d bytes is over %d", id, len(t.Answer), tenancy.MaxStoredAnswerBytes)
		case t.InputTokens < 0 || t.OutputTokens < 0 || t.CacheRead < 0 || t.CacheWrite < 0 || t.CostNanos < 0:
			return fmt.Errorf("%s: a turn has a negative count", id)
		case t.At.IsZero():
			return fmt.Errorf("%s: a turn has no time (at)", id)
		}
	}
	switch {
	case s.Version < 1:
		return fmt.Errorf("%s: version %d is not 1 or more", id, s.Version)
	case len(s.Turns) > tenancy.MaxHistoryTurnsLimit:
		return fmt.Errorf("%s: %d turns are over %d", id, len(s.Turns), tenancy.MaxHistoryTurnsLimit)
	case bytes > tenancy.MaxSessionBytes:
		return fmt.Errorf("%s: its turns take %d bytes, over %d", id, bytes, tenancy.MaxSessionBytes)
	case s.TotalTurns < int64(len(s.Turns)):
		return fmt.Errorf("%s: total_turns %d is less than its %d turns", id, s.TotalTurns, len(s.Turns))
	case s.CostNanos < 0:
		return fmt.Errorf("%s: cost_nanos %d is negative", id, s.CostNanos)
	case s.ExpiresAt.IsZero():
		return fmt.Errorf("%s has no expires_at", id)
	}
	return nil
}

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}
