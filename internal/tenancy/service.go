package tenancy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/provider"
)

// ModelRouter finds the provider that serves a model, and the provider's id
// for it.
type ModelRouter interface {
	Route(model string) (p provider.Provider, providerModelID string, err error)
}

// DevRouter serves every catalog model with the offline development provider.
type DevRouter struct{}

// Route implements ModelRouter.
func (DevRouter) Route(model string) (provider.Provider, string, error) {
	return provider.Dev{}, model, nil
}

// Options wire a Service. Store, Clock and Catalog are required.
type Options struct {
	Store   Store
	Clock   clock.Clock
	Catalog *catalog.Catalog
	Models  ModelRouter  // default DevRouter
	Logger  *slog.Logger // default slog.Default()
	NewID   func() string
	// StaleCallAfter: an unsettled call admitted longer ago than this is
	// abandoned (its process died) and released by Reconcile. Default 15
	// minutes, the longest a Lambda invocation can run.
	StaleCallAfter time.Duration
	// SettleTimeout bounds settling after the model answered; it runs even
	// if the client went away. Default 10s.
	SettleTimeout time.Duration
	// Alerts delivers budget alerts (nil: they are only recorded).
	Alerts Notifier
}

// Service is the tenancy platform: the seed's TenantWorkspace.
type Service struct {
	store         Store
	clock         clock.Clock
	catalog       *catalog.Catalog
	models        ModelRouter
	log           *slog.Logger
	newID         func() string
	staleAfter    time.Duration
	settleTimeout time.Duration
	alerts        Notifier
}

// New builds a Service.
func New(o Options) *Service {
	s := &Service{store: o.Store, clock: o.Clock, catalog: o.Catalog, models: o.Models, log: o.Logger,
		newID: o.NewID, staleAfter: o.StaleCallAfter, settleTimeout: o.SettleTimeout, alerts: o.Alerts}
	if s.models == nil {
		s.models = DevRouter{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.newID == nil {
		s.newID = RandomID
	}
	if s.staleAfter == 0 {
		s.staleAfter = 15 * time.Minute
	}
	if s.settleTimeout == 0 {
		s.settleTimeout = 10 * time.Second
	}
	return s
}

// RandomID is a 128-bit random hex id.
func RandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Catalog is the model catalog the service prices with.
func (s *Service) Catalog() *catalog.Catalog { return s.catalog }

// Now is the service clock's time.
func (s *Service) Now() time.Time { return s.clock.Now() }

// RegisterTenant stores a new, active tenant with a fresh daily window.
func (s *Service) RegisterTenant(ctx context.Context, cfg TenantConfig) (Tenant, error) {
	if cfg.SessionTTLDays == 0 {
		cfg.SessionTTLDays = DefaultSessionTTLDays
	}
	if err := cfg.Validate(); err != nil {
		return Tenant{}, err
	}
	now := s.clock.Now()
	day := Calendar{Zone: cfg.Timezone}.Day(now)
	t := Tenant{TenantConfig: cfg, IsActive: true, CreatedAt: now, UpdatedAt: now,
		Usage: Window{Day: day, Hour: HourKey(now), BudgetLeft: cfg.MaxCostPerDay,
			Month: MonthKey(day), MonthBudget: cfg.MonthCap()}}
	if err := s.store.CreateTenant(ctx, t); err != nil {
		return Tenant{}, err
	}
	return t, nil
}

// GetTenant returns a tenant.
func (s *Service) GetTenant(ctx context.Context, tenantID string) (Tenant, error) {
	if err := CheckTenantID(tenantID); err != nil {
		return Tenant{}, err
	}
	return s.store.GetTenant(ctx, tenantID)
}

// ListTenants pages through tenants (at most 100 per page, default 50).
func (s *Service) ListTenants(ctx context.Context, limit int, pageToken string) ([]Tenant, string, error) {
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 1 || limit > MaxPageSize:
		return nil, "", Validationf("limit must be between 1 and %d", MaxPageSize)
	}
	return s.store.ListTenants(ctx, limit, pageToken)
}

// UpdateTenant applies a partial config. Raising max_cost_usd_per_day frees
// budget at once; lowering it below today's spend blocks further executes.
func (s *Service) UpdateTenant(ctx context.Context, tenantID string, p TenantPatch) (Tenant, error) {
	if err := CheckTenantID(tenantID); err != nil {
		return Tenant{}, err
	}
	return s.store.UpdateTenant(ctx, tenantID, s.clock.Now(), func(c *TenantConfig) error {
		p.Apply(c)
		return c.Validate()
	})
}

// ActivateTenant re-activates a tenant.
func (s *Service) ActivateTenant(ctx context.Context, tenantID string) (Tenant, error) {
	return s.setActive(ctx, tenantID, true)
}

// DeactivateTenant blocks new executions of a tenant.
func (s *Service) DeactivateTenant(ctx context.Context, tenantID string) (Tenant, error) {
	return s.setActive(ctx, tenantID, false)
}

func (s *Service) setActive(ctx context.Context, tenantID string, active bool) (Tenant, error) {
	if err := CheckTenantID(tenantID); err != nil {
		return Tenant{}, err
	}
	return s.store.SetActive(ctx, tenantID, active, s.clock.Now())
}

// CreateAgent creates a tenant-scoped agent. The model must be in the catalog
// and, with the tools, allowed by the tenant; the agent limit holds under any
// concurrency.
func (s *Service) CreateAgent(ctx context.Context, tenantID string, cfg AgentConfig) (Agent, error) {
	if err := CheckTenantID(tenantID); err != nil {
		return Agent{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Agent{}, err
	}
	if _, ok := s.catalog.Lookup(cfg.LLMModel); !ok {
		return Agent{}, UnknownModel(cfg.LLMModel)
	}
	cfg.Tools = dedupe(cfg.Tools)
	a := Agent{AgentConfig: cfg, TenantID: tenantID, CreatedAt: s.clock.Now()}
	if err := s.store.CreateAgent(ctx, a); err != nil {
		return Agent{}, err
	}
	return a, nil
}

// GetAgent returns an agent by its short id.
func (s *Service) GetAgent(ctx context.Context, tenantID, agentID string) (Agent, error) {
	if err := s.checkIDs(tenantID, agentID); err != nil {
		return Agent{}, err
	}
	a, err := s.store.GetAgent(ctx, tenantID, agentID)
	if errors.Is(err, ErrAgentNotFound) {
		// Say which is missing: the tenant or only its agent.
		if _, terr := s.store.GetTenant(ctx, tenantID); terr != nil {
			return Agent{}, terr
		}
	}
	return a, err
}

// DescribeTenant returns a tenant with its agents (two reads).
func (s *Service) DescribeTenant(ctx context.Context, tenantID string) (Tenant, []Agent, error) {
	t, err := s.GetTenant(ctx, tenantID)
	if err != nil {
		return Tenant{}, nil, err
	}
	agents, err := s.store.ListAgents(ctx, tenantID)
	return t, agents, err
}

// ListAgents lists a tenant's agents.
func (s *Service) ListAgents(ctx context.Context, tenantID string) ([]Agent, error) {
	if err := CheckTenantID(tenantID); err != nil {
		return nil, err
	}
	if _, err := s.store.GetTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	return s.store.ListAgents(ctx, tenantID)
}

// DeleteAgent deletes an agent and frees its slot.
func (s *Service) DeleteAgent(ctx context.Context, tenantID, agentID string) error {
	if err := s.checkIDs(tenantID, agentID); err != nil {
		return err
	}
	return s.store.DeleteAgent(ctx, tenantID, agentID)
}

func (s *Service) checkIDs(tenantID, agentID string) error {
	if err := CheckTenantID(tenantID); err != nil {
		return err
	}
	return CheckAgentID(agentID)
}

// Result is one answered execute.
type Result struct {
	Content  string         `json:"content"`
	AgentID  string         `json:"agent_id"` // namespaced
	Model    string         `json:"model"`
	Provider string         `json:"provider"`
	Usage    provider.Usage `json:"usage"`
	Cost     Money          `json:"cost_usd"`
	// Overage is the part of Cost above the call's reservation (charged in
	// full, and counted in the day's overage_usd).
	Overage   Money  `json:"overage_usd"`
	CallID    string `json:"call_id"`
	SessionID string `json:"session_id,omitempty"`
}

// Input is one execute's request beyond the agent.
type Input struct {
	Query string
	// SessionID selects a platform session: its turns are sent before the
	// query and the answered turn is appended ("" for none).
	SessionID string
	// System is added after the agent's system prompt ("" for none).
	System string
	// Messages is a conversation the client sends itself (the
	// OpenAI-compatible endpoint without a session), before Query.
	Messages []provider.Message
	// MaxTokens may lower the agent's max_output_tokens (0: the agent's).
	MaxTokens int
	// OnAdmit, if set, is called with the call id once the call is
	// admitted, before the model is called.
	OnAdmit func(callID string)
	// OnDelta, if set, streams the answer: it is called with each piece as
	// the model writes it (natively with providers that stream). An error
	// from it (the client went away) cancels the model call, which is then
	// settled with the usage reported so far or an upper bound from what
	// was streamed, never above the reservation.
	OnDelta func(string) error
}

// Execute runs a tenant's agent on a query, with quota enforcement.
func (s *Service) Execute(ctx context.Context, tenantID, agentID, query string) (Result, error) {
	return s.ExecuteInput(ctx, tenantID, agentID, Input{Query: query})
}

// ExecuteInput runs a tenant's agent on an input, with quota enforcement.
func (s *Service) ExecuteInput(ctx context.Context, tenantID, agentID string, in Input) (Result, error) {
	a, err := s.GetAgent(ctx, tenantID, agentID)
	if err != nil {
		return Result{}, err
	}
	return s.Run(ctx, a, in)
}

// ExecuteAgent runs an agent whose config the caller already has.
func (s *Service) ExecuteAgent(ctx context.Context, a Agent, query string) (Result, error) {
	return s.Run(ctx, a, Input{Query: query})
}

// Run executes an agent: read the session (if any), admit (reserve the
// worst case of everything sent), call the model, settle the exact cost,
// append the turn to the session.
func (s *Service) Run(ctx context.Context, a Agent, in Input) (Result, error) {
	if in.Query == "" || len(in.Query) > MaxQueryBytes || !validUTF8(in.Query) {
		return Result{}, Validationf("query must be 1 to %d bytes of UTF-8", MaxQueryBytes)
	}
	if in.SessionID != "" {
		if err := CheckSessionID(in.SessionID); err != nil {
			return Result{}, err
		}
	}
	maxTokens := a.MaxOutputTokens
	if in.MaxTokens < 0 {
		return Result{}, Validationf("max_tokens must be positive")
	}
	if in.MaxTokens > 0 && in.MaxTokens < maxTokens {
		maxTokens = in.MaxTokens
	}
	model, ok := s.catalog.Lookup(a.LLMModel)
	if !ok {
		return Result{}, UnknownModel(a.LLMModel)
	}
	p, providerModelID, err := s.models.Route(a.LLMModel)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", provider.ErrUpstream, err)
	}
	keeps := false
	if k, ok := p.(provider.SessionKeeper); ok {
		keeps = k.KeepsSessions()
	}
	var sess Session
	// Without a platform session the client's messages (if any) are the
	// conversation, sent to every provider, a gateway keeping sessions too
	// (it has no memory of a call-id session). Within one, the session's
	// turns are sent, except to a gateway keeping the session: it gets only
	// the new query under the session's key.
	history := in.Messages
	if in.SessionID != "" {
		sess, err = s.store.GetSession(ctx, SessionKey{TenantID: a.TenantID, AgentID: a.AgentID, SessionID: in.SessionID})
		if err != nil {
			return Result{}, err
		}
		if keeps {
			history = nil
		} else if sess.Live(s.clock.Now()) {
			history = make([]provider.Message, 0, 2*len(sess.Turns))
			for _, t := range sess.Turns {
				history = append(history, provider.Message{Role: "user", Content: t.Query},
					provider.Message{Role: "assistant", Content: t.Answer})
			}
		}
	}
	system := a.SystemPrompt
	if in.System != "" {
		system += "\n\n" + in.System
	}
	var histBytes int64
	for _, m := range history {
		histBytes += int64(len(m.Content)) + HistoryMessageOverheadTokens
	}
	req := provider.Request{
		Model: a.LLMModel, ProviderModelID: providerModelID, AgentID: a.NamespacedID(),
		SystemPrompt: system, Query: in.Query, MaxTokens: maxTokens, History: history, SessionID: in.SessionID,
	}
	if ts, ok := p.(provider.TenantScoped); ok && ts.TenantGateways() {
		// The tenant may have its own gateway: one read more, only here.
		t, err := s.store.GetTenant(ctx, a.TenantID)
		if err != nil {
			return Result{}, err
		}
		if t.OpenClawGatewayURL != "" {
			req.Gateway = &provider.Gateway{URL: t.OpenClawGatewayURL, TokenSecret: t.OpenClawTokenSecret}
		}
	}
	reserve := ReserveRun(model, system, in.Query, maxTokens) + Money(model.CallsPerRun())*Money(histBytes*model.Price.MaxInput())
	ticket, err := s.store.Admit(ctx, Admission{
		TenantID: a.TenantID, AgentID: a.AgentID, Model: a.LLMModel, Tools: a.Tools,
		Reserve: reserve, CallID: s.newID(), Now: s.clock.Now(),
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && len(e.Alerts) > 0 {
			s.notify(context.WithoutCancel(ctx), e.Alerts)
		}
		return Result{}, err
	}
	if req.SessionID == "" {
		req.SessionID = ticket.CallID // no conversation: the call is its own session
	}
	called := time.Now()
	if in.OnAdmit != nil {
		in.OnAdmit(ticket.CallID)
	}
	var resp provider.Response
	var callErr error
	streamed := false
	switch sp, ok := p.(provider.Streamer); {
	case in.OnDelta == nil:
		resp, callErr = p.Complete(ctx, req)
	case ok:
		streamed = true
		resp, callErr = sp.Stream(ctx, req, in.OnDelta)
	default: // the whole answer as one piece
		if resp, callErr = p.Complete(ctx, req); callErr == nil && resp.Content != "" {
			streamed = true
			if err := in.OnDelta(resp.Content); err != nil {
				callErr = err
			}
		}
	}
	addProviderTime(ctx, time.Since(called))
	st := Settlement{Failed: callErr != nil, PriceVersion: s.catalog.Version(), At: s.clock.Now()}
	var uerr error
	if callErr == nil || (streamed && (resp.Usage != provider.Usage{} || resp.Reported != nil)) {
		uerr = CheckUsage(resp)
	}
	switch {
	case uerr != nil:
		// A provider reporting impossible usage (answered, or streamed and
		// then interrupted): the call is failed and charged its
		// reservation, the bound promised at admit.
		st = Settlement{Failed: true, Cost: ticket.Reserve, PriceVersion: s.catalog.Version(), At: st.At}
		if callErr == nil {
			msg := fmt.Sprintf("%s: implausible usage reported (%v); the call is charged its reservation", resp.Provider, uerr)
			callErr = &provider.Error{Class: provider.ErrUpstream, Public: msg + ": " + provider.ErrUpstream.Error(),
				Detail: msg + ": " + provider.ErrUpstream.Error()}
		}
	case callErr == nil:
		st.Tokens = tokensOf(resp.Usage)
		st.Cost = Money(model.Price.Cost(resp.Usage))
	case streamed && (resp.Content != "" || resp.Usage != (provider.Usage{}) || ctx.Err() != nil):
		// Interrupted after the model started: charge what it reported, or
		// else an upper bound from what was streamed.
		st.Failed = false
		st.Tokens, st.Cost = InterruptedCost(model.Price, resp, InputBound(system, in.Query)+histBytes, reserve)
	}
	s.settle(ctx, ticket, st)
	if callErr != nil {
		return Result{}, callErr
	}
	over := st.Overage(ticket)
	if over > 0 {
		s.log.WarnContext(ctx, "call cost above its reservation (overage)", "tenant_id", a.TenantID, "agent_id", a.AgentID,
			"call_id", ticket.CallID, "reserve_nanos", int64(ticket.Reserve), "cost_nanos", int64(st.Cost), "overage_nanos", int64(over))
	}
	res := Result{Content: resp.Content, AgentID: a.NamespacedID(), Model: a.LLMModel,
		Provider: resp.Provider, Usage: resp.Usage, Cost: st.Cost, Overage: over, CallID: ticket.CallID, SessionID: in.SessionID}
	if in.SessionID != "" {
		s.appendTurn(ctx, sess, a, Turn{Query: in.Query, Answer: resp.Content, Tokens: st.Tokens, Cost: st.Cost,
			CallID: ticket.CallID, At: s.clock.Now()})
	}
	return res, nil
}

// appendTurn appends an answered turn to its session even if the client has
// gone, retrying a failing store for most of SettleTimeout. The call is
// already charged, so a turn that still cannot be written is logged with
// its call id and the answer is returned all the same.
func (s *Service) appendTurn(ctx context.Context, sess Session, a Agent, t Turn) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.settleTimeout)
	defer cancel()
	var err error
	for attempt := 0; ; attempt++ {
		if _, err = s.store.AppendTurn(actx, sess, t, a.MaxHistoryTurns); err == nil {
			return
		}
		if !retrySleep(actx, attempt) {
			break
		}
	}
	s.log.ErrorContext(ctx, "appending a session turn failed", "tenant_id", a.TenantID, "agent_id", a.AgentID,
		"session_id", sess.SessionID, "call_id", t.CallID, "error", err)
}

// settle applies a settlement even if the client has gone. Settling is
// idempotent (the call record goes with it), so it is retried with backoff
// for most of SettleTimeout; if the store still fails, the settlement is
// recorded on the call for Reconcile (the next rollover) to apply, so the
// cost is applied exactly once, later. Only if that fails too is it lost to
// the books, and then the log line carries everything needed to apply it.
func (s *Service) settle(ctx context.Context, t Ticket, st Settlement) {
	base := context.WithoutCancel(ctx)
	// Three quarters of the time to settle, the rest to record.
	sctx, cancel := context.WithTimeout(base, s.settleTimeout*3/4)
	var err error
	for attempt := 0; ; attempt++ {
		var alerts []Alert
		if alerts, err = s.store.Settle(sctx, t, st); err == nil {
			cancel()
			s.notify(base, alerts)
			return
		}
		if !retrySleep(sctx, attempt) {
			break
		}
	}
	cancel()
	rctx, cancel := context.WithTimeout(base, s.settleTimeout/4)
	defer cancel()
	var rerr error
	for attempt := 0; ; attempt++ {
		if rerr = s.store.RecordUnsettled(rctx, t, st); rerr == nil || !retrySleep(rctx, attempt) {
			break
		}
	}
	s.log.ErrorContext(ctx, "settle failed; left for reconcile", "tenant_id", t.TenantID, "agent_id", t.AgentID,
		"call_id", t.CallID, "day", t.Day, "reserve_nanos", int64(t.Reserve), "cost_nanos", int64(st.Cost),
		"tokens", st.Tokens, "failed_call", st.Failed, "recorded", rerr == nil, "error", err, "record_error", rerr)
}

// notify delivers alerts (already recorded by the settlement that raised
// them); a delivery failure is logged, the alert stays listed.
func (s *Service) notify(ctx context.Context, alerts []Alert) {
	if s.alerts == nil {
		return
	}
	for _, a := range alerts {
		if err := s.alerts.Notify(ctx, a); err != nil {
			s.log.ErrorContext(ctx, "alert delivery failed", "tenant_id", a.TenantID, "period", a.Period,
				"threshold_pct", a.ThresholdPct, "error", err)
		}
	}
}

// Alerts lists a tenant's budget alerts, newest first (at most 100).
func (s *Service) Alerts(ctx context.Context, tenantID string) ([]Alert, error) {
	if err := CheckTenantID(tenantID); err != nil {
		return nil, err
	}
	if _, err := s.store.GetTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	return s.store.Alerts(ctx, tenantID, 100)
}

// retrySleep waits before retry attempt n (25ms doubling to 1s), unless the
// wait would outlast ctx.
func retrySleep(ctx context.Context, n int) bool {
	d := min(25*time.Millisecond<<min(n, 6), time.Second)
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func tokensOf(u provider.Usage) Tokens {
	return Tokens{Input: u.InputTokens, Output: u.OutputTokens, CacheRead: u.CacheReadTokens, CacheWrite: u.CacheWriteTokens}
}
