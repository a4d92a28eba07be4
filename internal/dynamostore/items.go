package dynamostore

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// counters are a day's usage, with the same attribute names on the tenant
// item (the live window) and on history items, so one delta applies to both.
type counters struct {
	Queries  int64 `dynamodbav:"d_queries"`
	Failed   int64 `dynamodbav:"d_failed"`
	Spent    int64 `dynamodbav:"d_spent"`
	Reserved int64 `dynamodbav:"d_reserved"`
	Overage  int64 `dynamodbav:"d_over"` // cost above reservations (in Spent)
	In       int64 `dynamodbav:"d_in"`
	Out      int64 `dynamodbav:"d_out"`
	CR       int64 `dynamodbav:"d_cr"`
	CW       int64 `dynamodbav:"d_cw"`
}

// Per-model counters are top-level attributes "m|<model>|<field>", and the
// price versions that priced a day are counters "pv|<version>": ADD creates
// them on first use (a nested map would have to exist first); names may
// contain dots, so they are never split into paths. A rollover sets them to
// 0 rather than removing them (minidyn ignores top-level REMOVE), and zero
// entries are skipped when read.
const (
	modelAttrPrefix = "m|"
	priceAttrPrefix = "pv|"
)

var modelFields = []string{"q", "in", "out", "cr", "cw", "cost"}

func modelAttr(model, field string) string { return modelAttrPrefix + model + "|" + field }

func setModelField(u *tenancy.ModelUsage, field string, v int64) {
	switch field {
	case "q":
		u.Queries = v
	case "in":
		u.Input = v
	case "out":
		u.Output = v
	case "cr":
		u.CacheRead = v
	case "cw":
		u.CacheWrite = v
	case "cost":
		u.Cost = tenancy.Money(v)
	}
}

func modelValues(u tenancy.ModelUsage) []int64 {
	return []int64{u.Queries, u.Input, u.Output, u.CacheRead, u.CacheWrite, int64(u.Cost)}
}

// byModel reads the per-model attributes of an item.
func byModel(item map[string]types.AttributeValue) map[string]tenancy.ModelUsage {
	out := map[string]tenancy.ModelUsage{}
	defer func() {
		for m, u := range out {
			if u == (tenancy.ModelUsage{}) {
				delete(out, m)
			}
		}
	}()
	for k, v := range item {
		if !strings.HasPrefix(k, modelAttrPrefix) {
			continue
		}
		i := strings.LastIndexByte(k, '|')
		model, field := k[len(modelAttrPrefix):i], k[i+1:]
		n, ok := v.(*types.AttributeValueMemberN)
		if !ok || model == "" {
			continue
		}
		x, _ := strconv.ParseInt(n.Value, 10, 64)
		u := out[model]
		setModelField(&u, field, x)
		out[model] = u
	}
	return out
}

// priceVersions reads the price-version counters of an item: the versions
// with a count above zero, sorted, and the counts.
func priceVersions(item map[string]types.AttributeValue) ([]string, map[string]int64) {
	counts := map[string]int64{}
	names := []string{}
	for k, v := range item {
		n, ok := v.(*types.AttributeValueMemberN)
		if !ok || !strings.HasPrefix(k, priceAttrPrefix) {
			continue
		}
		if x, _ := strconv.ParseInt(n.Value, 10, 64); x > 0 {
			counts[k[len(priceAttrPrefix):]] = x
			names = append(names, k[len(priceAttrPrefix):])
		}
	}
	sort.Strings(names)
	return names, counts
}

// flatCounterNames lists an item's per-model and price-version attributes
// (a rollover zeroes them).
func flatCounterNames(item map[string]types.AttributeValue) []string {
	var names []string
	for k := range item {
		if strings.HasPrefix(k, modelAttrPrefix) || strings.HasPrefix(k, priceAttrPrefix) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// delta is a change to a day's counters (a settlement, or an archive).
type delta struct {
	c       counters
	byModel map[string]tenancy.ModelUsage
	prices  map[string]int64 // price version -> calls priced with it
}

// add appends ADD clauses for the non-zero parts of d.
func (d delta) add(ub expression.UpdateBuilder) expression.UpdateBuilder {
	for _, f := range []struct {
		name string
		v    int64
	}{{"d_queries", d.c.Queries}, {"d_failed", d.c.Failed}, {"d_spent", d.c.Spent}, {"d_reserved", d.c.Reserved}, {"d_over", d.c.Overage},
		{"d_in", d.c.In}, {"d_out", d.c.Out}, {"d_cr", d.c.CR}, {"d_cw", d.c.CW}} {
		if f.v != 0 {
			ub = ub.Add(expression.Name(f.name), expression.Value(f.v))
		}
	}
	for v, n := range d.prices {
		ub = ub.Add(expression.NameNoDotSplit(priceAttrPrefix+v), expression.Value(n))
	}
	for model, u := range d.byModel {
		for i, v := range modelValues(u) {
			if v != 0 {
				ub = ub.Add(expression.NameNoDotSplit(modelAttr(model, modelFields[i])), expression.Value(v))
			}
		}
	}
	return ub
}

// tenantItem is the tenant's item. The allowed model and tool lists are
// stored as maps name -> true, with "*" for unrestricted, so the admit's
// condition is a map lookup (allowed_models.#m = true) and a list is never
// empty (minidyn mangles empty lists and maps, and fails contains() on a
// missing attribute).
type tenantItem struct {
	PK            string   `dynamodbav:"pk"`
	SK            string   `dynamodbav:"sk"`
	Type          string   `dynamodbav:"type"`
	TenantID      string   `dynamodbav:"tenant_id"`
	Name          string   `dynamodbav:"name"`
	MaxAgents     int      `dynamodbav:"max_agents"`
	MaxQPH        int      `dynamodbav:"max_qph"`
	MaxCost       int64    `dynamodbav:"max_cost"`
	AllowedModels allowSet `dynamodbav:"allowed_models"`
	AllowedTools  allowSet `dynamodbav:"allowed_tools"`
	Metadata      string   `dynamodbav:"metadata"` // JSON object
	GatewayURL    string   `dynamodbav:"oc_gateway_url,omitempty"`
	GatewaySecret string   `dynamodbav:"oc_gateway_secret,omitempty"`
	IsActive      bool     `dynamodbav:"is_active"`
	CreatedAt     string   `dynamodbav:"created_at"`
	UpdatedAt     string   `dynamodbav:"updated_at"`
	AgentCount    int      `dynamodbav:"agent_count"`
	TotalQueries  int64    `dynamodbav:"total_queries"`
	LifetimeCost  int64    `dynamodbav:"lifetime_cost"`
	Rev           int64    `dynamodbav:"rev"`     // bumped by every write of the item
	CfgRev        int64    `dynamodbav:"cfg_rev"` // bumped by every config write
	Resets        int64    `dynamodbav:"resets"`  // bumped by every rollover / reset
	WDay          string   `dynamodbav:"w_day"`
	HKey          string   `dynamodbav:"h_key"`
	HQueries      int64    `dynamodbav:"h_queries"`
	Budget        int64    `dynamodbav:"d_budget"` // max_cost - d_spent - d_reserved
	Tz            string   `dynamodbav:"tz"`       // IANA zone of the tenant's days
	TzPrev        string   `dynamodbav:"tz_prev"`  // zone of the days before tz_from ("" when none)
	TzFrom        string   `dynamodbav:"tz_from"`
	// The monthly budget (m_capped false: none) and the window's month:
	// m_budget = max_cost_month - m_spent - m_reserved, kept like d_budget
	// so the admit's one condition can hold both caps.
	MaxCostMonth int64  `dynamodbav:"max_cost_month"`
	MCapped      bool   `dynamodbav:"m_capped"`
	MKey         string `dynamodbav:"m_key"`
	MSpent       int64  `dynamodbav:"m_spent"`
	MReserved    int64  `dynamodbav:"m_reserved"`
	MBudget      int64  `dynamodbav:"m_budget"`
	// Alerts: the thresholds ("80,100"), and per period the highest one
	// sent and the room before the next (a_*_room = next threshold's
	// amount - spend, kept by the same ADDs as the spend).
	AlertPcts  string `dynamodbav:"alert_pcts"`
	ADPct      int    `dynamodbav:"a_d_pct"`
	ADRoom     int64  `dynamodbav:"a_d_room"`
	AMPct      int    `dynamodbav:"a_m_pct"`
	AMRoom     int64  `dynamodbav:"a_m_room"`
	SessionTTL int    `dynamodbav:"session_ttl_days,omitempty"`
	counters
}

func encodeTenant(t tenancy.Tenant) (map[string]types.AttributeValue, error) {
	md := t.Metadata
	if md == nil {
		md = tenancy.Metadata{}
	}
	meta, err := json.Marshal(md)
	if err != nil {
		return nil, tenancy.Validationf("metadata must be a JSON object")
	}
	it := tenantItem{
		PK: tenantPK(t.TenantID), SK: tenantSK, Type: "tenant", TenantID: t.TenantID, Name: t.Name,
		MaxAgents: t.MaxAgents, MaxQPH: t.MaxQueriesPerHour, MaxCost: int64(t.MaxCostPerDay),
		AllowedModels: toAllowSet(t.AllowedModels), AllowedTools: toAllowSet(t.AllowedTools), Metadata: string(meta),
		GatewayURL: t.OpenClawGatewayURL, GatewaySecret: t.OpenClawTokenSecret,
		IsActive: t.IsActive, CreatedAt: nowString(t.CreatedAt), UpdatedAt: nowString(t.UpdatedAt),
		WDay: t.Usage.Day, HKey: t.Usage.Hour, Budget: int64(t.Usage.BudgetLeft),
		Tz: t.Timezone, TzPrev: t.PrevTimezone, MaxCostMonth: int64(t.MonthCap()), MCapped: t.MaxCostPerMonth != nil,
		MKey: t.Usage.Month, MBudget: int64(t.Usage.MonthBudget),
		AlertPcts:  tenancy.FormatThresholds(t.AlertThresholdsPct),
		SessionTTL: t.SessionTTLDays,
	}
	as := tenancy.InitialAlerts(t.TenantConfig)
	it.ADRoom, it.AMRoom = int64(as.DayRoom), int64(as.MonthRoom)
	if t.PrevTimezone != "" {
		it.TzFrom = nowString(t.TimezoneFrom)
	}
	return attributevalue.MarshalMap(it)
}

func decodeTenant(item map[string]types.AttributeValue) (tenancy.Tenant, tenantItem, error) {
	var it tenantItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return tenancy.Tenant{}, it, tenancy.Unavailable(err)
	}
	md := tenancy.Metadata{}
	if it.Metadata != "" {
		_ = json.Unmarshal([]byte(it.Metadata), &md)
	}
	t := tenancy.Tenant{
		TenantConfig: tenancy.TenantConfig{
			TenantID: it.TenantID, Name: it.Name, MaxAgents: it.MaxAgents, MaxQueriesPerHour: it.MaxQPH,
			MaxCostPerDay: tenancy.Money(it.MaxCost), AllowedModels: it.AllowedModels.list(),
			AllowedTools: it.AllowedTools.list(), Metadata: md, Timezone: it.Tz,
			OpenClawGatewayURL: it.GatewayURL, OpenClawTokenSecret: it.GatewaySecret,
			AlertThresholdsPct: tenancy.ParseThresholds(it.AlertPcts),
			SessionTTLDays:     it.SessionTTL,
		},
		PrevTimezone: it.TzPrev, TimezoneFrom: parseTime(it.TzFrom),
		IsActive: it.IsActive, AgentCount: it.AgentCount, TotalQueries: it.TotalQueries,
		LifetimeCost: tenancy.Money(it.LifetimeCost),
		CreatedAt:    parseTime(it.CreatedAt), UpdatedAt: parseTime(it.UpdatedAt),
		Usage: tenancy.Window{
			Day: it.WDay, Hour: it.HKey, HourQueries: it.HQueries, Queries: it.Queries, FailedCalls: it.Failed,
			Spent: tenancy.Money(it.Spent), Overage: tenancy.Money(it.Overage), Reserved: tenancy.Money(it.Reserved), BudgetLeft: tenancy.Money(it.Budget),
			Tokens:  tenancy.Tokens{Input: it.In, Output: it.Out, CacheRead: it.CR, CacheWrite: it.CW},
			ByModel: byModel(item), Month: it.MKey, MonthSpent: tenancy.Money(it.MSpent),
			MonthReserved: tenancy.Money(it.MReserved), MonthBudget: tenancy.Money(it.MBudget),
			DayAlertPct: it.ADPct, MonthAlertPct: it.AMPct,
		},
	}
	if it.MCapped {
		m := tenancy.Money(it.MaxCostMonth)
		t.MaxCostPerMonth = &m
	}
	if t.Timezone == "" { // an item written before timezones
		t.Timezone = tenancy.DefaultTimezone
	}
	if t.SessionTTLDays == 0 { // stored before sessions existed
		t.SessionTTLDays = tenancy.DefaultSessionTTLDays
	}
	t.Usage.PriceVersion, _ = priceVersions(item)
	return t, it, nil
}

// nilIfEmpty drops an empty list, so it is omitted rather than stored.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// anyName is the allow-set entry that means unrestricted.
const anyName = "*"

// allowSet is an allowed-names list stored as a map name -> true.
type allowSet map[string]bool

func toAllowSet(names []string) allowSet {
	if len(names) == 0 {
		return allowSet{anyName: true}
	}
	s := make(allowSet, len(names))
	for _, n := range names {
		s[n] = true
	}
	return s
}

func (s allowSet) list() []string {
	out := []string{}
	if s[anyName] {
		return out
	}
	for n, ok := range s {
		if ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// windowDelta is the live window as a delta to archive into history.
func windowDelta(it tenantItem, item map[string]types.AttributeValue, keepReserved bool) delta {
	c := it.counters
	if keepReserved {
		c.Reserved = 0
	}
	_, prices := priceVersions(item)
	return delta{c: c, byModel: byModel(item), prices: prices}
}

func (d delta) empty() bool {
	c := d.c
	return c.Queries == 0 && c.Failed == 0 && c.Spent == 0 && c.Reserved == 0 && c.Overage == 0 && c.In == 0 && c.Out == 0 &&
		c.CR == 0 && c.CW == 0 && len(d.byModel) == 0
}

// agentItem is an agent's item.
type agentItem struct {
	PK              string   `dynamodbav:"pk"`
	SK              string   `dynamodbav:"sk"`
	Type            string   `dynamodbav:"type"`
	TenantID        string   `dynamodbav:"tenant_id"`
	AgentID         string   `dynamodbav:"agent_id"`
	Name            string   `dynamodbav:"name"`
	SystemPrompt    string   `dynamodbav:"system_prompt"`
	LLMModel        string   `dynamodbav:"llm_model"`
	Tools           []string `dynamodbav:"tools,omitempty"`
	MaxOutputTokens int      `dynamodbav:"max_output_tokens"`
	MaxHistoryTurns *int     `dynamodbav:"max_history_turns"` // nil: stored before sessions existed
	CreatedAt       string   `dynamodbav:"created_at"`
}

func encodeAgent(a tenancy.Agent) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(agentItem{
		PK: tenantPK(a.TenantID), SK: agentSK(a.AgentID), Type: "agent", TenantID: a.TenantID, AgentID: a.AgentID,
		Name: a.Name, SystemPrompt: a.SystemPrompt, LLMModel: a.LLMModel, Tools: nilIfEmpty(a.Tools),
		MaxOutputTokens: a.MaxOutputTokens, MaxHistoryTurns: &a.MaxHistoryTurns, CreatedAt: nowString(a.CreatedAt),
	})
}

func decodeAgent(item map[string]types.AttributeValue) (tenancy.Agent, error) {
	var it agentItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return tenancy.Agent{}, tenancy.Unavailable(err)
	}
	turns := tenancy.DefaultMaxHistoryTurns
	if it.MaxHistoryTurns != nil {
		turns = *it.MaxHistoryTurns
	}
	return tenancy.Agent{
		AgentConfig: tenancy.AgentConfig{AgentID: it.AgentID, Name: it.Name, SystemPrompt: it.SystemPrompt,
			LLMModel: it.LLMModel, Tools: nonNil(it.Tools), MaxOutputTokens: it.MaxOutputTokens, MaxHistoryTurns: turns},
		TenantID: it.TenantID, CreatedAt: parseTime(it.CreatedAt),
	}, nil
}

// callItem is an admitted, unsettled call. Rec* hold a settlement that
// could not be applied (RecSet), for reconcile.
type callItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	Type       string `dynamodbav:"type"`
	CallID     string `dynamodbav:"call_id"`
	TenantID   string `dynamodbav:"tenant_id"`
	AgentID    string `dynamodbav:"agent_id"`
	Model      string `dynamodbav:"model"`
	Reserve    int64  `dynamodbav:"reserve"`
	Day        string `dynamodbav:"day"`
	AdmittedAt string `dynamodbav:"admitted_at"`
	RecSet     bool   `dynamodbav:"rec_set"`
	RecFailed  bool   `dynamodbav:"rec_failed"`
	RecIn      int64  `dynamodbav:"rec_in"`
	RecOut     int64  `dynamodbav:"rec_out"`
	RecCR      int64  `dynamodbav:"rec_cr"`
	RecCW      int64  `dynamodbav:"rec_cw"`
	RecCost    int64  `dynamodbav:"rec_cost"`
	RecPrice   string `dynamodbav:"rec_price"`
}

func decodeCall(item map[string]types.AttributeValue) (tenancy.OpenCall, error) {
	var it callItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return tenancy.OpenCall{}, tenancy.Unavailable(err)
	}
	c := tenancy.OpenCall{Ticket: tenancy.Ticket{CallID: it.CallID, TenantID: it.TenantID, AgentID: it.AgentID,
		Model: it.Model, Reserve: tenancy.Money(it.Reserve), Day: it.Day, AdmittedAt: parseTime(it.AdmittedAt)}}
	if it.RecSet {
		c.Recorded = &tenancy.Settlement{Failed: it.RecFailed, Cost: tenancy.Money(it.RecCost), PriceVersion: it.RecPrice,
			Tokens: tenancy.Tokens{Input: it.RecIn, Output: it.RecOut, CacheRead: it.RecCR, CacheWrite: it.RecCW}}
	}
	return c, nil
}

// historyItem is one archived day.
type historyItem struct {
	Date string `dynamodbav:"date"`
	counters
}

func decodeDay(item map[string]types.AttributeValue) (tenancy.DayUsage, error) {
	var it historyItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return tenancy.DayUsage{}, tenancy.Unavailable(err)
	}
	d := tenancy.DayUsage{Date: it.Date, Queries: it.Queries, Cost: tenancy.Money(it.Spent),
		Tokens: tenancy.Tokens{Input: it.In, Output: it.Out, CacheRead: it.CR, CacheWrite: it.CW}, FailedCalls: it.Failed,
		Overage: tenancy.Money(it.Overage), Unsettled: tenancy.Money(it.Reserved), ByModel: byModel(item)}
	d.PriceVersions, _ = priceVersions(item)
	return d, nil
}

// decodeAgentDay reads an agent-day item (AGENTDAY#<day>#<agent>): its
// counters are the per-model field names ("q", "in", ..., "cost").
func decodeAgentDay(item map[string]types.AttributeValue) (tenancy.AgentDay, bool) {
	sk, _ := item[schema.SortKey].(*types.AttributeValueMemberS)
	if sk == nil || !strings.HasPrefix(sk.Value, agentDayPrefix) {
		return tenancy.AgentDay{}, false
	}
	date, agent, ok := strings.Cut(sk.Value[len(agentDayPrefix):], "#")
	if !ok || agent == "" {
		return tenancy.AgentDay{}, false
	}
	ad := tenancy.AgentDay{Date: date, AgentID: agent}
	for _, f := range modelFields {
		if n, ok := item[f].(*types.AttributeValueMemberN); ok {
			x, _ := strconv.ParseInt(n.Value, 10, 64)
			setModelField(&ad.Usage, f, x)
		}
	}
	return ad, true
}

// alertItem is one alert, listed under its tenant in time order.
type alertItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Type      string `dynamodbav:"type"`
	TenantID  string `dynamodbav:"tenant_id"`
	Period    string `dynamodbav:"period"`
	Threshold int    `dynamodbav:"threshold_pct"`
	Spent     int64  `dynamodbav:"spent"`
	Cap       int64  `dynamodbav:"cap"`
	At        string `dynamodbav:"at"`
}

func encodeAlert(a tenancy.Alert, periodKey string) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(alertItem{PK: tenantPK(a.TenantID), SK: alertSK(a, periodKey), Type: "alert",
		TenantID: a.TenantID, Period: a.Period, Threshold: a.ThresholdPct, Spent: int64(a.Spent), Cap: int64(a.Cap),
		At: nowString(a.At)})
}

func decodeAlert(item map[string]types.AttributeValue) (tenancy.Alert, error) {
	var it alertItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return tenancy.Alert{}, tenancy.Unavailable(err)
	}
	return tenancy.Alert{TenantID: it.TenantID, Period: it.Period, ThresholdPct: it.Threshold,
		Spent: tenancy.Money(it.Spent), Cap: tenancy.Money(it.Cap), At: parseTime(it.At)}, nil
}
