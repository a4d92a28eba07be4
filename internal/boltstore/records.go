package boltstore

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// Records are JSON with integer nano-USD (never the API's decimal form) and
// UTC times.

// dayRec is a day's counters: the live window's, and each history day's.
type dayRec struct {
	Queries  int64               `json:"queries,omitempty"`
	Failed   int64               `json:"failed,omitempty"`
	Spent    int64               `json:"spent,omitempty"`
	Reserved int64               `json:"reserved,omitempty"`
	Overage  int64               `json:"over,omitempty"` // cost above reservations (in Spent)
	In       int64               `json:"in,omitempty"`
	Out      int64               `json:"out,omitempty"`
	CR       int64               `json:"cr,omitempty"`
	CW       int64               `json:"cw,omitempty"`
	ByModel  map[string]modelRec `json:"by_model,omitempty"`
	Prices   map[string]int64    `json:"prices,omitempty"` // price version -> calls priced with it
}

type modelRec struct {
	Queries int64 `json:"q,omitempty"`
	In      int64 `json:"in,omitempty"`
	Out     int64 `json:"out,omitempty"`
	CR      int64 `json:"cr,omitempty"`
	CW      int64 `json:"cw,omitempty"`
	Cost    int64 `json:"cost,omitempty"`
}

// add adds d's counters into r.
func (r *dayRec) add(d dayRec) {
	r.Queries += d.Queries
	r.Failed += d.Failed
	r.Spent += d.Spent
	r.Reserved += d.Reserved
	r.Overage += d.Overage
	r.In += d.In
	r.Out += d.Out
	r.CR += d.CR
	r.CW += d.CW
	for m, u := range d.ByModel {
		if r.ByModel == nil {
			r.ByModel = map[string]modelRec{}
		}
		x := r.ByModel[m]
		r.ByModel[m] = modelRec{Queries: x.Queries + u.Queries, In: x.In + u.In, Out: x.Out + u.Out,
			CR: x.CR + u.CR, CW: x.CW + u.CW, Cost: x.Cost + u.Cost}
	}
	for v, n := range d.Prices {
		if r.Prices == nil {
			r.Prices = map[string]int64{}
		}
		r.Prices[v] += n
	}
}

// empty is the DynamoDB store's test of an archive worth writing.
func (r dayRec) empty() bool {
	return r.Queries == 0 && r.Failed == 0 && r.Spent == 0 && r.Reserved == 0 && r.Overage == 0 && r.In == 0 && r.Out == 0 &&
		r.CR == 0 && r.CW == 0 && len(r.ByModel) == 0
}

func (r dayRec) tokens() tenancy.Tokens {
	return tenancy.Tokens{Input: r.In, Output: r.Out, CacheRead: r.CR, CacheWrite: r.CW}
}

func (u modelRec) usage() tenancy.ModelUsage {
	return tenancy.ModelUsage{Queries: u.Queries, Tokens: tenancy.Tokens{Input: u.In, Output: u.Out, CacheRead: u.CR,
		CacheWrite: u.CW}, Cost: tenancy.Money(u.Cost)}
}

func (r dayRec) byModel() map[string]tenancy.ModelUsage {
	out := make(map[string]tenancy.ModelUsage, len(r.ByModel))
	for m, u := range r.ByModel {
		mu := u.usage()
		if mu != (tenancy.ModelUsage{}) {
			out[m] = mu
		}
	}
	return out
}

func (r dayRec) priceVersions() []string {
	names := []string{}
	for v, n := range r.Prices {
		if n > 0 {
			names = append(names, v)
		}
	}
	sort.Strings(names)
	return names
}

func (r dayRec) day(date string) tenancy.DayUsage {
	return tenancy.DayUsage{Date: date, Queries: r.Queries, Cost: tenancy.Money(r.Spent), Tokens: r.tokens(),
		FailedCalls: r.Failed, Overage: tenancy.Money(r.Overage), Unsettled: tenancy.Money(r.Reserved), ByModel: r.byModel(), PriceVersions: r.priceVersions()}
}

// settlementDelta is what a settlement changes in its day's counters.
func settlementDelta(t tenancy.Ticket, st tenancy.Settlement) dayRec {
	d := dayRec{Reserved: -int64(t.Reserve)}
	if st.Failed {
		// A failed call costs nothing, unless it reported implausible
		// usage: then it is charged its reservation.
		d.Failed, d.Spent = 1, int64(st.Cost)
		if st.Cost != 0 {
			d.ByModel = map[string]modelRec{t.Model: {Cost: int64(st.Cost)}}
			if st.PriceVersion != "" { // the version that priced the reservation
				d.Prices = map[string]int64{st.PriceVersion: 1}
			}
		}
		return d
	}
	d.Overage = int64(st.Overage(t))
	tk := st.Tokens
	d.Queries, d.Spent = 1, int64(st.Cost)
	d.In, d.Out, d.CR, d.CW = tk.Input, tk.Output, tk.CacheRead, tk.CacheWrite
	if st.PriceVersion != "" {
		d.Prices = map[string]int64{st.PriceVersion: 1}
	}
	d.ByModel = map[string]modelRec{t.Model: {Queries: 1, In: tk.Input, Out: tk.Output, CR: tk.CacheRead,
		CW: tk.CacheWrite, Cost: int64(st.Cost)}}
	return d
}

// tenantRec is a tenant: config, state, lifetime totals and the live window.
type tenantRec struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	MaxAgents     int             `json:"max_agents"`
	MaxQPH        int             `json:"max_qph"`
	MaxCost       int64           `json:"max_cost"`
	AllowedModels []string        `json:"allowed_models"`
	AllowedTools  []string        `json:"allowed_tools"`
	Metadata      json.RawMessage `json:"metadata"`
	Active        bool            `json:"active"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	AgentCount    int             `json:"agent_count"`
	TotalQueries  int64           `json:"total_queries"`
	LifetimeCost  int64           `json:"lifetime_cost"`
	Day           string          `json:"w_day"`
	Hour          string          `json:"h_key"`
	HourQueries   int64           `json:"h_queries"`
	Budget        int64           `json:"budget"`  // max_cost - spent - reserved
	Tz            string          `json:"tz"`      // IANA zone of the tenant's days
	TzPrev        string          `json:"tz_prev"` // zone of the days before TzFrom ("" when none)
	TzFrom        time.Time       `json:"tz_from"`
	// The monthly budget (MCapped false: none) and the window's month:
	// MBudget = MaxCostMonth - MSpent - MReserved, kept like Budget.
	MaxCostMonth int64  `json:"max_cost_month"`
	MCapped      bool   `json:"m_capped"`
	MKey         string `json:"m_key"`
	MSpent       int64  `json:"m_spent"`
	MReserved    int64  `json:"m_reserved"`
	MBudget      int64  `json:"m_budget"`
	// The tenant's OpenClaw gateway (admin-only fields).
	GatewayURL    string `json:"oc_gateway_url,omitempty"`
	GatewaySecret string `json:"oc_gateway_secret,omitempty"`
	// Alerts: the thresholds, and per period the highest one sent (the
	// DynamoDB store's a_d_pct / a_m_pct; a settle computes the crossing
	// from the spend inside its transaction, so no room is kept).
	AlertPcts []int `json:"alert_pcts"`
	ADPct     int   `json:"a_d_pct,omitempty"`
	AMPct     int   `json:"a_m_pct,omitempty"`
	// SessionTTLDays is session_ttl_days (0: stored before sessions existed,
	// read as the default).
	SessionTTLDays int    `json:"session_ttl_days,omitempty"`
	W              dayRec `json:"w"`
}

func sortedSet(names []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func metadataJSON(md tenancy.Metadata) json.RawMessage {
	if md == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(md)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// setConfig sets the configuration, except the timezone (see setZone).
func (r *tenantRec) setConfig(c tenancy.TenantConfig) {
	r.ID, r.Name, r.MaxAgents, r.MaxQPH, r.MaxCost = c.TenantID, c.Name, c.MaxAgents, c.MaxQueriesPerHour, int64(c.MaxCostPerDay)
	r.AllowedModels, r.AllowedTools, r.Metadata = sortedSet(c.AllowedModels), sortedSet(c.AllowedTools), metadataJSON(c.Metadata)
	r.MaxCostMonth, r.MCapped = int64(c.MonthCap()), c.MaxCostPerMonth != nil
	r.GatewayURL, r.GatewaySecret = c.OpenClawGatewayURL, c.OpenClawTokenSecret
	r.AlertPcts = append([]int{}, c.AlertThresholdsPct...)
	r.SessionTTLDays = c.SessionTTLDays
}

func newTenantRec(t tenancy.Tenant) tenantRec {
	r := tenantRec{Active: t.IsActive, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
		AgentCount: t.AgentCount, TotalQueries: t.TotalQueries, LifetimeCost: int64(t.LifetimeCost),
		Day: t.Usage.Day, Hour: t.Usage.Hour, HourQueries: t.Usage.HourQueries, Budget: int64(t.Usage.BudgetLeft),
		Tz: t.Timezone, TzPrev: t.PrevTimezone, MKey: t.Usage.Month, MSpent: int64(t.Usage.MonthSpent),
		MReserved: int64(t.Usage.MonthReserved), MBudget: int64(t.Usage.MonthBudget),
		ADPct: t.Usage.DayAlertPct, AMPct: t.Usage.MonthAlertPct}
	if t.PrevTimezone != "" {
		r.TzFrom = t.TimezoneFrom.UTC()
	}
	r.setConfig(t.TenantConfig)
	w := t.Usage
	r.W = dayRec{Queries: w.Queries, Failed: w.FailedCalls, Spent: int64(w.Spent), Reserved: int64(w.Reserved), Overage: int64(w.Overage),
		In: w.Tokens.Input, Out: w.Tokens.Output, CR: w.Tokens.CacheRead, CW: w.Tokens.CacheWrite}
	for m, u := range w.ByModel {
		if r.W.ByModel == nil {
			r.W.ByModel = map[string]modelRec{}
		}
		r.W.ByModel[m] = modelRec{Queries: u.Queries, In: u.Input, Out: u.Output, CR: u.CacheRead, CW: u.CacheWrite, Cost: int64(u.Cost)}
	}
	for _, v := range w.PriceVersion {
		if r.W.Prices == nil {
			r.W.Prices = map[string]int64{}
		}
		r.W.Prices[v]++
	}
	return r
}

func (r tenantRec) tenant() tenancy.Tenant {
	if r.Tz == "" {
		r.Tz = tenancy.DefaultTimezone
	}
	md := tenancy.Metadata{}
	if len(r.Metadata) > 0 {
		_ = json.Unmarshal(r.Metadata, &md)
		if md == nil {
			md = tenancy.Metadata{}
		}
	}
	t := tenancy.Tenant{
		TenantConfig: tenancy.TenantConfig{TenantID: r.ID, Name: r.Name, MaxAgents: r.MaxAgents, MaxQueriesPerHour: r.MaxQPH,
			MaxCostPerDay: tenancy.Money(r.MaxCost), AllowedModels: sortedSet(r.AllowedModels),
			AllowedTools: sortedSet(r.AllowedTools), Metadata: md, Timezone: r.Tz,
			OpenClawGatewayURL: r.GatewayURL, OpenClawTokenSecret: r.GatewaySecret,
			AlertThresholdsPct: append([]int{}, r.AlertPcts...), SessionTTLDays: r.SessionTTLDays},
		PrevTimezone: r.TzPrev, TimezoneFrom: r.TzFrom,
		IsActive: r.Active, AgentCount: r.AgentCount, TotalQueries: r.TotalQueries, LifetimeCost: tenancy.Money(r.LifetimeCost),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Usage: tenancy.Window{Day: r.Day, Hour: r.Hour, HourQueries: r.HourQueries, Queries: r.W.Queries,
			FailedCalls: r.W.Failed, Spent: tenancy.Money(r.W.Spent), Overage: tenancy.Money(r.W.Overage), Reserved: tenancy.Money(r.W.Reserved),
			BudgetLeft: tenancy.Money(r.Budget), Tokens: r.W.tokens(), ByModel: r.W.byModel(),
			PriceVersion: r.W.priceVersions(), Month: r.MKey, MonthSpent: tenancy.Money(r.MSpent),
			MonthReserved: tenancy.Money(r.MReserved), MonthBudget: tenancy.Money(r.MBudget),
			DayAlertPct: r.ADPct, MonthAlertPct: r.AMPct},
	}
	if t.SessionTTLDays == 0 { // stored before sessions existed
		t.SessionTTLDays = tenancy.DefaultSessionTTLDays
	}
	if r.MCapped {
		m := tenancy.Money(r.MaxCostMonth)
		t.MaxCostPerMonth = &m
	}
	return t
}

type agentRec struct {
	TenantID        string    `json:"tenant_id"`
	AgentID         string    `json:"agent_id"`
	Name            string    `json:"name"`
	SystemPrompt    string    `json:"system_prompt"`
	LLMModel        string    `json:"llm_model"`
	Tools           []string  `json:"tools"`
	MaxOutputTokens int       `json:"max_output_tokens"`
	MaxHistoryTurns *int      `json:"max_history_turns"` // nil: stored before sessions existed
	CreatedAt       time.Time `json:"created_at"`
}

func newAgentRec(a tenancy.Agent) agentRec {
	return agentRec{TenantID: a.TenantID, AgentID: a.AgentID, Name: a.Name, SystemPrompt: a.SystemPrompt, LLMModel: a.LLMModel,
		Tools: nonNil(a.Tools), MaxOutputTokens: a.MaxOutputTokens, MaxHistoryTurns: &a.MaxHistoryTurns, CreatedAt: a.CreatedAt.UTC()}
}

func (r agentRec) agent() tenancy.Agent {
	turns := tenancy.DefaultMaxHistoryTurns
	if r.MaxHistoryTurns != nil {
		turns = *r.MaxHistoryTurns
	}
	return tenancy.Agent{AgentConfig: tenancy.AgentConfig{AgentID: r.AgentID, Name: r.Name, SystemPrompt: r.SystemPrompt,
		LLMModel: r.LLMModel, Tools: nonNil(r.Tools), MaxOutputTokens: r.MaxOutputTokens, MaxHistoryTurns: turns},
		TenantID: r.TenantID, CreatedAt: r.CreatedAt}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// callRec is an admitted, unsettled call, with a settlement recorded for
// reconcile when settling failed.
type callRec struct {
	CallID     string     `json:"call_id"`
	TenantID   string     `json:"tenant_id"`
	AgentID    string     `json:"agent_id"`
	Model      string     `json:"model"`
	Reserve    int64      `json:"reserve"`
	Day        string     `json:"day"`
	AdmittedAt time.Time  `json:"admitted_at"`
	Recorded   *settleRec `json:"recorded,omitempty"`
}

type settleRec struct {
	Failed       bool   `json:"failed"`
	In           int64  `json:"in"`
	Out          int64  `json:"out"`
	CR           int64  `json:"cr"`
	CW           int64  `json:"cw"`
	Cost         int64  `json:"cost"`
	PriceVersion string `json:"price_version"`
}

func newCallRec(t tenancy.Ticket) callRec {
	return callRec{CallID: t.CallID, TenantID: t.TenantID, AgentID: t.AgentID, Model: t.Model, Reserve: int64(t.Reserve),
		Day: t.Day, AdmittedAt: t.AdmittedAt.UTC()}
}

func (r callRec) open() tenancy.OpenCall {
	c := tenancy.OpenCall{Ticket: tenancy.Ticket{CallID: r.CallID, TenantID: r.TenantID, AgentID: r.AgentID, Model: r.Model,
		Reserve: tenancy.Money(r.Reserve), Day: r.Day, AdmittedAt: r.AdmittedAt}}
	if s := r.Recorded; s != nil {
		c.Recorded = &tenancy.Settlement{Failed: s.Failed, Cost: tenancy.Money(s.Cost), PriceVersion: s.PriceVersion,
			Tokens: tenancy.Tokens{Input: s.In, Output: s.Out, CacheRead: s.CR, CacheWrite: s.CW}}
	}
	return c
}

type keyRec struct {
	KeyID     string    `json:"key_id"`
	TenantID  string    `json:"tenant_id"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
}

type idemRec struct {
	Status      string `json:"status"`
	PayloadHash string `json:"payload_hash"`
	StatusCode  int    `json:"status_code"`
	Body        string `json:"body"`
	Expires     int64  `json:"expires_at"`
	InProgUntil int64  `json:"inprogress_until"`
	Owner       string `json:"owner"`
}

// alertRec is one alert, keyed <t>/<at>#<period>#<period key>#<pct> so a
// tenant's alerts list in time order.
type alertRec struct {
	TenantID  string    `json:"tenant_id"`
	Period    string    `json:"period"`
	Threshold int       `json:"threshold_pct"`
	Spent     int64     `json:"spent"`
	Cap       int64     `json:"cap"`
	At        time.Time `json:"at"`
}

func alertKey(a tenancy.Alert, periodKey string) []byte {
	return k2(a.TenantID, fmt.Sprintf("%s#%s#%s#%03d", a.At.UTC().Format("20060102T150405.000000000Z"), a.Period, periodKey, a.ThresholdPct))
}

func (r alertRec) alert() tenancy.Alert {
	return tenancy.Alert{TenantID: r.TenantID, Period: r.Period, ThresholdPct: r.Threshold, Spent: tenancy.Money(r.Spent),
		Cap: tenancy.Money(r.Cap), At: r.At}
}
