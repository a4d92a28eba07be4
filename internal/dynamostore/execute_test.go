package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Exact numbers used below, for claude-sonnet-4-20250514 (input 3000,
// output 15000, cache write 3750 nano-USD per token):
//
//	system prompt "You are Acme Corp support." = 26 bytes
//	query "Help me reset my password"          = 25 bytes
//	input bound = 26 + 25 + 64 overhead        = 115 tokens
//	reserve = 115 x 3750 + 1024 x 15000        = 15,791,250 nano-USD
//	usage 1000 in / 500 out = 3,000,000 + 7,500,000 = 10,500,000 nano-USD
const (
	prompt       = "You are Acme Corp support."
	query        = "Help me reset my password"
	reserveNanos = tenancy.Money(15_791_250)
	costNanos    = tenancy.Money(10_500_000)
)

func (v *env) acme(mutate ...func(*tenancy.TenantConfig)) tenancy.Agent {
	v.register(tenantCfg("acme", mutate...))
	return v.agent("acme", agentCfg("support", func(c *tenancy.AgentConfig) { c.SystemPrompt = prompt }))
}

func TestReserveIsTheWorstCase(t *testing.T) {
	eq(t, "input bound", tenancy.InputBound(prompt, query), 115)
	m, _ := newEnv(t, engines[0]).svc.Catalog().Lookup("claude-sonnet-4-20250514")
	eq(t, "reserve", tenancy.Reserve(m.Price, prompt, query, 1024), reserveNanos)
	eq(t, "cost", tenancy.Money(m.Price.Cost(provider.Usage{InputTokens: 1000, OutputTokens: 500})), costNanos)
}

func TestExecuteAccounting(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.counter.Reset()
		res, err := v.svc.Execute(v.ctx, "acme", "support", query)
		if err != nil {
			t.Fatal(err)
		}
		if v.dynamo() {
			eq(t, "writes per execute", v.counter.Writes(), 2)
			eq(t, "reads per execute (the agent)", v.counter.Reads(), 1)
		}
		eq(t, "content", res.Content, "answer to "+query)
		eq(t, "agent id", res.AgentID, "tenant-acme-support")
		eq(t, "cost", res.Cost, costNanos)
		eq(t, "model", res.Model, "claude-sonnet-4-20250514")
		r := v.report("acme")
		want := tenancy.UsageReport{
			TenantID: "acme", Name: "acme", IsActive: true, Agents: 1, MaxAgents: 10, TotalQueries: 1,
			TotalCost: costNanos, MaxCostPerDay: 50 * tenancy.NanosPerUSD, CostUtilizationPct: 0.021,
			QueriesToday: 1, QueriesThisHour: 1, MaxQueriesPerHour: 1000, UsageDate: "2026-11-28",
			ResetsAt: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC), ReservedCost: 0, LifetimeCost: costNanos,
			ByModel: map[string]tenancy.ModelUsage{"claude-sonnet-4-20250514": {Queries: 1,
				Tokens: tenancy.Tokens{Input: 1000, Output: 500}, Cost: costNanos}},
			PriceVersions: []string{"builtin-2026-11"}, Month: "2026-11", MonthCost: costNanos,
			ByAgent: map[string]tenancy.AgentUsage{"support": {Queries: 1, TotalTokens: 1500,
				Tokens: tenancy.Tokens{Input: 1000, Output: 500}, Cost: costNanos}},
		}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("report\n got %+v\nwant %+v", r, want)
		}
	})
}

func TestAdmitReservesAndSettleIsIdempotent(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		tk, err := v.store.Admit(v.ctx, tenancy.Admission{TenantID: "acme", AgentID: "support",
			Model: "claude-sonnet-4-20250514", Reserve: reserveNanos, CallID: "c1", Now: v.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		r := v.report("acme")
		eq(t, "reserved in flight", r.ReservedCost, reserveNanos)
		eq(t, "queries this hour", r.QueriesThisHour, 1)
		eq(t, "spent before settle", r.TotalCost, 0)
		open, _ := v.store.OpenCalls(v.ctx, "acme")
		eq(t, "open calls", len(open), 1)
		st := tenancy.Settlement{Tokens: tenancy.Tokens{Input: 1000, Output: 500}, Cost: costNanos, PriceVersion: "v1"}
		for i := 0; i < 3; i++ { // a retried settle must not charge twice
			if _, err := v.store.Settle(v.ctx, tk, st); err != nil {
				t.Fatal(err)
			}
		}
		r = v.report("acme")
		eq(t, "reserved after settle", r.ReservedCost, 0)
		eq(t, "spent", r.TotalCost, costNanos)
		eq(t, "total queries", r.TotalQueries, 1)
		tn, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "budget left", tn.Usage.BudgetLeft, 50*tenancy.NanosPerUSD-costNanos)
		open, _ = v.store.OpenCalls(v.ctx, "acme")
		eq(t, "open calls after settle", len(open), 0)
	})
}

func TestRefusals(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme(func(c *tenancy.TenantConfig) { c.MaxQueriesPerHour = 3; c.AllowedTools = []string{"web_search"} })
		v.agent("acme", agentCfg("mini", func(c *tenancy.AgentConfig) { c.LLMModel = "gpt-4o-mini"; c.Tools = []string{"web_search"} }))
		for i := 0; i < 3; i++ {
			if _, err := v.svc.Execute(v.ctx, "acme", "support", query); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := v.svc.GetTenant(v.ctx, "acme")
		_, err := v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrQueryLimit, "Tenant 'acme' has exceeded usage limits (queries: 3 / 3 per hour)")
		var te *tenancy.Error
		errors.As(err, &te)
		eq(t, "retry after (to 15:00)", te.RetryAfter, 30*time.Minute)
		after, _ := v.svc.GetTenant(v.ctx, "acme")
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("a refused admit changed the tenant:\n%+v\n%+v", before, after)
		}

		v.clock.Set(time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)) // a new hour
		if _, err := v.svc.Execute(v.ctx, "acme", "support", query); err != nil {
			t.Fatalf("first call of the new hour: %v", err)
		}
		eq(t, "queries this hour after the hour rolled", v.report("acme").QueriesThisHour, 1)
		eq(t, "queries today", v.report("acme").QueriesToday, 4)

		if _, err := v.svc.DeactivateTenant(v.ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		_, err = v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrTenantInactive, "Tenant 'acme' is inactive")
		if _, err := v.svc.ActivateTenant(v.ctx, "acme"); err != nil {
			t.Fatal(err)
		}

		// Model and tools are re-checked against the tenant's current lists.
		only := []string{"claude-sonnet-4-20250514"}
		if _, err := v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{AllowedModels: &only}); err != nil {
			t.Fatal(err)
		}
		_, err = v.svc.Execute(v.ctx, "acme", "mini", query)
		wantErr(t, err, tenancy.ErrModelNotAllowed, "Model 'gpt-4o-mini' not allowed for tenant 'acme'")
		all, calc := []string{}, []string{"calculator"}
		if _, err := v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{AllowedModels: &all, AllowedTools: &calc}); err != nil {
			t.Fatal(err)
		}
		_, err = v.svc.Execute(v.ctx, "acme", "mini", query)
		wantErr(t, err, tenancy.ErrToolNotAllowed, "Tool 'web_search' not allowed for tenant 'acme'")

		_, err = v.svc.Execute(v.ctx, "acme", "ghost", query)
		wantErr(t, err, tenancy.ErrAgentNotFound, "Agent 'ghost' not found for tenant 'acme'")
		_, err = v.svc.Execute(v.ctx, "nope", "support", query)
		wantErr(t, err, tenancy.ErrTenantNotFound, "Tenant 'nope' not found")
		_, err = v.svc.Execute(v.ctx, "acme", "support", "")
		wantErr(t, err, tenancy.ErrValidation, "query must be 1 to 32768 bytes of UTF-8")
		eq(t, "total queries", v.report("acme").TotalQueries, 4)
	})
}

func TestCostCap(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme(func(c *tenancy.TenantConfig) { c.MaxCostPerDay = 100_000_000 }) // $0.10
		ok := 0
		var err error
		for ; ok < 20; ok++ {
			if _, err = v.svc.Execute(v.ctx, "acme", "support", query); err != nil {
				break
			}
		}
		// Admitted while 100,000,000 - 10,500,000 x k >= 15,791,250: k = 0..8.
		eq(t, "executes admitted", ok, 9)
		wantErr(t, err, tenancy.ErrCostLimit, "Tenant 'acme' has exceeded usage limits (cost: $0.09 / $0.10)")
		r := v.report("acme")
		eq(t, "spent", r.TotalCost, 94_500_000)
		eq(t, "utilization", r.CostUtilizationPct, 94.5)

		// The seed's example: spend $10.50, then lower the cap to $10.00.
		v.register(tenantCfg("big"))
		v.agent("big", agentCfg("support", func(c *tenancy.AgentConfig) { c.SystemPrompt = prompt }))
		v.model.set(provider.Usage{OutputTokens: 700_000}, nil) // 700,000 x 15,000 = $10.50
		if _, err := v.svc.Execute(v.ctx, "big", "support", query); err != nil {
			t.Fatal(err)
		}
		ten := 10 * tenancy.NanosPerUSD
		if _, err := v.svc.UpdateTenant(v.ctx, "big", tenancy.TenantPatch{MaxCostPerDay: &ten}); err != nil {
			t.Fatal(err)
		}
		_, err = v.svc.Execute(v.ctx, "big", "support", query)
		wantErr(t, err, tenancy.ErrCostLimit, "Tenant 'big' has exceeded usage limits (cost: $10.50 / $10.00)")
		twenty := 20 * tenancy.NanosPerUSD
		if _, err := v.svc.UpdateTenant(v.ctx, "big", tenancy.TenantPatch{MaxCostPerDay: &twenty}); err != nil {
			t.Fatal(err)
		}
		if _, err := v.svc.Execute(v.ctx, "big", "support", query); err != nil {
			t.Fatalf("raising the cap must free budget at once: %v", err)
		}
		eq(t, "spent after raise", v.report("big").TotalCost, 21*tenancy.NanosPerUSD)
	})
}

func TestProviderFailureReleases(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.model.set(provider.Usage{}, fmt.Errorf("%w: 500 from upstream", provider.ErrUpstream))
		_, err := v.svc.Execute(v.ctx, "acme", "support", query)
		if !errors.Is(err, provider.ErrUpstream) {
			t.Fatalf("err = %v", err)
		}
		r := v.report("acme")
		eq(t, "reserved", r.ReservedCost, 0)
		eq(t, "spent", r.TotalCost, 0)
		eq(t, "failed calls", r.FailedCalls, 1)
		eq(t, "total queries", r.TotalQueries, 0)
		eq(t, "queries this hour (admitted)", r.QueriesThisHour, 1)
		tn, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "budget restored", tn.Usage.BudgetLeft, 50*tenancy.NanosPerUSD)
	})
}

func TestConcurrentHourlyLimit(t *testing.T) {
	repeated(t, func(t *testing.T, v *env) {
		v.acme(func(c *tenancy.TenantConfig) { c.MaxQueriesPerHour = 50 })
		const n = 200
		results := make(chan error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := v.store.Admit(v.ctx, tenancy.Admission{TenantID: "acme", AgentID: "support",
					Model: "claude-sonnet-4-20250514", Reserve: 1, CallID: tenancy.RandomID(), Now: v.clock.Now()})
				results <- err
			}()
		}
		wg.Wait()
		close(results)
		admitted, limited := 0, 0
		for err := range results {
			switch {
			case err == nil:
				admitted++
			case errorIs(err, tenancy.ErrQueryLimit):
				limited++
			default:
				t.Fatalf("unexpected: %v", err)
			}
		}
		eq(t, "admitted", admitted, 50)
		eq(t, "refused", limited, 150)
		eq(t, "queries this hour", v.report("acme").QueriesThisHour, 50)
		eq(t, "reserved", v.report("acme").ReservedCost, 50)
	})
}

func TestConcurrentCostCap(t *testing.T) {
	repeated(t, func(t *testing.T, v *env) {
		const capNanos = tenancy.Money(500_000_000) // $0.50
		v.acme(func(c *tenancy.TenantConfig) { c.MaxCostPerDay = capNanos })
		m := &perQueryModel{}
		v.svc = tenancy.New(tenancy.Options{Store: v.store, Clock: v.clock, Catalog: v.svc.Catalog(), Models: m})
		const n = 200
		type outcome struct {
			cost tenancy.Money
			err  error
		}
		results := make(chan outcome, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res, err := v.svc.Execute(v.ctx, "acme", "support", fmt.Sprintf("question %d", i))
				results <- outcome{res.Cost, err}
			}(i)
		}
		wg.Wait()
		close(results)
		var sum tenancy.Money
		admitted := 0
		for o := range results {
			switch {
			case o.err == nil:
				admitted++
				sum += o.cost
			case errorIs(o.err, tenancy.ErrCostLimit), errorIs(o.err, tenancy.ErrCostLimitInFlight):
			default:
				t.Fatalf("unexpected: %v", o.err)
			}
		}
		r := v.report("acme")
		if r.TotalCost > capNanos {
			t.Fatalf("spend %d exceeds the cap %d", r.TotalCost, capNanos)
		}
		eq(t, "spend equals the sum of settled costs", r.TotalCost, sum)
		eq(t, "queries", r.QueriesToday, int64(admitted))
		eq(t, "reserved after all settled", r.ReservedCost, 0)
		tn, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "budget left = cap - spend", tn.Usage.BudgetLeft, capNanos-sum)
		if admitted < 10 || admitted == n {
			t.Fatalf("admitted %d: the cap did not bind", admitted)
		}
		t.Logf("admitted %d of %d, spend %d of %d nano-USD", admitted, n, sum, capNanos)
	})
}

// perQueryModel reports usage that differs per query (output = 100 + bytes
// of the query x 37), so the concurrent sum is not a multiple of one cost.
type perQueryModel struct{}

func (perQueryModel) Name() string { return "per-query" }

func (perQueryModel) Complete(_ context.Context, r provider.Request) (provider.Response, error) {
	return provider.Response{Content: "ok", Provider: "per-query",
		Usage: provider.Usage{InputTokens: 40, OutputTokens: 100 + int64(len(r.Query))*37, CacheReadTokens: 7}}, nil
}

func (m *perQueryModel) Route(string) (provider.Provider, string, error) { return m, "", nil }

func errorIs(err, target error) bool { return errors.Is(err, target) }
