package dynamostore_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

func (v *env) say(sessionID, q string) (tenancy.Result, error) {
	return v.svc.ExecuteInput(v.ctx, "acme", "support", tenancy.Input{Query: q, SessionID: sessionID})
}

func (v *env) session(id string) tenancy.Session {
	v.t.Helper()
	s, err := v.svc.GetSession(v.ctx, tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: id})
	if err != nil {
		v.t.Fatalf("session %s: %v", id, err)
	}
	return s
}

func TestSessionConversation(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.counter.Reset()
		res, err := v.say("u-1@app.example", query)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "session id", res.SessionID, "u-1@app.example")
		eq(t, "history of the first call", len(v.model.lastRequest().History), 0)
		// The buffered execute's 1 read and 2 writes, plus the session's one
		// read (session and tenant in one BatchGetItem) and one write.
		if v.dynamo() {
			eq(t, "reads", v.counter.Reads(), 2)
			eq(t, "writes", v.counter.Writes(), 3)
		}
		t1 := v.clock.Now()
		v.clock.Advance(time.Minute)
		if _, err := v.say("u-1@app.example", "And my username?"); err != nil {
			t.Fatal(err)
		}
		want := []provider.Message{{Role: "user", Content: query}, {Role: "assistant", Content: "answer to " + query}}
		if got := v.model.lastRequest().History; !reflect.DeepEqual(got, want) {
			t.Fatalf("history sent = %+v, want %+v", got, want)
		}
		eq(t, "system prompt sent", v.model.lastRequest().SystemPrompt, prompt)
		s := v.session("u-1@app.example")
		eq(t, "turns", len(s.Turns), 2)
		eq(t, "total turns", s.TotalTurns, 2)
		eq(t, "session cost", s.Cost, 2*costNanos)
		first := tenancy.Turn{Query: query, Answer: "answer to " + query, Tokens: tenancy.Tokens{Input: 1000, Output: 500},
			Cost: costNanos, CallID: res.CallID, At: t1}
		if !reflect.DeepEqual(s.Turns[0], first) {
			t.Fatalf("turn 1 = %+v, want %+v", s.Turns[0], first)
		}
		eq(t, "turn 2 query", s.Turns[1].Query, "And my username?")
		eq(t, "last at", s.LastAt, t1.Add(time.Minute))
		eq(t, "expires 30 days after the last turn", s.ExpiresAt, t1.Add(time.Minute+30*24*time.Hour))
		list, next, err := v.svc.ListSessions(v.ctx, "acme", "support", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "next token", next, "")
		wantList := []tenancy.SessionSummary{{SessionID: "u-1@app.example", Turns: 2, TotalTurns: 2,
			LastAt: t1.Add(time.Minute), Cost: 2 * costNanos, ExpiresAt: s.ExpiresAt}}
		if !reflect.DeepEqual(list, wantList) {
			t.Fatalf("list = %+v, want %+v", list, wantList)
		}
		// Usage counts both calls, as without sessions.
		eq(t, "queries", v.report("acme").QueriesToday, 2)
		// A call without a session neither reads nor writes one.
		v.counter.Reset()
		res, err = v.svc.Execute(v.ctx, "acme", "support", query)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "no session id", res.SessionID, "")
		eq(t, "no history", len(v.model.lastRequest().History), 0)
		if v.dynamo() {
			eq(t, "reads without a session", v.counter.Reads(), 1)
			eq(t, "writes without a session", v.counter.Writes(), 2)
		}
	})
}

func TestSessionErrors(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		_, err := v.say("bad id", query)
		wantErr(t, err, tenancy.ErrValidation, "session_id must match ^[A-Za-z0-9_.:@-]{1,128}$")
		_, err = v.say(strings.Repeat("a", 129), query)
		wantErr(t, err, tenancy.ErrValidation, "session_id must match ^[A-Za-z0-9_.:@-]{1,128}$")
		_, err = v.svc.GetSession(v.ctx, tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: "nope"})
		wantErr(t, err, tenancy.ErrSessionNotFound, "Session 'nope' not found for agent 'support'")
		_, err = v.svc.GetSession(v.ctx, tenancy.SessionKey{TenantID: "acme", AgentID: "ghost", SessionID: "nope"})
		wantErr(t, err, tenancy.ErrAgentNotFound, "Agent 'ghost' not found for tenant 'acme'")
		_, _, err = v.svc.ListSessions(v.ctx, "acme", "support", 101, "")
		wantErr(t, err, tenancy.ErrValidation, "limit must be between 1 and 100")
		_, _, err = v.svc.ListSessions(v.ctx, "acme", "support", 0, "!!")
		wantErr(t, err, tenancy.ErrValidation, "next_token is not a valid page token")
		err = v.svc.DeleteSession(v.ctx, tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: "nope"})
		wantErr(t, err, tenancy.ErrSessionNotFound, "Session 'nope' not found for agent 'support'")

		// A failed call appends nothing; a refused one neither.
		v.model.set(provider.Usage{}, fmt.Errorf("boom: %w", provider.ErrUpstream))
		if _, err := v.say("s1", query); err == nil {
			t.Fatal("want the provider's error")
		}
		_, err = v.svc.GetSession(v.ctx, tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: "s1"})
		wantErr(t, err, tenancy.ErrSessionNotFound, "")
		v.model.set(provider.Usage{InputTokens: 1000, OutputTokens: 500}, nil)
		if _, err := v.svc.DeactivateTenant(v.ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		_, err = v.say("s1", query)
		wantErr(t, err, tenancy.ErrTenantInactive, "")
		_, err = v.svc.GetSession(v.ctx, tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: "s1"})
		wantErr(t, err, tenancy.ErrSessionNotFound, "")

		// Delete: 204 then 404.
		if _, err := v.svc.ActivateTenant(v.ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if _, err := v.say("s1", query); err != nil {
			t.Fatal(err)
		}
		k := tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: "s1"}
		if err := v.svc.DeleteSession(v.ctx, k); err != nil {
			t.Fatal(err)
		}
		wantErr(t, v.svc.DeleteSession(v.ctx, k), tenancy.ErrSessionNotFound, "")
	})
}

// The reservation's input bound includes the history sent: a budget that
// fits the call without history refuses it with the session's two turns.
//
//	turn 1: query 25 bytes, answer "answer to " + query = 35 bytes
//	input bound with history = 115 + (25 + 8) + (35 + 8) = 191 tokens
//	reserve = 191 x 3750 + 1024 x 15000 = 16,076,250 nano-USD (15,791,250 without)
func TestSessionHistoryInReservation(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme(func(c *tenancy.TenantConfig) { c.MaxCostPerDay = costNanos + 16_000_000 })
		if _, err := v.say("s", query); err != nil {
			t.Fatal(err)
		}
		_, err := v.say("s", query)
		wantErr(t, err, tenancy.ErrCostLimit, "")
		eq(t, "refused calls append nothing", v.session("s").TotalTurns, 1)
		if _, err := v.svc.Execute(v.ctx, "acme", "support", query); err != nil {
			t.Fatalf("without history the call fits the budget: %v", err)
		}
	})
}

func TestSessionHistoryBounded(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.register(tenantCfg("acme"))
		v.agent("acme", agentCfg("support", func(c *tenancy.AgentConfig) { c.MaxHistoryTurns = 2 }))
		for i := 1; i <= 4; i++ {
			if _, err := v.say("s", fmt.Sprintf("q%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		eq(t, "history sent with the 4th call", len(v.model.lastRequest().History), 4)
		eq(t, "oldest message sent", v.model.lastRequest().History[0].Content, "q2")
		s := v.session("s")
		eq(t, "turns kept", len(s.Turns), 2)
		eq(t, "oldest kept", s.Turns[0].Query, "q3")
		eq(t, "total turns", s.TotalTurns, 4)
		eq(t, "cost of all turns", s.Cost, 4*costNanos)
	})
}

// A session expires session_ttl_days after its last turn: reads stop seeing
// it at once (DynamoDB's TTL deletes items late), and the item carries the
// TTL attribute for DynamoDB to delete it.
func TestSessionTTL(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme(func(c *tenancy.TenantConfig) { c.SessionTTLDays = 1 })
		if _, err := v.say("s", query); err != nil {
			t.Fatal(err)
		}
		if v.dynamo() {
			out, err := v.db.GetItem(v.ctx, &dynamodb.GetItemInput{TableName: aws.String(v.table), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TENANT#acme"},
					"sk": &types.AttributeValueMemberS{Value: "SESSION#support#s"}}})
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "expires_at (epoch seconds)", out.Item["expires_at"].(*types.AttributeValueMemberN).Value,
				fmt.Sprint(t0.Add(24*time.Hour).Unix()))
		}
		eq(t, "expires_at", v.session("s").ExpiresAt, t0.Add(24*time.Hour))
		v.clock.Advance(24*time.Hour - time.Second)
		eq(t, "alive a second before", v.session("s").TotalTurns, 1)
		v.clock.Advance(time.Second)
		_, err := v.svc.GetSession(v.ctx, tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: "s"})
		wantErr(t, err, tenancy.ErrSessionNotFound, "")
		list, _, err := v.svc.ListSessions(v.ctx, "acme", "support", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "listed after expiry", len(list), 0)
		if _, err := v.say("s", "new start"); err != nil {
			t.Fatal(err)
		}
		eq(t, "an expired session sends no history", len(v.model.lastRequest().History), 0)
		s := v.session("s")
		eq(t, "turns after restart", s.TotalTurns, 1)
		eq(t, "cost after restart", s.Cost, costNanos)
		// PATCH session_ttl_days applies to the next turn.
		days := 7
		if _, err := v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{SessionTTLDays: &days}); err != nil {
			t.Fatal(err)
		}
		if _, err := v.say("s", "again"); err != nil {
			t.Fatal(err)
		}
		eq(t, "expiry after the patch", v.session("s").ExpiresAt, v.clock.Now().Add(7*24*time.Hour))
	})
}

// Sessions belong to one tenant and one agent.
func TestSessionIsolation(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		v.register(tenantCfg("globex"))
		v.agent("globex", agentCfg("support"))
		v.agent("acme", agentCfg("support2"))
		if _, err := v.say("shared", query); err != nil {
			t.Fatal(err)
		}
		_, err := v.svc.GetSession(v.ctx, tenancy.SessionKey{TenantID: "globex", AgentID: "support", SessionID: "shared"})
		wantErr(t, err, tenancy.ErrSessionNotFound, "")
		_, err = v.svc.GetSession(v.ctx, tenancy.SessionKey{TenantID: "acme", AgentID: "support2", SessionID: "shared"})
		wantErr(t, err, tenancy.ErrSessionNotFound, "")
		if _, err := v.svc.ExecuteInput(v.ctx, "globex", "support", tenancy.Input{Query: "hi", SessionID: "shared"}); err != nil {
			t.Fatal(err)
		}
		eq(t, "another tenant's same session id starts empty", len(v.model.lastRequest().History), 0)
		for _, tc := range []struct{ tenant, agent string }{{"globex", "support"}, {"acme", "support2"}} {
			list, _, err := v.svc.ListSessions(v.ctx, tc.tenant, tc.agent, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			if tc.tenant == "globex" {
				n = 1
			}
			eq(t, "sessions of "+tc.tenant+"/"+tc.agent, len(list), n)
		}
		eq(t, "acme's session untouched", v.session("shared").TotalTurns, 1)
	})
}

func TestListSessionsPages(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.acme()
		for _, id := range []string{"c", "a", "b.x:1"} {
			if _, err := v.say(id, query); err != nil {
				t.Fatal(err)
			}
		}
		var ids []string
		token, pages := "", 0
		for {
			page, next, err := v.svc.ListSessions(v.ctx, "acme", "support", 2, token)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, s := range page {
				ids = append(ids, s.SessionID)
			}
			if next == "" {
				break
			}
			token = next
		}
		eq(t, "ids", strings.Join(ids, ","), "a,b.x:1,c")
		if pages < 2 {
			t.Fatalf("pages = %d, want at least 2", pages)
		}
	})
}

// Concurrent executes on one session all land, none lost.
func TestConcurrentSessionAppends(t *testing.T) {
	repeated(t, func(t *testing.T, v *env) {
		v.acme()
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := v.say("race", fmt.Sprintf("question %d", i))
				errs <- err
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		s := v.session("race")
		eq(t, "total turns", s.TotalTurns, n)
		eq(t, "turns kept", len(s.Turns), n)
		eq(t, "session cost", s.Cost, n*costNanos)
		var qs []string
		for _, turn := range s.Turns {
			qs = append(qs, turn.Query)
		}
		sort.Strings(qs)
		for i := range n {
			eq(t, "query", qs[i], fmt.Sprintf("question %d", i))
		}
		eq(t, "spend", v.report("acme").TotalCost, n*costNanos)
	})
}

// The session item stays under DynamoDB's 400 KB by design: the largest
// queries and answers, more turns than fit, and the item stays within
// MaxSessionBytes of turns (moto rejects items over 400 KB like DynamoDB).
func TestSessionItemSize(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.register(tenantCfg("acme", func(c *tenancy.TenantConfig) { c.MaxCostPerDay = 1000 * tenancy.NanosPerUSD }))
		v.agent("acme", agentCfg("support", func(c *tenancy.AgentConfig) { c.MaxHistoryTurns = 100 }))
		v.model.content = strings.Repeat("é", 60<<10) // 120 KiB: stored truncated to 64 KiB
		big := strings.Repeat("q", tenancy.MaxQueryBytes)
		for i := 0; i < 5; i++ {
			if _, err := v.say("big", big); err != nil {
				t.Fatal(err)
			}
		}
		s := v.session("big")
		eq(t, "turns kept (2 x 96.25 KiB fit in 256 KiB, 3 do not)", len(s.Turns), 2)
		eq(t, "answer truncated", s.Turns[1].Truncated, true)
		eq(t, "stored answer bytes", len(s.Turns[1].Answer), tenancy.MaxStoredAnswerBytes)
		if !v.dynamo() {
			return // the 400 KB item limit is DynamoDB's
		}
		out, err := v.db.GetItem(v.ctx, &dynamodb.GetItemInput{TableName: aws.String(v.table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TENANT#acme"},
				"sk": &types.AttributeValueMemberS{Value: "SESSION#support#big"}}})
		if err != nil {
			t.Fatal(err)
		}
		size := itemSize(out.Item)
		t.Logf("session item: %d bytes", size)
		if size > tenancy.MaxSessionBytes+1024 || size > 400<<10 {
			t.Fatalf("session item is %d bytes", size)
		}
	})
}
