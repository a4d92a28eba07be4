package tenancy

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Defaults from the seed (TenantConfig and AgentConfig).
const (
	DefaultMaxAgents         = 10
	DefaultMaxQueriesPerHour = 1000
	DefaultMaxCostPerDay     = 50 * NanosPerUSD
	DefaultSystemPrompt      = "You are a helpful assistant."
	DefaultModel             = "claude-sonnet-4-20250514"
	DefaultMaxOutputTokens   = 1024
)

// DefaultAllowedModels is the seed's default model whitelist.
func DefaultAllowedModels() []string {
	return []string{"claude-sonnet-4-20250514", "gpt-4o-mini"}
}

// Bounds that keep every stored number small and every item small.
const (
	MaxAgentsLimit        = 10_000
	MaxQueriesPerHourCap  = 10_000_000
	MaxOutputTokensLimit  = 200_000
	MaxNameLen            = 256
	MaxSystemPromptBytes  = 32 << 10
	MaxQueryBytes         = 32 << 10
	MaxMetadataBytes      = 8 << 10
	MaxListLen            = 100
	MaxModelOrToolNameLen = 128
)

// Id rules. A namespaced agent id "tenant-<tenant>-<agent>" is what the
// OpenClaw gateway receives: it must be lowercase, at most 64 characters of
// ^[a-z0-9][a-z0-9_-]{0,63}$, and unique. Tenant ids have no hyphen, so the
// namespaced id splits uniquely at the first hyphen after "tenant-"; the
// lengths (32 + 24 + 8) keep it within 64 characters.
const (
	TenantIDRule = `^[a-z0-9][a-z0-9_]{0,31}$`
	AgentIDRule  = `^[a-z0-9][a-z0-9_-]{0,23}$`
)

// The patterns compile on first use: a bounded repetition such as {1,128}
// compiles into that many copies, and at init every Lambda cold start would
// pay for all of them (0.4 ms, 2,600 allocations), needed or not.
var (
	tenantIDPattern = lazyRegexp(TenantIDRule)
	agentIDPattern  = lazyRegexp(AgentIDRule)
	namePattern     = lazyRegexp(NamePattern)
	keyIDPattern    = lazyRegexp(`^[a-zA-Z0-9_-]{1,64}$`)
)

// lazyRegexp is a regular expression compiled once, when first used.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}

// ValidID reports whether s can be an id in a key (an API key's id): it
// cannot contain a key delimiter, so it can never be confused with another key.
func ValidID(s string) bool { return keyIDPattern().MatchString(s) }

// ValidTenantID reports whether s is a valid tenant id.
func ValidTenantID(s string) bool { return tenantIDPattern().MatchString(s) }

// ValidAgentID reports whether s is a valid (short) agent id.
func ValidAgentID(s string) bool { return agentIDPattern().MatchString(s) }

// CheckTenantID validates a tenant id. Ids are never lowercased for the
// client: "Acme" is refused, not silently turned into "acme".
func CheckTenantID(id string) error {
	if !ValidTenantID(id) {
		return Validationf("tenant_id must match %s (lowercase letters, digits and underscores, at most 32 characters, no hyphen)", TenantIDRule)
	}
	return nil
}

// CheckAgentID validates a (short) agent id.
func CheckAgentID(id string) error {
	if !ValidAgentID(id) {
		return Validationf("agent_id must match %s (lowercase letters, digits, underscores and hyphens, at most 24 characters)", AgentIDRule)
	}
	return nil
}

// NamespacedAgentID is the seed's namespaced id: "tenant-<tenant>-<agent>".
// For valid ids it is unique, lowercase and at most 64 characters.
func NamespacedAgentID(tenantID, agentID string) string {
	return "tenant-" + tenantID + "-" + agentID
}

// SplitNamespacedAgentID is the inverse of NamespacedAgentID.
func SplitNamespacedAgentID(id string) (tenantID, agentID string, ok bool) {
	rest, found := strings.CutPrefix(id, "tenant-")
	if !found {
		return "", "", false
	}
	tenantID, agentID, found = strings.Cut(rest, "-")
	if !found || !ValidTenantID(tenantID) || !ValidAgentID(agentID) {
		return "", "", false
	}
	return tenantID, agentID, true
}

// TenantConfig is a tenant's configuration (the seed's TenantConfig).
// Empty AllowedModels / AllowedTools mean unrestricted.
type TenantConfig struct {
	TenantID          string   `json:"tenant_id"`
	Name              string   `json:"name"`
	MaxAgents         int      `json:"max_agents"`
	MaxQueriesPerHour int      `json:"max_queries_per_hour"`
	MaxCostPerDay     Money    `json:"max_cost_usd_per_day"`
	AllowedModels     []string `json:"allowed_models"`
	AllowedTools      []string `json:"allowed_tools"`
	Metadata          Metadata `json:"metadata"`
	// Timezone is the IANA zone of the tenant's day (daily window, usage
	// date, history dates); a change takes effect at the next local midnight.
	Timezone string `json:"timezone"`
	// OpenClawGatewayURL is the tenant's own OpenClaw gateway (strict
	// isolation: one gateway per tenant); empty uses the shared one.
	// OpenClawTokenSecret names its token: a Secrets Manager secret
	// tenancy-<stage>/tenant-gateway/<name> in AWS (GatewayTokenSecretRule),
	// the environment variable GatewayTokenEnv(name) locally. Admin-only fields: only the admin
	// sets them or sees them.
	OpenClawGatewayURL  string `json:"openclaw_gateway_url,omitempty"`
	OpenClawTokenSecret string `json:"openclaw_gateway_token_secret,omitempty"`
	// MaxCostPerMonth is the monthly budget (nil: none), a hard cap like the
	// daily one, over the tenant's local calendar month.
	MaxCostPerMonth *Money `json:"max_cost_usd_per_month"`
	// AlertThresholdsPct are the shares of a cap (1-100, sorted) whose
	// crossing raises one alert per period.
	AlertThresholdsPct []int `json:"alert_thresholds_pct"`
	// SessionTTLDays is how long a session lives after its last turn.
	SessionTTLDays int `json:"session_ttl_days"`
}

// MonthCap is the monthly budget, 0 when there is none.
func (c TenantConfig) MonthCap() Money {
	if c.MaxCostPerMonth == nil {
		return 0
	}
	return *c.MaxCostPerMonth
}

// Metadata is a tenant's free-form JSON object. Numbers are kept exactly as
// sent (json.Number), so 9007199254740993 is not rounded to a float64.
type Metadata map[string]any

// UnmarshalJSON decodes an object keeping numbers exact.
func (m *Metadata) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if v == nil && !bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return Validationf("metadata must be a JSON object")
	}
	*m = v
	return nil
}

// NewTenantConfig returns the seed's defaults for a tenant id.
func NewTenantConfig(tenantID string) TenantConfig {
	return TenantConfig{
		TenantID:           tenantID,
		Name:               tenantID,
		MaxAgents:          DefaultMaxAgents,
		MaxQueriesPerHour:  DefaultMaxQueriesPerHour,
		MaxCostPerDay:      DefaultMaxCostPerDay,
		AllowedModels:      DefaultAllowedModels(),
		AllowedTools:       []string{},
		Metadata:           Metadata{},
		Timezone:           DefaultTimezone,
		AlertThresholdsPct: DefaultAlertThresholds(),
		SessionTTLDays:     DefaultSessionTTLDays,
	}
}

// TenantPatch is a partial TenantConfig: nil fields are left as they are.
// Registration applies a patch to the defaults; PATCH applies one to the
// stored config.
type TenantPatch struct {
	Name              *string       `json:"name"`
	MaxAgents         *int          `json:"max_agents"`
	MaxQueriesPerHour *int          `json:"max_queries_per_hour"`
	MaxCostPerDay     *Money        `json:"max_cost_usd_per_day"`
	AllowedModels     *[]string     `json:"allowed_models"`
	AllowedTools      *[]string     `json:"allowed_tools"`
	Metadata          *Metadata     `json:"metadata"`
	Timezone          *string       `json:"timezone"`
	MaxCostPerMonth   OptionalMoney `json:"max_cost_usd_per_month"`
	// "" or null clears a tenant gateway setting.
	OpenClawGatewayURL  OptionalString `json:"openclaw_gateway_url"`
	OpenClawTokenSecret OptionalString `json:"openclaw_gateway_token_secret"`
	AlertThresholds     *[]int         `json:"alert_thresholds_pct"`
	SessionTTLDays      *int           `json:"session_ttl_days"`
}

// OptionalString is a patch field that may be set to null: Set says the
// field was sent, Value is "" for null (a string setting's "none").
type OptionalString struct {
	Set   bool
	Value string
}

// Some is a set OptionalString.
func Some(s string) OptionalString { return OptionalString{Set: true, Value: s} }

// UnmarshalJSON implements json.Unmarshaler (absent: Set stays false).
func (o *OptionalString) UnmarshalJSON(b []byte) error {
	o.Set, o.Value = true, ""
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// OptionalMoney is a patch field that may be set to null: Set says the
// field was sent, Value is nil for null.
type OptionalMoney struct {
	Set   bool
	Value *Money
}

// UnmarshalJSON implements json.Unmarshaler (absent: Set stays false).
func (o *OptionalMoney) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var m Money
	if err := m.UnmarshalJSON(b); err != nil {
		return err
	}
	o.Value = &m
	return nil
}

// Apply copies the set fields of p onto c.
func (p TenantPatch) Apply(c *TenantConfig) {
	if p.Name != nil {
		c.Name = *p.Name
	}
	if p.MaxAgents != nil {
		c.MaxAgents = *p.MaxAgents
	}
	if p.MaxQueriesPerHour != nil {
		c.MaxQueriesPerHour = *p.MaxQueriesPerHour
	}
	if p.MaxCostPerDay != nil {
		c.MaxCostPerDay = *p.MaxCostPerDay
	}
	if p.AllowedModels != nil {
		c.AllowedModels = dedupe(*p.AllowedModels)
	}
	if p.AllowedTools != nil {
		c.AllowedTools = dedupe(*p.AllowedTools)
	}
	if p.Metadata != nil {
		c.Metadata = *p.Metadata
	}
	if p.Timezone != nil {
		c.Timezone = *p.Timezone
	}
	if p.MaxCostPerMonth.Set {
		c.MaxCostPerMonth = p.MaxCostPerMonth.Value
	}
	if p.OpenClawGatewayURL.Set {
		c.OpenClawGatewayURL = p.OpenClawGatewayURL.Value
	}
	if p.OpenClawTokenSecret.Set {
		c.OpenClawTokenSecret = p.OpenClawTokenSecret.Value
	}
	if p.AlertThresholds != nil {
		c.AlertThresholdsPct = normalThresholds(*p.AlertThresholds)
	}
	if p.SessionTTLDays != nil {
		c.SessionTTLDays = *p.SessionTTLDays
	}
}

// GatewayTokenSecretRule is the only shape a tenant's gateway token secret
// name may have: tenancy-<stage>/tenant-gateway/<name>. In AWS the execute
// function may read secrets under its own stage's prefix
// (GatewayTokenSecretPrefix) and no other, so this field cannot name the
// platform's own secrets nor anything else in the account.
const GatewayTokenSecretRule = "tenancy-<stage>/tenant-gateway/<name> (stage ^[a-z][a-z0-9-]{0,19}$, name ^[A-Za-z0-9_+=.@-]{1,128}$)"

// GatewayTokenSecretPattern is GatewayTokenSecretRule as a regular expression.
const GatewayTokenSecretPattern = `^tenancy-[a-z][a-z0-9-]{0,19}/tenant-gateway/[A-Za-z0-9_+=.@-]{1,128}$`

var gatewayTokenSecretPattern = lazyRegexp(GatewayTokenSecretPattern)

// GatewayTokenSecretPrefix starts the name of every tenant gateway token
// secret of a stage (the stack's IAM grant is this prefix followed by *).
func GatewayTokenSecretPrefix(stage string) string { return "tenancy-" + stage + "/tenant-gateway/" }

// GatewayTokenEnv is the environment variable holding a tenant gateway
// token locally (no Secrets Manager): the secret name in upper case with
// every other character than a letter or digit as '_', e.g.
// tenancy-dev/tenant-gateway/globex -> TENANCY_DEV_TENANT_GATEWAY_GLOBEX.
func GatewayTokenEnv(secret string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'):
			return r
		}
		return '_'
	}, secret)
}

func checkGateway(gatewayURL, secret string) error {
	if gatewayURL != "" {
		u, err := url.Parse(gatewayURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || len(gatewayURL) > 2048 {
			return Validationf("openclaw_gateway_url must be an http(s) URL without credentials, query or fragment")
		}
	}
	if secret != "" {
		if !gatewayTokenSecretPattern().MatchString(secret) {
			return Validationf("openclaw_gateway_token_secret must be named " + GatewayTokenSecretRule)
		}
		if gatewayURL == "" {
			return Validationf("openclaw_gateway_token_secret needs openclaw_gateway_url")
		}
	}
	return nil
}

// Validate checks every field of a tenant config.
func (c TenantConfig) Validate() error {
	if err := CheckTenantID(c.TenantID); err != nil {
		return err
	}
	switch {
	case c.Name == "" || utf8.RuneCountInString(c.Name) > MaxNameLen || !utf8.ValidString(c.Name):
		return Validationf("name must be 1 to %d characters", MaxNameLen)
	case c.MaxAgents < 0 || c.MaxAgents > MaxAgentsLimit:
		return Validationf("max_agents must be between 0 and %d", MaxAgentsLimit)
	case c.MaxQueriesPerHour < 0 || c.MaxQueriesPerHour > MaxQueriesPerHourCap:
		return Validationf("max_queries_per_hour must be between 0 and %d", MaxQueriesPerHourCap)
	case c.MaxCostPerDay < 0 || c.MaxCostPerDay > MaxMoney:
		return Validationf("max_cost_usd_per_day must be between 0 and %s", MaxMoney.Decimal())
	case c.MaxCostPerMonth != nil && (*c.MaxCostPerMonth < 0 || *c.MaxCostPerMonth > MaxMoney):
		return Validationf("max_cost_usd_per_month must be null or between 0 and %s", MaxMoney.Decimal())
	case c.SessionTTLDays < 1 || c.SessionTTLDays > MaxSessionTTLDays:
		return Validationf("session_ttl_days must be between 1 and %d", MaxSessionTTLDays)
	}
	if _, err := LoadZone(c.Timezone); err != nil {
		return err
	}
	if err := checkThresholds(c.AlertThresholdsPct); err != nil {
		return err
	}
	if err := checkNames("allowed_models", c.AllowedModels); err != nil {
		return err
	}
	if err := checkNames("allowed_tools", c.AllowedTools); err != nil {
		return err
	}
	if err := checkGateway(c.OpenClawGatewayURL, c.OpenClawTokenSecret); err != nil {
		return err
	}
	if c.Metadata != nil {
		b, err := json.Marshal(c.Metadata)
		if err != nil || len(b) > MaxMetadataBytes {
			return Validationf("metadata must be a JSON object of at most %d bytes", MaxMetadataBytes)
		}
	}
	return nil
}

func checkNames(field string, names []string) error {
	if len(names) > MaxListLen {
		return Validationf("%s may have at most %d entries", field, MaxListLen)
	}
	for _, n := range names {
		if !namePattern().MatchString(n) {
			return Validationf("%s entries must match ^[a-zA-Z0-9_.:/@+-]{1,128}$", field)
		}
	}
	return nil
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Allows reports whether a list permits a name (empty = unrestricted).
func Allows(list []string, name string) bool {
	if len(list) == 0 {
		return true
	}
	for _, s := range list {
		if s == name {
			return true
		}
	}
	return false
}

// Tenant is a registered tenant: its config, state and current usage.
type Tenant struct {
	TenantConfig
	IsActive     bool      `json:"is_active"`
	AgentCount   int       `json:"-"`
	TotalQueries int64     `json:"-"`
	LifetimeCost Money     `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Usage        Window    `json:"-"`
	// PrevTimezone is the zone of the days before TimezoneFrom, while a
	// change of timezone waits for the next local midnight ("" when none).
	PrevTimezone string    `json:"-"`
	TimezoneFrom time.Time `json:"-"`
}

// Calendar is the tenant's local calendar.
func (t Tenant) Calendar() Calendar {
	return Calendar{Zone: t.Timezone, Prev: t.PrevTimezone, From: t.TimezoneFrom}
}

// Window is the tenant's live usage: the current day and the current hour.
// Spent+Reserved never exceeds the day's cap because admits reserve against
// BudgetLeft (= cap - spent - reserved), which a condition keeps >= 0.
type Window struct {
	Day          string // YYYY-MM-DD (the tenant's local day) the counters belong to
	Hour         string // YYYY-MM-DDTHH (UTC) of the hourly counter
	HourQueries  int64  // admitted in Hour
	Queries      int64  // completed today (since the last reset)
	FailedCalls  int64  // admitted today but failed at the provider
	Spent        Money  // settled today
	Overage      Money  // the part of Spent above the calls' reservations
	Reserved     Money  // in flight (admitted, not settled)
	BudgetLeft   Money  // cap - spent - reserved
	Tokens       Tokens
	ByModel      map[string]ModelUsage
	PriceVersion []string
	// The month (YYYY-MM, local) of the window's day: spent and reserved in
	// it, and MonthBudget = monthly cap (0 when none) - spent - reserved.
	Month         string
	MonthSpent    Money
	MonthReserved Money
	MonthBudget   Money
	// The highest alert threshold already sent for the day and the month.
	DayAlertPct   int
	MonthAlertPct int
}

// Tokens counts tokens by kind.
type Tokens struct {
	Input      int64 `json:"input_tokens"`
	Output     int64 `json:"output_tokens"`
	CacheRead  int64 `json:"cache_read_tokens"`
	CacheWrite int64 `json:"cache_write_tokens"`
}

// Plus is the sum of two token counts.
func (t Tokens) Plus(o Tokens) Tokens {
	return Tokens{Input: t.Input + o.Input, Output: t.Output + o.Output,
		CacheRead: t.CacheRead + o.CacheRead, CacheWrite: t.CacheWrite + o.CacheWrite}
}

// ModelUsage is one model's share of a day.
type ModelUsage struct {
	Queries int64 `json:"queries"`
	Tokens
	Cost Money `json:"cost_usd"`
}

// AgentConfig is an agent's configuration (the seed's AgentConfig).
type AgentConfig struct {
	AgentID         string   `json:"agent_id"`
	Name            string   `json:"name"`
	SystemPrompt    string   `json:"system_prompt"`
	LLMModel        string   `json:"llm_model"`
	Tools           []string `json:"tools"`
	MaxOutputTokens int      `json:"max_output_tokens"`
	MaxHistoryTurns int      `json:"max_history_turns"`
}

// NewAgentConfig returns the seed's agent defaults for an agent id.
func NewAgentConfig(agentID string) AgentConfig {
	return AgentConfig{
		AgentID:         agentID,
		Name:            agentID,
		SystemPrompt:    DefaultSystemPrompt,
		LLMModel:        DefaultModel,
		Tools:           []string{},
		MaxOutputTokens: DefaultMaxOutputTokens,
		MaxHistoryTurns: DefaultMaxHistoryTurns,
	}
}

// Validate checks an agent config (but not the tenant's lists or the catalog).
func (a AgentConfig) Validate() error {
	if err := CheckAgentID(a.AgentID); err != nil {
		return err
	}
	switch {
	case a.Name == "" || utf8.RuneCountInString(a.Name) > MaxNameLen || !utf8.ValidString(a.Name):
		return Validationf("name must be 1 to %d characters", MaxNameLen)
	case a.SystemPrompt == "" || len(a.SystemPrompt) > MaxSystemPromptBytes || !utf8.ValidString(a.SystemPrompt):
		return Validationf("system_prompt must be 1 to %d bytes of UTF-8", MaxSystemPromptBytes)
	case !namePattern().MatchString(a.LLMModel):
		return Validationf("llm_model must match ^[a-zA-Z0-9_.:/@+-]{1,128}$")
	case a.MaxOutputTokens < 1 || a.MaxOutputTokens > MaxOutputTokensLimit:
		return Validationf("max_output_tokens must be between 1 and %d", MaxOutputTokensLimit)
	case a.MaxHistoryTurns < 0 || a.MaxHistoryTurns > MaxHistoryTurnsLimit:
		return Validationf("max_history_turns must be between 0 and %d", MaxHistoryTurnsLimit)
	}
	return checkNames("tools", a.Tools)
}

// Agent is a tenant's agent.
type Agent struct {
	AgentConfig
	TenantID  string    `json:"tenant_id"`
	CreatedAt time.Time `json:"created_at"`
}

// NamespacedID is "tenant-<tenant>-<agent>".
func (a Agent) NamespacedID() string { return NamespacedAgentID(a.TenantID, a.AgentID) }
