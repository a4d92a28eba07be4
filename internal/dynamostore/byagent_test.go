package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// agentModel answers with usage that depends on the agent (input 100 x the
// length of its namespaced id, output 300 + 7 x that length, 11 cache-read
// tokens), so each agent's share is a distinct amount; the agents listed in
// fail get a provider error (failed calls, charged nothing).
type agentModel struct{ fail map[string]bool }

func (agentModel) Name() string { return "per-agent" }

func (m agentModel) Complete(_ context.Context, r provider.Request) (provider.Response, error) {
	if m.fail[r.AgentID] {
		return provider.Response{}, fmt.Errorf("%w: 500 from upstream", provider.ErrUpstream)
	}
	return provider.Response{Content: "ok", Provider: "per-agent", Usage: agentUsage(r.AgentID)}, nil
}

func (m agentModel) Route(string) (provider.Provider, string, error) { return m, "", nil }

func agentUsage(namespaced string) provider.Usage {
	n := int64(len(namespaced))
	return provider.Usage{InputTokens: 100 * n, OutputTokens: 300 + 7*n, CacheReadTokens: 11}
}

// wantAgent is n calls of an agent's usage, as by_agent reports them.
func (v *env) wantAgent(namespaced string, n int64) tenancy.AgentUsage {
	m, _ := v.svc.Catalog().Lookup(claude)
	u := agentUsage(namespaced)
	cost := tenancy.Money(m.Price.Cost(u))
	return tenancy.AgentUsage{Queries: n, TotalTokens: n * (u.InputTokens + u.OutputTokens + u.CacheReadTokens),
		Tokens: tenancy.Tokens{Input: n * u.InputTokens, Output: n * u.OutputTokens, CacheRead: n * u.CacheReadTokens},
		Cost:   tenancy.Money(n) * cost}
}

// sumAgents is the sum of a by_agent map.
func sumAgents(m map[string]tenancy.AgentUsage) tenancy.AgentUsage {
	var s tenancy.AgentUsage
	for _, u := range m {
		s = s.Plus(u)
	}
	return s
}

// dayTotals is a day's totals in by_agent's shape.
func dayTotals(d tenancy.DayUsage) tenancy.AgentUsage {
	return tenancy.AgentUsage{Queries: d.Queries, TotalTokens: d.Input + d.Output + d.CacheRead + d.CacheWrite,
		Tokens: d.Tokens, Cost: d.Cost}
}

// Executes race on four agents (one of them failing at its provider): each
// agent's counters are exact, the failing agent is absent, and by_agent sums
// to the tenant's day totals exactly, in the report and in the history.
func TestByAgentUnderConcurrency(t *testing.T) {
	repeated(t, func(t *testing.T, v *env) {
		v.register(tenantCfg("acme"))
		agents := []string{"a1", "b-22", "c_333", "down"}
		for _, a := range agents {
			v.agent("acme", agentCfg(a))
		}
		v.svc = tenancy.New(tenancy.Options{Store: v.store, Clock: v.clock, Catalog: v.svc.Catalog(),
			Models: agentModel{fail: map[string]bool{"tenant-acme-down": true}}, SettleTimeout: 2 * time.Minute})
		const perAgent = 12
		var wg sync.WaitGroup
		errs := make(chan error, perAgent*len(agents))
		for i := 0; i < perAgent; i++ {
			for _, a := range agents {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := v.svc.Execute(v.ctx, "acme", a, fmt.Sprintf("question %d", i))
					if a == "down" {
						if !errors.Is(err, provider.ErrUpstream) {
							errs <- fmt.Errorf("agent down: %v, want a provider error", err)
						}
						return
					}
					if err != nil {
						errs <- err
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		want := map[string]tenancy.AgentUsage{
			"a1":    v.wantAgent("tenant-acme-a1", perAgent),
			"b-22":  v.wantAgent("tenant-acme-b-22", perAgent),
			"c_333": v.wantAgent("tenant-acme-c_333", perAgent),
		}
		r := v.report("acme")
		if !reflect.DeepEqual(r.ByAgent, want) {
			t.Fatalf("report by_agent\n got %+v\nwant %+v", r.ByAgent, want)
		}
		sum := sumAgents(r.ByAgent)
		eq(t, "queries today = sum over by_agent", r.QueriesToday, sum.Queries)
		eq(t, "cost today = sum over by_agent", r.TotalCost, sum.Cost)
		eq(t, "failed calls", r.FailedCalls, perAgent)
		eq(t, "reserved after all settled", r.ReservedCost, 0)
		days := v.history(day1, day1)
		eq(t, "history days", len(days), 1)
		if !reflect.DeepEqual(days[0].ByAgent, want) {
			t.Fatalf("history by_agent\n got %+v\nwant %+v", days[0].ByAgent, want)
		}
		eq(t, "history day totals = sum over by_agent", dayTotals(days[0]), sum)
		eq(t, "queries", sum.Queries, 3*perAgent)
	})
}

// A call admitted before the tenant's local midnight and settled after
// counts on its admit day, for its agent as for the tenant: settled after
// another call rolled the window over, or recorded unsettled and applied by
// reconcile. A deleted agent's days stay in the history.
func TestByAgentAcrossLocalMidnight(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		// Tokyo is UTC+9: t0 (14:30 UTC) is 23:30 on 2026-11-28 there.
		v.register(tenantCfg("acme", func(c *tenancy.TenantConfig) { c.Timezone = "Asia/Tokyo" }))
		v.agent("acme", agentCfg("early"))
		v.agent("acme", agentCfg("late"))
		v.svc = tenancy.New(tenancy.Options{Store: v.store, Clock: v.clock, Catalog: v.svc.Catalog(), Models: agentModel{}})
		if _, err := v.svc.Execute(v.ctx, "acme", "early", query); err != nil {
			t.Fatal(err)
		}
		localMidnight := time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)
		v.clock.Set(localMidnight.Add(-time.Second))
		m, _ := v.svc.Catalog().Lookup(claude)
		lateUsage := agentUsage("tenant-acme-late")
		lateSettle := tenancy.Settlement{Tokens: tenancy.Tokens{Input: lateUsage.InputTokens, Output: lateUsage.OutputTokens,
			CacheRead: lateUsage.CacheReadTokens}, Cost: tenancy.Money(m.Price.Cost(lateUsage)), PriceVersion: "builtin-2026-11"}
		var tickets []tenancy.Ticket
		for _, id := range []string{"straddle-1", "straddle-2"} {
			tk, err := v.store.Admit(v.ctx, tenancy.Admission{TenantID: "acme", AgentID: "late", Model: claude,
				Reserve: reserveNanos, CallID: id, Now: v.clock.Now()})
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "ticket day (local)", tk.Day, day1)
			tickets = append(tickets, tk)
		}
		v.clock.Set(localMidnight.Add(time.Second))
		// The first call of the new local day rolls the window over.
		if _, err := v.svc.Execute(v.ctx, "acme", "early", query); err != nil {
			t.Fatal(err)
		}
		eq(t, "report's day", v.report("acme").UsageDate, day2)
		if _, err := v.store.Settle(v.ctx, tickets[0], lateSettle); err != nil {
			t.Fatal(err)
		}
		// The other one's settle failed: recorded, applied by reconcile.
		if err := v.store.RecordUnsettled(v.ctx, tickets[1], lateSettle); err != nil {
			t.Fatal(err)
		}
		res, err := v.svc.Reconcile(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "applied by reconcile", res.Applied, 1)

		early, late := v.wantAgent("tenant-acme-early", 1), v.wantAgent("tenant-acme-late", 2)
		days := v.history(day1, day2)
		eq(t, "days", len(days), 2)
		want1 := map[string]tenancy.AgentUsage{"early": early, "late": late}
		if !reflect.DeepEqual(days[0].ByAgent, want1) {
			t.Fatalf("%s by_agent\n got %+v\nwant %+v", day1, days[0].ByAgent, want1)
		}
		eq(t, day1+" totals = sum over by_agent", dayTotals(days[0]), sumAgents(want1))
		want2 := map[string]tenancy.AgentUsage{"early": early}
		if !reflect.DeepEqual(days[1].ByAgent, want2) {
			t.Fatalf("%s by_agent\n got %+v\nwant %+v", day2, days[1].ByAgent, want2)
		}
		eq(t, day2+" totals = sum over by_agent", dayTotals(days[1]), early)
		r := v.report("acme")
		if !reflect.DeepEqual(r.ByAgent, want2) {
			t.Fatalf("report by_agent\n got %+v\nwant %+v", r.ByAgent, want2)
		}

		// The month sums the days' agents, exact to the nano.
		months := tenancy.SumMonths(days)
		eq(t, "months", len(months), 1)
		wantMonth := map[string]tenancy.AgentUsage{"early": v.wantAgent("tenant-acme-early", 2), "late": late}
		if !reflect.DeepEqual(months[0].ByAgent, wantMonth) {
			t.Fatalf("month by_agent\n got %+v\nwant %+v", months[0].ByAgent, wantMonth)
		}

		// A deleted agent's past days stay; the report of today is empty
		// of it (it made no call today).
		if err := v.svc.DeleteAgent(v.ctx, "acme", "late"); err != nil {
			t.Fatal(err)
		}
		days = v.history(day1, day2)
		eq(t, "deleted agent's day", days[0].ByAgent["late"], late)
	})
}

// A day with no settled call has by_agent {} in the report; the report
// reads the day's agents with one Query, and an execute stays 1 read and 2
// writes. The agent-day item is small: its transactional write is 2 WCU.
func TestByAgentRequestsAndItemSize(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			v := newEnv(t, e)
			long := strings.Repeat("t", 32)
			agent := strings.Repeat("a", 24)
			v.register(tenantCfg(long))
			v.agent(long, agentCfg(agent))
			v.svc = tenancy.New(tenancy.Options{Store: v.store, Clock: v.clock, Catalog: v.svc.Catalog(), Models: agentModel{}})
			r := v.report(long)
			eq(t, "by_agent before any call", len(r.ByAgent), 0)
			if r.ByAgent == nil {
				t.Fatal("by_agent is nil, want {}")
			}
			v.counter.Reset()
			for i := 0; i < 3; i++ {
				if _, err := v.svc.Execute(v.ctx, long, agent, query); err != nil {
					t.Fatal(err)
				}
			}
			if !v.dynamo() {
				eq(t, "report by_agent", v.report(long).ByAgent[agent], v.wantAgent("tenant-"+long+"-"+agent, 3))
				return
			}
			eq(t, "writes for 3 executes", v.counter.Writes(), 6)
			eq(t, "reads for 3 executes", v.counter.Reads(), 3)
			v.counter.Reset()
			r = v.report(long)
			eq(t, "report by_agent", r.ByAgent[agent], v.wantAgent("tenant-"+long+"-"+agent, 3))
			eq(t, "report reads (tenant GetItem + agents Query)", v.counter.Reads(), 2)
			eq(t, "report queries", v.counter.ByOperation()["Query"], 1)
			out, err := v.db.GetItem(v.ctx, &dynamodb.GetItemInput{TableName: aws.String(v.table), Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "TENANT#" + long + "#AGENTDAY"},
				"sk": &types.AttributeValueMemberS{Value: "AGENTDAY#" + day1 + "#" + agent}}, ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			size := itemSize(out.Item)
			t.Logf("agent-day item: %d attributes, about %d bytes (longest tenant and agent ids)", len(out.Item), size)
			if size > 1024 {
				t.Fatalf("agent-day item is %d bytes: a transactional write of it is more than 2 WCU", size)
			}
		})
	}
}

// pagingAPI makes every Query return pages of at most 3 items, as
// DynamoDB does past 1 MB (a tenant with thousands of agents), and counts
// the Query requests.
type pagingAPI struct {
	dynamostore.API
	mu      sync.Mutex
	queries int
}

func (p *pagingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	p.mu.Lock()
	p.queries++
	p.mu.Unlock()
	cp := *in
	cp.Limit = aws.Int32(3)
	return p.API.Query(ctx, &cp, opts...)
}

// The report and the history read every page of the agent days.
func TestByAgentReadsEveryPage(t *testing.T) {
	for _, e := range engines {
		if e.bolt {
			continue // no pages: one bbolt cursor
		}
		t.Run(e.name, func(t *testing.T) {
			v := newEnv(t, e)
			api := &pagingAPI{API: v.db}
			store := dynamostore.New(api, v.table)
			v.svc = tenancy.New(tenancy.Options{Store: store, Clock: v.clock, Catalog: v.svc.Catalog(), Models: agentModel{}})
			v.register(tenantCfg("acme"))
			want := map[string]tenancy.AgentUsage{}
			for i := 0; i < 10; i++ {
				id := fmt.Sprintf("agent-%02d", i)
				v.agent("acme", agentCfg(id))
				if _, err := v.svc.Execute(v.ctx, "acme", id, query); err != nil {
					t.Fatal(err)
				}
				want[id] = v.wantAgent("tenant-acme-"+id, 1)
			}
			api.queries = 0
			r := v.report("acme")
			if !reflect.DeepEqual(r.ByAgent, want) {
				t.Fatalf("report by_agent: %d agents\n got %+v\nwant %+v", len(r.ByAgent), r.ByAgent, want)
			}
			eq(t, "Query pages for 10 agents (3 a page)", api.queries, 4)
			days := v.history(day1, day1)
			if !reflect.DeepEqual(days[0].ByAgent, want) {
				t.Fatalf("history by_agent: %d agents", len(days[0].ByAgent))
			}
			eq(t, "day totals = sum over by_agent", dayTotals(days[0]), sumAgents(want))
		})
	}
}
