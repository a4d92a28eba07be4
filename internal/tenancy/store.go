package tenancy

import (
	"context"
	"time"
)

// Store persists tenants, agents and usage on one DynamoDB table. Every quota
// is enforced inside the store by a conditional write or a transaction, so
// any number of concurrent callers (Lambda instances) share one truth.
type Store interface {
	// CreateTenant stores a new tenant; TenantExists if the id is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	// GetTenant reads a tenant with its usage window (strongly consistent).
	GetTenant(ctx context.Context, tenantID string) (Tenant, error)
	// ListTenants pages through tenants in id order; "" starts and ends.
	ListTenants(ctx context.Context, limit int, pageToken string) ([]Tenant, string, error)
	// UpdateTenant applies change to the stored config and writes it back
	// atomically; a changed daily cap moves the remaining budget by the
	// difference, at once.
	UpdateTenant(ctx context.Context, tenantID string, now time.Time, change func(*TenantConfig) error) (Tenant, error)
	// SetActive activates or deactivates a tenant.
	SetActive(ctx context.Context, tenantID string, active bool, now time.Time) (Tenant, error)

	// CreateAgent checks the agent limit and the tenant's model and tool
	// lists and inserts the agent in one transaction.
	CreateAgent(ctx context.Context, a Agent) error
	GetAgent(ctx context.Context, tenantID, agentID string) (Agent, error)
	ListAgents(ctx context.Context, tenantID string) ([]Agent, error)
	// DeleteAgent removes an agent and frees its slot in one transaction.
	DeleteAgent(ctx context.Context, tenantID, agentID string) error

	// Admit is one conditional write: it refuses an inactive tenant, a model
	// or tool the tenant no longer allows, the hourly query limit and a
	// reservation beyond the daily budget. A refused admission changes
	// nothing. A stale daily window is rolled over first.
	Admit(ctx context.Context, a Admission) (Ticket, error)
	// Settle replaces a ticket's reservation by the actual cost (or releases
	// it when the call failed), on the day the call was admitted. Settling
	// the same ticket twice has no further effect. It returns the alerts
	// the settlement raised (recorded in the same write, exactly once per
	// threshold and period however many settlements race across it).
	Settle(ctx context.Context, t Ticket, s Settlement) ([]Alert, error)
	// Alerts lists a tenant's alerts, newest first (at most limit).
	Alerts(ctx context.Context, tenantID string, limit int) ([]Alert, error)
	// RecordUnsettled keeps a settlement that could not be applied on the
	// ticket's call record, for Reconcile to apply later.
	RecordUnsettled(ctx context.Context, t Ticket, s Settlement) error
	// OpenCalls lists admitted calls that are not settled yet.
	OpenCalls(ctx context.Context, tenantID string) ([]OpenCall, error)

	// Rollover archives the live daily window into the history and starts
	// the window of now's day. Scheduled rollovers do nothing when the
	// window is already today's (twice-run safe); a manual reset archives
	// and zeroes today's settled counters. It reports whether it archived.
	Rollover(ctx context.Context, tenantID string, now time.Time, manual bool) (bool, error)
	// ResetCheckpoint reads the scheduled reset's progress (zero: none);
	// SaveResetCheckpoint writes it.
	ResetCheckpoint(ctx context.Context) (ResetCheckpoint, error)
	SaveResetCheckpoint(ctx context.Context, cp ResetCheckpoint) error
	// History returns archived days in [from, to] (YYYY-MM-DD), merged with
	// the live window when it falls in the range.
	History(ctx context.Context, tenantID, from, to string) ([]DayUsage, error)
	// AgentDays returns the per-agent counters of the tenant's local days in
	// [from, to] (YYYY-MM-DD), in date then agent order: one bounded record
	// per agent and day, written by the settle of each of its calls (never
	// on the tenant item, whose size must not grow with the agents).
	AgentDays(ctx context.Context, tenantID, from, to string) ([]AgentDay, error)

	// Sessions (conversations) live on the same table.
	SessionStore
}

// Admission asks to admit one call.
type Admission struct {
	TenantID string
	AgentID  string // short id
	Model    string
	Tools    []string
	Reserve  Money // worst-case cost of the call
	CallID   string
	Now      time.Time
}

// Ticket is an admitted call, to be settled exactly once.
type Ticket struct {
	CallID     string    `json:"call_id"`
	TenantID   string    `json:"tenant_id"`
	AgentID    string    `json:"agent_id"`
	Model      string    `json:"model"`
	Reserve    Money     `json:"reserve"`
	Day        string    `json:"day"` // the day the call is accounted to
	AdmittedAt time.Time `json:"admitted_at"`
}

// Settlement is the outcome of a call. Cost above the ticket's reservation
// is charged in full and counted as overage (Settlement.Overage).
type Settlement struct {
	Tokens       Tokens
	Cost         Money
	PriceVersion string
	// Failed: the call failed. It is charged Cost: 0 when the provider
	// failed, the reservation when it reported implausible usage.
	Failed bool
	// At is when it settled (an alert's time).
	At time.Time
}

// OpenCall is an admitted, unsettled call, with the settlement recorded for
// it if settling failed.
type OpenCall struct {
	Ticket
	Recorded *Settlement
}

// AgentDay is one agent's share of one local day: what its settled calls
// added (queries answered, tokens, cost), the same amounts the settlement
// added to the day's per-model counters.
type AgentDay struct {
	Date    string
	AgentID string // short id
	Usage   ModelUsage
}

// AgentUsage is one agent's share of a day or month in reports: queries
// answered, tokens (in all, then by kind) and cost.
type AgentUsage struct {
	Queries int64 `json:"queries"`
	// TotalTokens is input + output + cache read + cache write tokens.
	TotalTokens int64 `json:"tokens"`
	Tokens
	Cost Money `json:"cost_usd"`
}

// Plus is the sum of two agents' (or days') usage.
func (u AgentUsage) Plus(o AgentUsage) AgentUsage {
	return AgentUsage{Queries: u.Queries + o.Queries, TotalTokens: u.TotalTokens + o.TotalTokens,
		Tokens: u.Tokens.Plus(o.Tokens), Cost: u.Cost + o.Cost}
}

// AgentUsageOf is a stored agent day's usage as reported.
func AgentUsageOf(u ModelUsage) AgentUsage {
	return AgentUsage{Queries: u.Queries, TotalTokens: u.Input + u.Output + u.CacheRead + u.CacheWrite, Tokens: u.Tokens, Cost: u.Cost}
}

// DayUsage is one day of billing history.
type DayUsage struct {
	Date    string `json:"date"`
	Queries int64  `json:"queries"`
	Cost    Money  `json:"cost_usd"`
	Tokens
	FailedCalls   int64                 `json:"failed_calls"`
	Overage       Money                 `json:"overage_usd"`
	Unsettled     Money                 `json:"unsettled_reserved_usd"`
	ByModel       map[string]ModelUsage `json:"by_model"`
	PriceVersions []string              `json:"price_versions"`
	// ByAgent is each agent's share of the day (short id -> usage); agents
	// without a settled call that day are absent.
	ByAgent map[string]AgentUsage `json:"by_agent"`
}

// Empty reports whether a day has no usage at all.
func (d DayUsage) Empty() bool {
	return d.Queries == 0 && d.Cost == 0 && d.FailedCalls == 0 && d.Unsettled == 0 && d.Overage == 0 &&
		d.Tokens == (Tokens{})
}
