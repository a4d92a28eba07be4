package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Issue 9, finding 3: a plausible cost above the reservation is charged in
// full and reported as overage; implausible usage is a failed call charged
// its reservation; spend passes the cap only by reported overage.
func TestOverageAndImplausibleUsage(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme(func(c *tenancy.TenantConfig) { c.MaxCostPerDay = 100_000_000 }) // $0.10
		// 10,000 output tokens x 15,000 = 150,000,000 nano-USD: above the
		// reservation (15,791,250) and above the cap.
		v.model.set(provider.Usage{OutputTokens: 10_000}, nil)
		res, err := v.svc.Execute(v.ctx, "acme", "support", query)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "cost charged in full", res.Cost, 150_000_000)
		eq(t, "overage on the call", res.Overage, 150_000_000-reserveNanos)
		r := v.report("acme")
		eq(t, "spent", r.TotalCost, 150_000_000)
		eq(t, "overage_usd", r.OverageUSD, 134_208_750)
		eq(t, "lifetime", r.LifetimeCost, 150_000_000)
		if r.TotalCost > r.MaxCostPerDay+r.OverageUSD {
			t.Fatalf("spend %d passes cap %d + overage %d", r.TotalCost, r.MaxCostPerDay, r.OverageUSD)
		}
		_, err = v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrCostLimit, "Tenant 'acme' has exceeded usage limits (cost: $0.15 / $0.10)")
		var te *tenancy.Error
		errors.As(err, &te)
		eq(t, "retry after (to midnight)", te.RetryAfter, 9*time.Hour+30*time.Minute)

		// Implausible usage: failed, charged the reservation, 502.
		v.register(tenantCfg("globex"))
		v.agent("globex", agentCfg("support", func(c *tenancy.AgentConfig) { c.SystemPrompt = prompt }))
		for i, u := range []provider.Usage{{InputTokens: 1, OutputTokens: 10_000_000_000_000_000},
			{InputTokens: -5, OutputTokens: 1}, {OutputTokens: tenancy.MaxPlausibleTokens + 1}} {
			v.model.set(u, nil)
			_, err := v.svc.Execute(v.ctx, "globex", "support", query)
			if !errors.Is(err, provider.ErrUpstream) {
				t.Fatalf("usage %+v: err %v, want a provider error", u, err)
			}
			want := []string{
				"fake: implausible usage reported (output_tokens=10000000000000000 is outside 0..1000000000); the call is charged its reservation: model provider error",
				"fake: implausible usage reported (input_tokens=-5 is outside 0..1000000000); the call is charged its reservation: model provider error",
				"fake: implausible usage reported (output_tokens=1000000001 is outside 0..1000000000); the call is charged its reservation: model provider error",
			}[i]
			eq(t, "message", provider.PublicMessage(err), want)
			r := v.report("globex")
			eq(t, "charged its reservations", r.TotalCost, tenancy.Money(i+1)*reserveNanos)
			eq(t, "failed calls", r.FailedCalls, int64(i+1))
			eq(t, "queries", r.QueriesToday, int64(0))
			eq(t, "reserved", r.ReservedCost, 0)
			eq(t, "overage", r.OverageUSD, 0)
			eq(t, "lifetime", r.LifetimeCost, tenancy.Money(i+1)*reserveNanos)
		}
		days, err := v.svc.History(v.ctx, "globex", "", "")
		if err != nil || len(days) != 1 {
			t.Fatalf("history %v %v", days, err)
		}
		eq(t, "history cost", days[0].Cost, 3*reserveNanos)
		eq(t, "by model cost", days[0].ByModel["claude-sonnet-4-20250514"].Cost, 3*reserveNanos)
		// The reservations were priced by the catalog's version.
		eq(t, "price versions", fmt.Sprint(days[0].PriceVersions), fmt.Sprint([]string{v.svc.Catalog().Version()}))

		// The overage is archived with its day, and a new day starts at 0.
		v.clock.Set(time.Date(2026, 11, 29, 0, 0, 1, 0, time.UTC))
		v.model.set(provider.Usage{InputTokens: 1000, OutputTokens: 500}, nil)
		if _, err := v.svc.Execute(v.ctx, "acme", "support", query); err != nil {
			t.Fatal(err)
		}
		eq(t, "overage of the new day", v.report("acme").OverageUSD, 0)
		days, _ = v.svc.History(v.ctx, "acme", "2026-11-28", "2026-11-28")
		eq(t, "archived overage", days[0].Overage, 134_208_750)
	})
}

// Issue 9, finding 4: a refusal caused only by calls in flight says so and
// asks to retry in seconds; only a real exhaustion is cost_limit until the
// next day.
func TestCostRefusalSaysTheTruth(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme(func(c *tenancy.TenantConfig) { c.MaxCostPerDay = 40_000_000 }) // $0.04: two reservations fit
		var tickets []tenancy.Ticket
		for _, id := range []string{"c1", "c2"} {
			tk, err := v.store.Admit(v.ctx, tenancy.Admission{TenantID: "acme", AgentID: "support",
				Model: "claude-sonnet-4-20250514", Reserve: reserveNanos, CallID: id, Now: v.clock.Now()})
			if err != nil {
				t.Fatal(err)
			}
			tickets = append(tickets, tk)
		}
		before, _ := v.svc.GetTenant(v.ctx, "acme")
		_, err := v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrCostLimitInFlight,
			"Tenant 'acme' has calls in flight holding its daily budget (cost: $0.00 + $0.03 reserved / $0.04)")
		var te *tenancy.Error
		errors.As(err, &te)
		eq(t, "retry after", te.RetryAfter, 2*time.Second)
		after, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "refusal changed nothing", fmt.Sprint(after.Usage), fmt.Sprint(before.Usage))
		for _, tk := range tickets {
			if _, err := v.store.Settle(v.ctx, tk, tenancy.Settlement{Cost: costNanos, Tokens: tenancy.Tokens{Input: 1000, Output: 500}}); err != nil {
				t.Fatal(err)
			}
		}
		// 21,000,000 spent: one more fits (reserve 15,791,250), then spend
		// 31,500,000 + 15,791,250 > 40,000,000 is a real exhaustion.
		if _, err := v.svc.Execute(v.ctx, "acme", "support", query); err != nil {
			t.Fatal(err)
		}
		_, err = v.svc.Execute(v.ctx, "acme", "support", query)
		wantErr(t, err, tenancy.ErrCostLimit, "Tenant 'acme' has exceeded usage limits (cost: $0.03 / $0.04)")
		errors.As(err, &te)
		eq(t, "retry after (to midnight)", te.RetryAfter, 9*time.Hour+30*time.Minute)
	})
}

// slowModel answers after a pause, outside any lock, so calls overlap.
type slowModel struct {
	usage provider.Usage
	pause time.Duration
}

func (m slowModel) Name() string { return "slow" }
func (m slowModel) Complete(ctx context.Context, r provider.Request) (provider.Response, error) {
	time.Sleep(m.pause)
	return provider.Response{Content: "ok", Provider: "slow", Usage: m.usage}, nil
}
func (m slowModel) Route(string) (provider.Provider, string, error) { return m, "", nil }

// Racing executes on a capped tenant: every cost refusal is classified by
// the state it met. Spend only grows, so if any refusal was a real
// exhaustion the final spend plus one reservation passes the cap; and the
// final spend never passes the cap (no overage here).
func TestCostRefusalsUnderConcurrency(t *testing.T) {
	repeated(t, func(t *testing.T, v *env) {
		v.acme(func(c *tenancy.TenantConfig) { c.MaxCostPerDay = 120_000_000; c.MaxQueriesPerHour = 1000 })
		svc := tenancy.New(tenancy.Options{Store: v.store, Clock: v.clock, Catalog: v.svc.Catalog(),
			Models: slowModel{usage: provider.Usage{InputTokens: 1000, OutputTokens: 500}, pause: 20 * time.Millisecond}})
		var mu sync.Mutex
		codes := map[tenancy.Code]int{}
		var wg sync.WaitGroup
		for i := 0; i < 24; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 3; j++ {
					_, err := svc.Execute(v.ctx, "acme", "support", query)
					var te *tenancy.Error
					code := tenancy.Code("ok")
					if errors.As(err, &te) {
						code = te.Code
						if code == tenancy.CodeCostLimitInFlight && te.RetryAfter != 2*time.Second {
							t.Errorf("in-flight retry after %s", te.RetryAfter)
						}
					} else if err != nil {
						t.Errorf("unexpected error %v", err)
					}
					mu.Lock()
					codes[code]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		r := v.report("acme")
		eq(t, "answered = queries", codes["ok"], int(r.QueriesToday))
		eq(t, "spent", r.TotalCost, tenancy.Money(r.QueriesToday)*costNanos)
		eq(t, "reserved after all settled", r.ReservedCost, 0)
		if r.TotalCost > r.MaxCostPerDay {
			t.Fatalf("spent %d > cap %d", r.TotalCost, r.MaxCostPerDay)
		}
		if codes[tenancy.CodeCostLimit] > 0 && r.TotalCost+reserveNanos <= r.MaxCostPerDay {
			t.Fatalf("cost_limit while spend %d + reserve fits the cap: %v", r.TotalCost, codes)
		}
		eq(t, "every call answered or refused for cost", codes["ok"]+codes[tenancy.CodeCostLimit]+codes[tenancy.CodeCostLimitInFlight], 72)
		if codes[tenancy.CodeCostLimitInFlight] == 0 {
			t.Logf("no in-flight refusal this round: %v", codes)
		}
	})
}
