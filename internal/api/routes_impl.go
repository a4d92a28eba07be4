package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/console"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// implementations maps every route key to its handler.
func (h *Handler) implementations() map[string]handlerFunc {
	return map[string]handlerFunc{
		"POST /tenants":                                                       h.registerTenant,
		"GET /tenants":                                                        h.listTenants,
		"GET /tenants/{tenant_id}":                                            h.getTenant,
		"PATCH /tenants/{tenant_id}":                                          h.updateTenant,
		"POST /tenants/{tenant_id}/deactivate":                                h.setActive(false),
		"POST /tenants/{tenant_id}/activate":                                  h.setActive(true),
		"POST /tenants/{tenant_id}/reset":                                     h.resetTenant,
		"POST /tenants/{tenant_id}/keys":                                      h.createKey,
		"DELETE /tenants/{tenant_id}/keys/{key_id}":                           h.revokeKey,
		"POST /tenants/{tenant_id}/agents":                                    h.createAgent,
		"GET /tenants/{tenant_id}/agents":                                     h.listAgents,
		"GET /tenants/{tenant_id}/agents/{agent_id}":                          h.getAgent,
		"DELETE /tenants/{tenant_id}/agents/{agent_id}":                       h.deleteAgent,
		"POST /tenants/{tenant_id}/agents/{agent_id}/execute":                 h.idempotent(h.execute),
		"POST /tenants/{tenant_id}/chat":                                      h.idempotent(h.chat),
		"GET /tenants/{tenant_id}/usage":                                      h.usage,
		"GET /tenants/{tenant_id}/usage/history":                              h.history,
		"GET /tenants/{tenant_id}/alerts":                                     h.alerts,
		"GET /openapi.json":                                                   h.openAPI,
		"GET /me":                                                             h.me,
		"GET /console":                                                        consoleFile("/console"),
		"GET /console/app.js":                                                 consoleFile("/console/app.js"),
		"GET /console/app.css":                                                consoleFile("/console/app.css"),
		"GET /tenants/{tenant_id}/agents/{agent_id}/sessions":                 h.listSessions,
		"GET /tenants/{tenant_id}/agents/{agent_id}/sessions/{session_id}":    h.getSession,
		"DELETE /tenants/{tenant_id}/agents/{agent_id}/sessions/{session_id}": h.deleteSession,
		"POST /v1/chat/completions":                                           h.viaHTTP,
		"GET /v1/models":                                                      h.viaHTTP,
	}
}

// TenantView is a tenant as the API shows it.
type TenantView struct {
	tenancy.TenantConfig
	IsActive   bool      `json:"is_active"`
	AgentCount int       `json:"agent_count"`
	AgentIDs   []string  `json:"agent_ids,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// TimezoneEffectiveAt is when a changed timezone takes effect (the next
	// local midnight of the previous zone), while that is pending.
	TimezoneEffectiveAt *time.Time `json:"timezone_effective_at,omitempty"`
}

func (h *Handler) tenantView(t tenancy.Tenant) TenantView {
	v := TenantView{TenantConfig: t.TenantConfig, IsActive: t.IsActive, AgentCount: t.AgentCount,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if t.PrevTimezone != "" && h.deps.Service.Now().Before(t.TimezoneFrom) {
		from := t.TimezoneFrom.UTC()
		v.TimezoneEffectiveAt = &from
	}
	return v
}

// AgentView is an agent as the API shows it: agent_id is the namespaced id.
type AgentView struct {
	AgentID         string    `json:"agent_id"`
	ShortID         string    `json:"short_id"`
	TenantID        string    `json:"tenant_id"`
	Name            string    `json:"name"`
	SystemPrompt    string    `json:"system_prompt"`
	LLMModel        string    `json:"llm_model"`
	Tools           []string  `json:"tools"`
	MaxOutputTokens int       `json:"max_output_tokens"`
	MaxHistoryTurns int       `json:"max_history_turns"`
	CreatedAt       time.Time `json:"created_at"`
}

func agentView(a tenancy.Agent) AgentView {
	return AgentView{AgentID: a.NamespacedID(), ShortID: a.AgentID, TenantID: a.TenantID, Name: a.Name,
		SystemPrompt: a.SystemPrompt, LLMModel: a.LLMModel, Tools: a.Tools, MaxOutputTokens: a.MaxOutputTokens,
		MaxHistoryTurns: a.MaxHistoryTurns, CreatedAt: a.CreatedAt}
}

type registerBody struct {
	TenantID string `json:"tenant_id" openapi:"required"`
	tenancy.TenantPatch
}

func (h *Handler) registerTenant(ctx context.Context, r *request) (int, any, error) {
	var b registerBody
	if err := r.decode(&b, false); err != nil {
		return 0, nil, err
	}
	if b.TenantID == "" {
		return 0, nil, tenancy.Validationf("tenant_id is required")
	}
	cfg := tenancy.NewTenantConfig(b.TenantID)
	b.TenantPatch.Apply(&cfg)
	t, err := h.deps.Service.RegisterTenant(ctx, cfg)
	if err != nil {
		return 0, nil, err
	}
	v := h.tenantView(t)
	v.AgentIDs = []string{}
	return http.StatusCreated, v, nil
}

// TenantList is a page of tenants.
type TenantList struct {
	Tenants   []TenantView `json:"tenants"`
	NextToken *string      `json:"next_token"`
}

// limit reads the limit query parameter (0 when absent; an explicit 0 is
// out of range).
func (r *request) limit() (int, error) {
	s := r.query("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, tenancy.Validationf("limit must be between 1 and 100")
	}
	if n == 0 {
		n = -1
	}
	return n, nil
}

func (h *Handler) listTenants(ctx context.Context, r *request) (int, any, error) {
	limit, err := r.limit()
	if err != nil {
		return 0, nil, err
	}
	page, next, err := h.deps.Service.ListTenants(ctx, limit, r.query("next_token"))
	if err != nil {
		return 0, nil, err
	}
	out := TenantList{Tenants: make([]TenantView, 0, len(page))}
	for _, t := range page {
		out.Tenants = append(out.Tenants, h.tenantView(t))
	}
	if next != "" {
		out.NextToken = &next
	}
	return http.StatusOK, out, nil
}

func (h *Handler) getTenant(ctx context.Context, r *request) (int, any, error) {
	t, agents, err := h.deps.Service.DescribeTenant(ctx, r.param("tenant_id"))
	if err != nil {
		return 0, nil, err
	}
	v := h.tenantView(t)
	if r.principal.Role != auth.RoleAdmin { // admin-only fields
		v.OpenClawGatewayURL, v.OpenClawTokenSecret = "", ""
	}
	v.AgentIDs = make([]string, 0, len(agents))
	for _, a := range agents {
		v.AgentIDs = append(v.AgentIDs, a.NamespacedID())
	}
	return http.StatusOK, v, nil
}

func (h *Handler) updateTenant(ctx context.Context, r *request) (int, any, error) {
	var p tenancy.TenantPatch
	if err := r.decode(&p, false); err != nil {
		return 0, nil, err
	}
	t, err := h.deps.Service.UpdateTenant(ctx, r.param("tenant_id"), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, h.tenantView(t), nil
}

func (h *Handler) setActive(active bool) handlerFunc {
	return func(ctx context.Context, r *request) (int, any, error) {
		if err := r.decode(&struct{}{}, true); err != nil {
			return 0, nil, err
		}
		var t tenancy.Tenant
		var err error
		if active {
			t, err = h.deps.Service.ActivateTenant(ctx, r.param("tenant_id"))
		} else {
			t, err = h.deps.Service.DeactivateTenant(ctx, r.param("tenant_id"))
		}
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, h.tenantView(t), nil
	}
}

func (h *Handler) resetTenant(ctx context.Context, r *request) (int, any, error) {
	if err := r.decode(&struct{}{}, true); err != nil {
		return 0, nil, err
	}
	rep, err := h.deps.Service.ResetDailyUsage(ctx, r.param("tenant_id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rep, nil
}

// KeyView is a newly created key: the only time the key itself is shown.
type KeyView struct {
	KeyID     string    `json:"key_id"`
	Key       string    `json:"key"`
	TenantID  string    `json:"tenant_id"`
	CreatedAt time.Time `json:"created_at"`
}

func (h *Handler) createKey(ctx context.Context, r *request) (int, any, error) {
	if err := r.decode(&struct{}{}, true); err != nil {
		return 0, nil, err
	}
	key, k, err := h.deps.Keys.Create(ctx, r.param("tenant_id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, KeyView{KeyID: k.KeyID, Key: key, TenantID: k.TenantID, CreatedAt: k.CreatedAt}, nil
}

func (h *Handler) revokeKey(ctx context.Context, r *request) (int, any, error) {
	if err := h.deps.Keys.Revoke(ctx, r.param("tenant_id"), r.param("key_id")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

type agentBody struct {
	AgentID         string    `json:"agent_id" openapi:"required"`
	Name            *string   `json:"name"`
	SystemPrompt    *string   `json:"system_prompt"`
	LLMModel        *string   `json:"llm_model"`
	Tools           *[]string `json:"tools"`
	MaxOutputTokens *int      `json:"max_output_tokens"`
	MaxHistoryTurns *int      `json:"max_history_turns"`
}

func (h *Handler) createAgent(ctx context.Context, r *request) (int, any, error) {
	var b agentBody
	if err := r.decode(&b, false); err != nil {
		return 0, nil, err
	}
	if b.AgentID == "" {
		return 0, nil, tenancy.Validationf("agent_id is required")
	}
	cfg := tenancy.NewAgentConfig(b.AgentID)
	if b.Name != nil {
		cfg.Name = *b.Name
	}
	if b.SystemPrompt != nil {
		cfg.SystemPrompt = *b.SystemPrompt
	}
	if b.LLMModel != nil {
		cfg.LLMModel = *b.LLMModel
	}
	if b.Tools != nil {
		cfg.Tools = *b.Tools
	}
	if b.MaxOutputTokens != nil {
		cfg.MaxOutputTokens = *b.MaxOutputTokens
	}
	if b.MaxHistoryTurns != nil {
		cfg.MaxHistoryTurns = *b.MaxHistoryTurns
	}
	a, err := h.deps.Service.CreateAgent(ctx, r.param("tenant_id"), cfg)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, agentView(a), nil
}

// AgentList is a tenant's agents.
type AgentList struct {
	Agents []AgentView `json:"agents"`
}

func (h *Handler) listAgents(ctx context.Context, r *request) (int, any, error) {
	agents, err := h.deps.Service.ListAgents(ctx, r.param("tenant_id"))
	if err != nil {
		return 0, nil, err
	}
	out := AgentList{Agents: make([]AgentView, 0, len(agents))}
	for _, a := range agents {
		out.Agents = append(out.Agents, agentView(a))
	}
	return http.StatusOK, out, nil
}

func (h *Handler) getAgent(ctx context.Context, r *request) (int, any, error) {
	a, err := h.deps.Service.GetAgent(ctx, r.param("tenant_id"), r.param("agent_id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, agentView(a), nil
}

func (h *Handler) deleteAgent(ctx context.Context, r *request) (int, any, error) {
	if err := h.deps.Service.DeleteAgent(ctx, r.param("tenant_id"), r.param("agent_id")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

type executeBody struct {
	Query     *string `json:"query" openapi:"required"`
	SessionID *string `json:"session_id"`
	Stream    *bool   `json:"stream"`
}

func (b executeBody) input() (tenancy.Input, error) {
	if b.Query == nil {
		return tenancy.Input{}, tenancy.Validationf("query is required")
	}
	in := tenancy.Input{Query: *b.Query}
	if b.SessionID != nil {
		if err := tenancy.CheckSessionID(*b.SessionID); err != nil {
			return tenancy.Input{}, err
		}
		in.SessionID = *b.SessionID
	}
	return in, nil
}

func (h *Handler) execute(ctx context.Context, r *request) (int, any, error) {
	var b executeBody
	if err := r.decode(&b, false); err != nil {
		return 0, nil, err
	}
	in, err := b.input()
	if err != nil {
		return 0, nil, err
	}
	if (b.Stream != nil && *b.Stream) || strings.Contains(r.header("Accept"), "text/event-stream") {
		// API Gateway cannot stream: the events come back as one body.
		return h.viaHTTP(ctx, r)
	}
	res, err := h.deps.Service.ExecuteInput(ctx, r.param("tenant_id"), r.param("agent_id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, res, nil
}

// SessionList is a page of an agent's sessions.
type SessionList struct {
	Sessions  []SessionItem `json:"sessions"`
	NextToken *string       `json:"next_token"`
}

// SessionItem is one session of a listing: its id (id, and session_id as
// before), turns (the turns kept, at most the agent's max_history_turns),
// total_turns (every turn ever appended), last_at, cost_usd, expires_at.
type SessionItem struct {
	ID string `json:"id"`
	tenancy.SessionSummary
}

// SessionView is a session's transcript.
type SessionView struct {
	SessionID  string         `json:"session_id"`
	AgentID    string         `json:"agent_id"` // namespaced
	TenantID   string         `json:"tenant_id"`
	Turns      []tenancy.Turn `json:"turns"`
	TotalTurns int64          `json:"total_turns"`
	Cost       tenancy.Money  `json:"cost_usd"`
	CreatedAt  time.Time      `json:"created_at"`
	LastAt     time.Time      `json:"last_at"`
	ExpiresAt  time.Time      `json:"expires_at"`
}

func (h *Handler) listSessions(ctx context.Context, r *request) (int, any, error) {
	limit, err := r.limit()
	if err != nil {
		return 0, nil, err
	}
	page, next, err := h.deps.Service.ListSessions(ctx, r.param("tenant_id"), r.param("agent_id"), limit, r.query("next_token"))
	if err != nil {
		return 0, nil, err
	}
	out := SessionList{Sessions: make([]SessionItem, 0, len(page))}
	for _, ss := range page {
		out.Sessions = append(out.Sessions, SessionItem{ID: ss.SessionID, SessionSummary: ss})
	}
	if next != "" {
		out.NextToken = &next
	}
	return http.StatusOK, out, nil
}

func (r *request) sessionKey() tenancy.SessionKey {
	return tenancy.SessionKey{TenantID: r.param("tenant_id"), AgentID: r.param("agent_id"), SessionID: r.param("session_id")}
}

func (h *Handler) getSession(ctx context.Context, r *request) (int, any, error) {
	s, err := h.deps.Service.GetSession(ctx, r.sessionKey())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, SessionView{SessionID: s.SessionID, AgentID: tenancy.NamespacedAgentID(s.TenantID, s.AgentID),
		TenantID: s.TenantID, Turns: s.Turns, TotalTurns: s.TotalTurns, Cost: s.Cost, CreatedAt: s.CreatedAt,
		LastAt: s.LastAt, ExpiresAt: s.ExpiresAt}, nil
}

func (h *Handler) deleteSession(ctx context.Context, r *request) (int, any, error) {
	if err := h.deps.Service.DeleteSession(ctx, r.sessionKey()); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

type chatBody struct {
	Query   *string `json:"query"`
	AgentID *string `json:"agent_id"`
}

// ChatResponse is the seed's chat answer.
type ChatResponse struct {
	Response string `json:"response"`
}

// chat is the seed's SaaS route: query and agent_id (default "support") come
// from the query string or a JSON body (the body wins).
func (h *Handler) chat(ctx context.Context, r *request) (int, any, error) {
	var b chatBody
	if err := r.decode(&b, true); err != nil {
		return 0, nil, err
	}
	query, agentID := r.query("query"), r.query("agent_id")
	if b.Query != nil {
		query = *b.Query
	}
	if b.AgentID != nil {
		agentID = *b.AgentID
	}
	if agentID == "" {
		agentID = "support"
	}
	if query == "" {
		return 0, nil, tenancy.Validationf("query is required")
	}
	res, err := h.deps.Service.Execute(ctx, r.param("tenant_id"), agentID, query)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ChatResponse{Response: res.Content}, nil
}

func (h *Handler) usage(ctx context.Context, r *request) (int, any, error) {
	rep, err := h.deps.Service.UsageReport(ctx, r.param("tenant_id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rep, nil
}

// History is the usage history as JSON: the days, and with group=month
// their sums by local month.
type History struct {
	Days   []tenancy.DayUsage    `json:"days"`
	Months *[]tenancy.MonthUsage `json:"months,omitempty"`
}

// HistoryColumns are the CSV export's columns, the JSON entries' keys
// (with group=month the first column is "month").
// overage_usd and then by_agent came last, after the first release's
// columns, which keep their positions.
var HistoryColumns = []string{"date", "queries", "cost_usd", "input_tokens", "output_tokens",
	"cache_read_tokens", "cache_write_tokens", "failed_calls", "unsettled_reserved_usd", "price_versions", "by_model", "overage_usd",
	"by_agent"}

func (h *Handler) history(ctx context.Context, r *request) (int, any, error) {
	format, group := r.query("format"), r.query("group")
	if format != "" && format != "json" && format != "csv" {
		return 0, nil, tenancy.Validationf("format must be json or csv")
	}
	if group != "" && group != "day" && group != "month" {
		return 0, nil, tenancy.Validationf("group must be day or month")
	}
	var days []tenancy.DayUsage
	var err error
	if group == "month" {
		days, err = h.deps.Service.MonthlyHistoryDays(ctx, r.param("tenant_id"), r.query("from"), r.query("to"))
	} else {
		days, err = h.deps.Service.History(ctx, r.param("tenant_id"), r.query("from"), r.query("to"))
	}
	if err != nil {
		return 0, nil, err
	}
	out := History{Days: days}
	var rows []tenancy.MonthUsage // days as rows of one date each, or months
	if group == "month" {
		months := tenancy.SumMonths(days)
		rows, out.Months = months, &months
	} else {
		for _, d := range days {
			rows = append(rows, tenancy.MonthUsage{Month: d.Date, Queries: d.Queries, Cost: d.Cost, Tokens: d.Tokens,
				FailedCalls: d.FailedCalls, Overage: d.Overage, Unsettled: d.Unsettled, ByModel: d.ByModel, PriceVersions: d.PriceVersions,
				ByAgent: d.ByAgent})
		}
	}
	if format != "csv" {
		return http.StatusOK, out, nil
	}
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	cols := HistoryColumns
	if group == "month" {
		cols = append([]string{"month"}, cols[1:]...)
	}
	_ = w.Write(cols)
	for _, d := range rows {
		byModel, _ := json.Marshal(d.ByModel)
		byAgent := []byte("{}")
		if len(d.ByAgent) > 0 {
			byAgent, _ = json.Marshal(d.ByAgent)
		}
		_ = w.Write([]string{d.Month, strconv.FormatInt(d.Queries, 10), d.Cost.Decimal(),
			strconv.FormatInt(d.Input, 10), strconv.FormatInt(d.Output, 10),
			strconv.FormatInt(d.CacheRead, 10), strconv.FormatInt(d.CacheWrite, 10),
			strconv.FormatInt(d.FailedCalls, 10), d.Unsettled.Decimal(), strings.Join(d.PriceVersions, " "), string(byModel),
			d.Overage.Decimal(), string(byAgent)})
	}
	w.Flush()
	return http.StatusOK, rawBody{contentType: "text/csv; charset=utf-8", body: sb.String()}, nil
}

// Me is who a key belongs to: the admin, or a tenant (the console's sign-in
// uses it to open a tenant key's own tenant).
type Me struct {
	Role     auth.Role `json:"role"`
	TenantID string    `json:"tenant_id,omitempty"`
	KeyID    string    `json:"key_id,omitempty"`
}

func (h *Handler) me(_ context.Context, r *request) (int, any, error) {
	p := r.principal
	return http.StatusOK, Me{Role: p.Role, TenantID: p.TenantID, KeyID: p.KeyID}, nil
}

// consoleFile serves one of the console's embedded files with its security
// headers.
func consoleFile(path string) handlerFunc {
	a, ok := console.Assets[path]
	if !ok {
		panic("api: no console file for " + path)
	}
	return func(context.Context, *request) (int, any, error) {
		return http.StatusOK, rawBody{contentType: a.ContentType, body: a.Body, headers: console.Headers(a.ContentType)}, nil
	}
}

// AlertList is a tenant's budget alerts, newest first (at most 100).
type AlertList struct {
	Alerts []tenancy.Alert `json:"alerts"`
}

func (h *Handler) alerts(ctx context.Context, r *request) (int, any, error) {
	list, err := h.deps.Service.Alerts(ctx, r.param("tenant_id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, AlertList{Alerts: list}, nil
}
