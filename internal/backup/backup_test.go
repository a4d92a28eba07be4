package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/backup"
	"github.com/openclaw/tenancy/internal/boltstore"
	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/ddblocal"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

type store interface {
	tenancy.Store
	auth.KeyStore
	backup.Store
}

func boltStore(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(t.TempDir(), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var tableSeq int

func dynamoStore(t *testing.T) *dynamostore.Store {
	t.Helper()
	s, _ := dynamoStoreDB(t)
	return s
}

// dynamoStoreDB is a store on its own minidyn table, with its client.
func dynamoStoreDB(t *testing.T) (*dynamostore.Store, *dynamodb.Client) {
	t.Helper()
	emb, err := ddblocal.StartEmbedded("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emb.Close() })
	ctx := context.Background()
	db, err := dynamostore.NewClient(ctx, emb.URL)
	if err != nil {
		t.Fatal(err)
	}
	tableSeq++
	table := "backup" + strings.Repeat("x", tableSeq)
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	return dynamostore.New(db, table), db
}

// exportNow is when populate ends: the time of the exports and imports.
var exportNow = time.Date(2026, 11, 29, 9, 15, 0, 123456789, time.UTC)

// populate gives a store three tenants with everything a store keeps:
// configs with metadata and lists, agents, keys (one revoked), three days
// of calls (history, a manual reset, a failed call), an open call and an
// open call with a recorded settlement, and sessions (see
// populateSessions).
func populate(t *testing.T, s store) []string {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewManual(time.Date(2026, 11, 26, 9, 15, 0, 123456789, time.UTC))
	svc := tenancy.New(tenancy.Options{Store: s, Clock: clk, Catalog: catalog.Default()})
	keys := &auth.Keys{Store: s, Clock: clk}
	var plain []string
	for i, id := range []string{"acme", "globex", "initech"} {
		cfg := tenancy.NewTenantConfig(id)
		cfg.Name = strings.ToUpper(id) + " Inc."
		cfg.MaxCostPerDay = tenancy.Money(7_123_456_789 + int64(i))
		switch id {
		case "acme":
			// Numbers as the API keeps them (json.Number, the text sent):
			// beyond float64's integers, and forms a float64 would rewrite.
			cfg.Metadata = map[string]any{"plan": "gold", "seats": 12.5, "tags": []any{"a", "b"},
				"big": json.Number("9007199254740993"), "price": json.Number("1.10"), "hundred": json.Number("1E+2"),
				"neg_zero": json.Number("-0.0"), "nested": map[string]any{"n": json.Number("-9007199254740995")}}
			cfg.AllowedTools = []string{"web_search", "calculator"}
			cfg.SessionTTLDays = 7
		case "globex":
			cfg.AllowedModels = nil // unrestricted
			month := tenancy.Money(99_123_456_789)
			cfg.MaxCostPerMonth = &month
		}
		if _, err := svc.RegisterTenant(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"support", "sales"} {
			ac := tenancy.NewAgentConfig(a)
			ac.SystemPrompt = "You are " + a + " at " + id + "."
			if id == "acme" && a == "sales" {
				ac.Tools, ac.LLMModel = []string{"web_search"}, "gpt-4o-mini"
				ac.MaxHistoryTurns = 0
			}
			if _, err := svc.CreateAgent(ctx, id, ac); err != nil {
				t.Fatal(err)
			}
		}
		k, _, err := keys.Create(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, k)
	}
	_, revoked, err := keys.Create(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Revoke(ctx, "acme", revoked.KeyID); err != nil {
		t.Fatal(err)
	}
	for day := 0; day < 3; day++ {
		for i, id := range []string{"acme", "globex", "initech"} {
			for n := 0; n <= i+day; n++ {
				if _, err := svc.Execute(ctx, id, "support", strings.Repeat("q", 10+n)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := svc.Execute(ctx, id, "sales", "price?"); err != nil {
				t.Fatal(err)
			}
		}
		if day == 1 {
			if _, err := svc.ResetDailyUsage(ctx, "globex"); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Execute(ctx, "globex", "support", "after the reset"); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(24 * time.Hour)
	}
	tk, err := s.Admit(ctx, tenancy.Admission{TenantID: "acme", AgentID: "support", Model: tenancy.DefaultModel,
		Reserve: 15_791_250, CallID: "open-recorded", Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordUnsettled(ctx, tk, tenancy.Settlement{Tokens: tenancy.Tokens{Input: 11, Output: 22, CacheRead: 3},
		Cost: 345_678, PriceVersion: "builtin-2026-11"}); err != nil {
		t.Fatal(err)
	}
	tk2, err := s.Admit(ctx, tenancy.Admission{TenantID: "initech", AgentID: "sales", Model: tenancy.DefaultModel,
		Reserve: 999, CallID: "open-plain", Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Settle(ctx, tk2, tenancy.Settlement{Failed: true}); err != nil { // a failed call
		t.Fatal(err)
	}
	if _, err := s.Admit(ctx, tenancy.Admission{TenantID: "initech", AgentID: "sales", Model: tenancy.DefaultModel,
		Reserve: 1_000, CallID: "open-plain-2", Now: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	// initech: its own gateway, alert thresholds 1% and 50%, and a call
	// costing far more than its reservation (overage) that crosses 1% of
	// the day's cap: one alert recorded.
	gw, gwSecret, pcts := "https://gw.initech.example", "tenancy-dev/tenant-gateway/initech", []int{50, 1}
	if _, err := svc.UpdateTenant(ctx, "initech", tenancy.TenantPatch{OpenClawGatewayURL: tenancy.Some(gw),
		OpenClawTokenSecret: tenancy.Some(gwSecret), AlertThresholds: &pcts}); err != nil {
		t.Fatal(err)
	}
	tk3, err := s.Admit(ctx, tenancy.Admission{TenantID: "initech", AgentID: "support", Model: tenancy.DefaultModel,
		Reserve: 1_000, CallID: "over", Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := s.Settle(ctx, tk3, tenancy.Settlement{Tokens: tenancy.Tokens{Input: 5, Output: 7}, Cost: 80_000_000,
		PriceVersion: "builtin-2026-11", At: clk.Now()})
	if err != nil || len(alerts) != 1 || alerts[0].ThresholdPct != 1 || alerts[0].Period != tenancy.PeriodDay {
		t.Fatalf("alerts %+v, %v", alerts, err)
	}
	tokyo := "Asia/Tokyo" // a change of timezone pending until UTC midnight
	if _, err := svc.UpdateTenant(ctx, "initech", tenancy.TenantPatch{Timezone: &tokyo}); err != nil {
		t.Fatal(err)
	}
	if !clk.Now().Equal(exportNow) {
		t.Fatalf("populate ends at %v, not %v", clk.Now(), exportNow)
	}
	populateSessions(t, s)
	return plain
}

// longAnswer is over tenancy.MaxStoredAnswerBytes of multi-byte text: it
// is stored truncated (on a rune boundary).
var longAnswer = strings.Repeat("Grüße, 世界 🌍 — ", 4000)

// populateSessions writes sessions through the SessionStore API:
//   - acme/support/u-1: 3 turns, one with a long unicode query and an
//     answer stored truncated, cache tokens (acme's session_ttl_days 7);
//   - acme/sales/u-1 (the same id for another agent, whose
//     max_history_turns is 0): 2 turns counted, none kept;
//   - globex/sales/chat:42@web.example: 1 turn;
//   - initech/support/near-expiry: expires 1 ns after exportNow;
//   - initech/support/gone: expired at exportNow (left out by the export).
func populateSessions(t *testing.T, s store) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 11, 28, 10, 0, 0, 987654321, time.UTC)
	appendTurns := func(k tenancy.SessionKey, maxTurns int, turns ...tenancy.Turn) {
		t.Helper()
		for _, turn := range turns {
			base, err := s.GetSession(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AppendTurn(ctx, base, turn, maxTurns); err != nil {
				t.Fatal(err)
			}
		}
	}
	turn := func(q, a string, in, out int64, cost tenancy.Money, id string, at time.Time) tenancy.Turn {
		return tenancy.Turn{Query: q, Answer: a, Tokens: tenancy.Tokens{Input: in, Output: out}, Cost: cost, CallID: id, At: at}
	}
	long := turn(strings.Repeat("¿Dónde está mi pedido? 注文 📦 ", 500), longAnswer, 9_000, 16_000, 123_456_789, "c-long",
		at.Add(time.Minute))
	long.Tokens.CacheRead, long.Tokens.CacheWrite = 4_096, 512
	appendTurns(tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: "u-1"}, 20,
		turn("Hello", "Hi! How can I help?", 12, 7, 1_234, "c-1", at),
		long,
		turn("Thanks", "You're welcome.", 20_000, 5, 2_000_001, "c-3", at.Add(2*time.Minute)))
	appendTurns(tenancy.SessionKey{TenantID: "acme", AgentID: "sales", SessionID: "u-1"}, 0,
		turn("price?", "$10", 3, 2, 99, "c-s1", at), turn("and now?", "$11", 4, 2, 101, "c-s2", at.Add(time.Second)))
	appendTurns(tenancy.SessionKey{TenantID: "globex", AgentID: "sales", SessionID: "chat:42@web.example"}, 20,
		turn("Quote for 5 seats", "5 x $20 = $100", 30, 12, 55_555, "c-g1", at))
	appendTurns(tenancy.SessionKey{TenantID: "initech", AgentID: "support", SessionID: "near-expiry"}, 20,
		turn("still there?", "yes", 5, 1, 7, "c-n1", exportNow.Add(-30*24*time.Hour+time.Nanosecond)))
	appendTurns(tenancy.SessionKey{TenantID: "initech", AgentID: "support", SessionID: "gone"}, 20,
		turn("old", "news", 5, 1, 7, "c-o1", exportNow.Add(-30*24*time.Hour)))
}

// export exports s at exportNow.
func export(t *testing.T, s backup.Store) string {
	t.Helper()
	out, _ := exportExpired(t, s)
	return out
}

// exportExpired exports s at exportNow and returns the number of expired
// sessions left out.
func exportExpired(t *testing.T, s backup.Store) (string, int) {
	t.Helper()
	var b bytes.Buffer
	_, expired, err := backup.Write(context.Background(), s, &b, exportNow)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), expired
}

// load imports data at exportNow.
func load(t *testing.T, s backup.Store, data string) int {
	t.Helper()
	n, expired, err := backup.Read(context.Background(), s, strings.NewReader(data), exportNow)
	if err != nil {
		t.Fatal(err)
	}
	if expired != 0 {
		t.Fatalf("%d sessions skipped as expired", expired)
	}
	return n
}

// view is everything the API can read of a tenant.
func view(t *testing.T, s store, id, key string) []any {
	t.Helper()
	ctx := context.Background()
	tn, err := s.GetTenant(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	agents, _ := s.ListAgents(ctx, id)
	hist, _ := s.History(ctx, id, "2026-11-01", "2026-12-31")
	calls, _ := s.OpenCalls(ctx, id)
	k, ok, _ := s.KeyByHash(ctx, auth.Hash(key))
	alerts, _ := s.Alerts(ctx, id, 100)
	agentDays, _ := s.AgentDays(ctx, id, "2026-11-01", "2026-12-31")
	v := []any{tn, agents, hist, calls, k, ok, alerts, agentDays}
	for _, a := range agents {
		list, next, err := s.ListSessions(ctx, id, a.AgentID, exportNow, 100, "")
		if err != nil || next != "" {
			t.Fatal(next, err)
		}
		v = append(v, list)
		for _, l := range list {
			sess, err := s.GetSession(ctx, tenancy.SessionKey{TenantID: id, AgentID: a.AgentID, SessionID: l.SessionID})
			if err != nil {
				t.Fatal(err)
			}
			v = append(v, sess)
		}
	}
	return v
}

// Embedded -> DynamoDB (minidyn) -> embedded: the three exports are the
// same bytes, and every tenant reads the same in the three stores, to the
// nano.
func TestRoundTripEmbeddedDynamoEmbedded(t *testing.T) {
	a := boltStore(t)
	keys := populate(t, a)
	first, expired := exportExpired(t, a)
	if expired != 1 { // initech's "gone"
		t.Fatalf("%d expired sessions left out, want 1", expired)
	}
	n := strings.Count(first, "\n")
	// 3 tenants x (1 + 2 agents + 1 key) + 2 open calls + 8 history days (3 each for acme and
	// initech, whose windows are on the 29th; 2 for globex, whose window is still the 28th) + 1 alert
	// + 19 agent days (support and sales of each tenant on 3 days, initech's support on the 29th)
	// + 4 sessions (the expired one left out)
	if n != 3*4+2+8+1+19+4 {
		t.Fatalf("%d records:\n%s", n, first)
	}
	for _, want := range []string{`"kind":"tenant"`, `"kind":"agent"`, `"kind":"key"`, `"kind":"call"`, `"kind":"day"`,
		`"recorded":{"failed":false,"input_tokens":11,"output_tokens":22,"cache_read_tokens":3`, `"cost_nanos":345678`,
		`"max_cost_nanos_per_day":7123456789`,
		`"metadata":{"big":9007199254740993,"hundred":1E+2,"neg_zero":-0.0,"nested":{"n":-9007199254740995},"plan":"gold","price":1.10,"seats":12.5,"tags":["a","b"]}`, `"max_cost_nanos_per_month":99123456789,"month":"2026-11"`, `"timezone":"Asia/Tokyo","prev_timezone":"UTC","timezone_from":"2026-11-30T00:00:00Z"`, `"created_at":"2026-11-26T09:15:00.123456789Z"`,
		`"session_ttl_days":7,`, `"session_ttl_days":30,`, `"max_history_turns":0,`, `"max_history_turns":20,`,
		`"kind":"alert"`, `"period":"day","period_key":"2026-11-29","threshold_pct":1`, `"overage_nanos":79999000`,
		`{"kind":"agent_day","agent_day":{"tenant_id":"initech","date":"2026-11-29","agent_id":"support","queries":1,"input_tokens":5,"output_tokens":7,"cache_read_tokens":0,"cache_write_tokens":0,"cost_nanos":80000000}}`,
		`"openclaw_gateway_url":"https://gw.initech.example","openclaw_gateway_token_secret":"tenancy-dev/tenant-gateway/initech","alert_thresholds_pct":[1,50],"day_alert_pct":1,"month_alert_pct":0`,
		`{"kind":"session","session":{"tenant_id":"acme","agent_id":"sales","session_id":"u-1","turns":[],"total_turns":2,"cost_nanos":200,"created_at":"2026-11-28T10:00:00.987654321Z","last_at":"2026-11-28T10:00:01.987654321Z","expires_at":"2026-12-05T10:00:01.987654321Z","version":2}}`,
		`{"kind":"session","session":{"tenant_id":"acme","agent_id":"support","session_id":"u-1","turns":[{"query":"Hello","answer":"Hi! How can I help?","answer_truncated":false,"input_tokens":12,"output_tokens":7,"cache_read_tokens":0,"cache_write_tokens":0,"cost_nanos":1234,"call_id":"c-1","at":"2026-11-28T10:00:00.987654321Z"},`,
		`"answer_truncated":true,"input_tokens":9000,"output_tokens":16000,"cache_read_tokens":4096,"cache_write_tokens":512,"cost_nanos":123456789,"call_id":"c-long"`,
		`"total_turns":3,"cost_nanos":125458024,"created_at":"2026-11-28T10:00:00.987654321Z","last_at":"2026-11-28T10:02:00.987654321Z","expires_at":"2026-12-05T10:02:00.987654321Z","version":3}}`,
		`"session_id":"chat:42@web.example"`, `"session_id":"near-expiry"`, `"expires_at":"2026-11-29T09:15:00.12345679Z"`} {
		if !strings.Contains(first, want) {
			t.Fatalf("export lacks %s:\n%s", want, first)
		}
	}

	if strings.Contains(first, `"session_id":"gone"`) {
		t.Fatalf("the expired session was exported:\n%s", first)
	}
	// Each tenant's records in the canonical order, sessions last (agent,
	// then session id).
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(first), "\n") {
		var r backup.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		o := r.Kind + ":" + r.TenantID()
		if r.Session != nil {
			o += "/" + r.Session.AgentID + "/" + r.Session.SessionID
		}
		order = append(order, o)
	}
	agentDays := func(tenant string, n int) string { return strings.Repeat("agent_day:"+tenant+" ", n) }
	want := "tenant:acme agent:acme agent:acme key:acme call:acme day:acme day:acme day:acme " + agentDays("acme", 6) +
		"session:acme/sales/u-1 session:acme/support/u-1 " +
		"tenant:globex agent:globex agent:globex key:globex day:globex day:globex " + agentDays("globex", 6) +
		"session:globex/sales/chat:42@web.example " +
		"tenant:initech agent:initech agent:initech key:initech call:initech day:initech day:initech day:initech " +
		agentDays("initech", 7) + "alert:initech session:initech/support/near-expiry"
	if got := strings.Join(order, " "); got != want {
		t.Fatalf("records in the order\n%s\nwant\n%s", got, want)
	}

	d, db := dynamoStoreDB(t)
	if got := load(t, d, first); got != n {
		t.Fatalf("imported %d of %d", got, n)
	}
	second, expired := exportExpired(t, d)
	if second != first || expired != 0 {
		t.Fatalf("DynamoDB export differs from the embedded one:\n%s\n---\n%s", first, second)
	}
	b := boltStore(t)
	load(t, b, second)
	if third := export(t, b); third != first {
		t.Fatalf("re-imported export differs:\n%s\n---\n%s", first, third)
	}
	for i, id := range []string{"acme", "globex", "initech"} {
		va, vd, vb := view(t, a, id, keys[i]), view(t, d, id, keys[i]), view(t, b, id, keys[i])
		if !reflect.DeepEqual(va, vd) || !reflect.DeepEqual(va, vb) {
			t.Fatalf("tenant %s reads differently:\nembedded %+v\ndynamodb %+v\nre-imported %+v", id, va, vd, vb)
		}
		if !va[5].(bool) {
			t.Fatalf("key of %s not found", id)
		}
	}
	// A session's history reads back through the SessionStore API as
	// it was written, to the nanosecond and the nano-USD, on both sides.
	k := tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: "u-1"}
	orig, err := a.GetSession(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	truncated := strings.ToValidUTF8(longAnswer[:tenancy.MaxStoredAnswerBytes], "")
	if len(orig.Turns) != 3 || orig.Turns[1].Answer != truncated || !orig.Turns[1].Truncated || orig.TotalTurns != 3 ||
		orig.Cost != 1_234+123_456_789+2_000_001 || orig.Version != 3 || orig.TTLDays != 7 ||
		!orig.ExpiresAt.Equal(time.Date(2026, 12, 5, 10, 2, 0, 987654321, time.UTC)) ||
		orig.Turns[1].Tokens != (tenancy.Tokens{Input: 9_000, Output: 16_000, CacheRead: 4_096, CacheWrite: 512}) {
		t.Fatalf("acme/support/u-1 as written: %+v", orig)
	}
	for name, s := range map[string]store{"dynamodb": d, "re-imported": b} {
		got, err := s.GetSession(context.Background(), k)
		if err != nil || !reflect.DeepEqual(got, orig) {
			t.Fatalf("%s: acme/support/u-1 reads %+v, %v\nwant %+v", name, got, err, orig)
		}
		for _, gone := range []string{"gone", "never"} {
			got, err := s.GetSession(context.Background(), tenancy.SessionKey{TenantID: "initech", AgentID: "support", SessionID: gone})
			if err != nil || got.Version != 0 {
				t.Fatalf("%s: initech/support/%s: %+v, %v", name, gone, got, err)
			}
		}
		near, err := s.GetSession(context.Background(), tenancy.SessionKey{TenantID: "initech", AgentID: "support", SessionID: "near-expiry"})
		if err != nil || !near.Live(exportNow) || near.Live(exportNow.Add(time.Nanosecond)) {
			t.Fatalf("%s: near-expiry: %+v, %v", name, near, err)
		}
	}
	// On DynamoDB the imported session carries the TTL attribute (epoch
	// seconds of its expiry).
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: d.TableName(), Key: map[string]types.AttributeValue{
		schema.PartitionKey: &types.AttributeValueMemberS{Value: "TENANT#acme"},
		schema.SortKey:      &types.AttributeValueMemberS{Value: "SESSION#support#u-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ttl, ok := out.Item[schema.TTLAttribute].(*types.AttributeValueMemberN); !ok || ttl.Value != "1796464920" {
		t.Fatalf("TTL attribute of the imported session: %#v", out.Item[schema.TTLAttribute])
	}

	tn := view(t, b, "acme", keys[0])[0].(tenancy.Tenant)
	if tn.TotalQueries != 2+3+4 || tn.Usage.Reserved != 15_791_250 || tn.Metadata["seats"] != json.Number("12.5") ||
		tn.Metadata["big"] != json.Number("9007199254740993") || tn.Metadata["price"] != json.Number("1.10") ||
		tn.Metadata["hundred"] != json.Number("1E+2") || tn.Metadata["neg_zero"] != json.Number("-0.0") ||
		tn.SessionTTLDays != 7 {
		t.Fatalf("acme after the round trip: %+v", tn)
	}

	// The moved deployment works on: the recorded settlement is applied once
	// by the reset, the same on both sides.
	for _, s := range []store{d, b} {
		svc := tenancy.New(tenancy.Options{Store: s, Clock: clock.NewManual(time.Date(2026, 11, 30, 0, 0, 1, 0, time.UTC)),
			Catalog: catalog.Default()})
		sum, err := svc.DailyReset(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Tenants != 3 || sum.Applied != 1 || sum.Released != 1 {
			t.Fatalf("reset after the move: %+v", sum)
		}
	}
	if ed, eb := export(t, d), export(t, b); ed != eb {
		t.Fatalf("after the reset:\n%s\n---\n%s", ed, eb)
	}
}

func TestImportRefusals(t *testing.T) {
	a := boltStore(t)
	populate(t, a)
	data := export(t, a)
	// A session of an agent the store does not have (a hand-edited or
	// partial file): refused with the agent's 404 message, nothing written.
	ghost := `{"kind":"session","session":{"tenant_id":"acme","agent_id":"ghost","session_id":"u-9","turns":[` +
		`{"query":"hi","answer":"hello","answer_truncated":false,"input_tokens":1,"output_tokens":1,"cache_read_tokens":0,` +
		`"cache_write_tokens":0,"cost_nanos":5,"call_id":"c-9","at":"2026-11-29T09:00:00Z"}],"total_turns":1,"cost_nanos":5,` +
		`"created_at":"2026-11-29T09:00:00Z","last_at":"2026-11-29T09:00:00Z","expires_at":"2026-12-29T09:00:00Z","version":1}}` + "\n"
	for name, s := range map[string]store{"bolt": a, "dynamodb": func() store {
		d := dynamoStore(t)
		load(t, d, data)
		return d
	}()} {
		_, _, err := backup.Read(context.Background(), s, strings.NewReader(data), exportNow)
		if !errors.Is(err, tenancy.ErrTenantExists) || !strings.HasPrefix(err.Error(), `line 1 (tenant of tenant "acme"): `) {
			t.Fatalf("%s: importing into a store that has the tenants: %v", name, err)
		}
		n, _, err := backup.Read(context.Background(), s, strings.NewReader("\n"+ghost), exportNow)
		if n != 0 || !errors.Is(err, tenancy.ErrAgentNotFound) ||
			err.Error() != `line 2 (session of tenant "acme"): Agent 'ghost' not found for tenant 'acme'` {
			t.Fatalf("%s: a session of a missing agent: %d, %v", name, n, err)
		}
		got, err := s.GetSession(context.Background(), tenancy.SessionKey{TenantID: "acme", AgentID: "ghost", SessionID: "u-9"})
		if err != nil || got.Version != 0 {
			t.Fatalf("%s: the refused session was written: %+v, %v", name, got, err)
		}
	}
	// The same line when it has expired at the time of the import: skipped.
	n, expired, err := backup.Read(context.Background(), a, strings.NewReader(ghost), time.Date(2026, 12, 29, 9, 0, 0, 0, time.UTC))
	if n != 0 || expired != 1 || err != nil {
		t.Fatalf("an expired session line: %d written, %d skipped, %v", n, expired, err)
	}
	// A file exported earlier, imported when near-expiry has just expired:
	// every other record is written, that session is not brought back.
	late := boltStore(t)
	n, expired, err = backup.Read(context.Background(), late, strings.NewReader(data), exportNow.Add(time.Nanosecond))
	if n != strings.Count(data, "\n")-1 || expired != 1 || err != nil {
		t.Fatalf("a late import: %d written, %d skipped, %v", n, expired, err)
	}
	if got, err := late.GetSession(context.Background(), tenancy.SessionKey{TenantID: "initech", AgentID: "support",
		SessionID: "near-expiry"}); err != nil || got.Version != 0 {
		t.Fatalf("near-expiry came back: %+v, %v", got, err)
	}
	empty := boltStore(t)
	for _, c := range []struct{ in, msg string }{
		{"{\"kind\":\"tenant\"}\n", `line 1: a "tenant" record must have exactly its "tenant" part`},
		{"\n{\"kind\":\"robot\"}\n", `line 2: unknown record kind "robot"`},
		{`{"kind":"agent","agent":{"tenant_id":"a/b","agent_id":"x"}}`, `line 1: id "a/b" is not a valid id ([a-zA-Z0-9_-]{1,64})`},
		{`{"kind":"key","key":{"tenant_id":"a","key_id":"k","hash":"zz"}}`, `line 1: key hash "zz" is not a hex SHA-256`},
		{`{"kind":"day","day":{"tenant_id":"a","date":"yesterday"}}`, `line 1: date "yesterday" is not a date YYYY-MM-DD`},
		{`{"kind":"agent_day","agent_day":{"tenant_id":"a","date":"2026-11-31","agent_id":"x"}}`, `line 1: agent day date "2026-11-31" is not a date YYYY-MM-DD`},
		{`{"kind":"agent_day","agent_day":{"tenant_id":"a","date":"2026-11-30","agent_id":"x/y"}}`, `line 1: id "x/y" is not a valid id ([a-zA-Z0-9_-]{1,64})`},
		{`{"kind":"agent_day","day":{"tenant_id":"a","date":"2026-11-30"}}`, `line 1: a "agent_day" record must have exactly its "agent_day" part`},
		{`{"kind":"tenant","tenant":{"tenant_id":"a","surprise":1}}`, `line 1: json: unknown field "surprise"`},
		{`not json`, `line 1: invalid character 'o' in literal null (expecting 'u')`},
		{`{"kind":"session","tenant":{"tenant_id":"a"}}`, `line 1: a "session" record must have exactly its "session" part`},
		{`{"kind":"session","session":{"tenant_id":"a","agent_id":"x","session_id":"a b","version":1}}`,
			`line 1: session "a b": session_id must match ^[A-Za-z0-9_.:@-]{1,128}$`},
		{`{"kind":"session","session":{"tenant_id":"a","agent_id":"x#y","session_id":"s","version":1}}`,
			`line 1: id "x#y" is not a valid id ([a-zA-Z0-9_-]{1,64})`},
		{`{"kind":"session","session":{"tenant_id":"a","agent_id":"x","session_id":"s","version":0,"expires_at":"2027-01-01T00:00:00Z"}}`,
			`line 1: session "s": version 0 is not 1 or more`},
		{`{"kind":"session","session":{"tenant_id":"a","agent_id":"x","session_id":"s","version":1}}`,
			`line 1: session "s" has no expires_at`},
		{`{"kind":"session","session":{"tenant_id":"a","agent_id":"x","session_id":"s","version":1,"total_turns":0,` +
			`"turns":[{"query":"q","answer":"a","at":"2026-11-29T09:00:00Z"}],"expires_at":"2027-01-01T00:00:00Z"}}`,
			`line 1: session "s": total_turns 0 is less than its 1 turns`},
		{`{"kind":"session","session":{"tenant_id":"a","agent_id":"x","session_id":"s","version":1,"total_turns":1,` +
			`"turns":[{"query":"q","answer":"a","output_tokens":-1,"at":"2026-11-29T09:00:00Z"}],"expires_at":"2027-01-01T00:00:00Z"}}`,
			`line 1: session "s": a turn has a negative count`},
		{`{"kind":"session","session":{"tenant_id":"a","agent_id":"x","session_id":"s","version":1,"total_turns":1,` +
			`"turns":[{"query":"q","answer":"` + strings.Repeat("x", tenancy.MaxStoredAnswerBytes+1) + `","at":"2026-11-29T09:00:00Z"}],` +
			`"expires_at":"2027-01-01T00:00:00Z"}}`,
			`line 1: session "s": an answer of 65537 bytes is over 65536`},
		{`{"kind":"session","session":{"tenant_id":"a","agent_id":"x","session_id":"s","version":1,"turns":[{"role":"user"}]}}`,
			`line 1: json: unknown field "role"`},
	} {
		_, _, err := backup.Read(context.Background(), empty, strings.NewReader(c.in), exportNow)
		if err == nil || err.Error() != c.msg {
			t.Fatalf("import %q: %v, want %s", c.in, err, c.msg)
		}
	}
	if export(t, empty) != "" {
		t.Fatal("a refused import wrote something")
	}
}

// A session whose agent was deleted (deleting an agent leaves its sessions
// to their TTL) is not exported by either store: the backup only holds
// sessions an import can attach to an agent.
func TestExportLeavesOutSessionsOfDeletedAgents(t *testing.T) {
	ctx := context.Background()
	for name, s := range map[string]store{"bolt": boltStore(t), "dynamodb": dynamoStore(t)} {
		svc := tenancy.New(tenancy.Options{Store: s, Clock: clock.NewManual(exportNow), Catalog: catalog.Default()})
		if _, err := svc.RegisterTenant(ctx, tenancy.NewTenantConfig("acme")); err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"kept", "removed"} {
			if _, err := svc.CreateAgent(ctx, "acme", tenancy.NewAgentConfig(a)); err != nil {
				t.Fatal(err)
			}
			k := tenancy.SessionKey{TenantID: "acme", AgentID: a, SessionID: "u-1"}
			base, err := s.GetSession(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AppendTurn(ctx, base, tenancy.Turn{Query: "q", Answer: "a", CallID: "c-" + a, At: exportNow}, 20); err != nil {
				t.Fatal(err)
			}
		}
		if err := svc.DeleteAgent(ctx, "acme", "removed"); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		n, expired, err := backup.Write(ctx, s, &b, exportNow)
		if err != nil || n != 3 || expired != 0 || !strings.Contains(b.String(), `"agent_id":"kept","session_id":"u-1"`) ||
			strings.Contains(b.String(), `"agent_id":"removed"`) {
			t.Fatalf("%s: %d records, %d expired, %v:\n%s", name, n, expired, err, b.String())
		}
	}
}

// Hand-edited lines are checked with the API's own validators and refused
// with their line number and the validator's message; nothing is written.
func TestImportValidatesEveryRecord(t *testing.T) {
	a := boltStore(t)
	populate(t, a)
	lines := strings.Split(export(t, a), "\n")
	tenant, agent, key := lines[0], lines[1], lines[3]
	if !strings.HasPrefix(tenant, `{"kind":"tenant","tenant":{"tenant_id":"acme",`) || !strings.HasPrefix(agent, `{"kind":"agent"`) ||
		!strings.HasPrefix(key, `{"kind":"key"`) {
		t.Fatalf("unexpected export:\n%s\n%s\n%s", tenant, agent, key)
	}
	edit := func(line, old, new string) string {
		t.Helper()
		if !strings.Contains(line, old) {
			t.Fatalf("%s lacks %s", line, old)
		}
		return strings.Replace(line, old, new, 1)
	}
	const acme = `line 1 (tenant of tenant "acme"): `
	for _, c := range []struct{ in, msg string }{
		{edit(tenant, `"timezone":"UTC"`, `"timezone":"Mars/Olympus"`),
			acme + `timezone must be an IANA time zone name such as Europe/Paris or UTC`},
		{edit(tenant, `"timezone":"UTC"`, `"timezone":"UTC","prev_timezone":"Mars/Olympus","timezone_from":"2026-11-30T00:00:00Z"`),
			acme + `prev_timezone: timezone must be an IANA time zone name such as Europe/Paris or UTC`},
		{edit(tenant, `"max_agents":10,`, `"max_agents":-5,`), acme + `max_agents must be between 0 and 10000`},
		{edit(tenant, `"max_cost_nanos_per_day":7123456789,`, `"max_cost_nanos_per_day":-100,`),
			acme + `max_cost_usd_per_day must be between 0 and ` + tenancy.MaxMoney.Decimal()},
		{edit(tenant, `"max_cost_nanos_per_month":null`, `"max_cost_nanos_per_month":-1`),
			acme + `max_cost_usd_per_month must be null or between 0 and ` + tenancy.MaxMoney.Decimal()},
		{edit(tenant, `"alert_thresholds_pct":[80,100]`, `"alert_thresholds_pct":[0,500]`),
			acme + `alert_thresholds_pct entries must be integers between 1 and 100`},
		{edit(tenant, `"alert_thresholds_pct":[80,100]`, `"alert_thresholds_pct":[100,80]`),
			acme + `alert_thresholds_pct must be in ascending order without repeats (as the API stores them)`},
		{edit(tenant, `"name":"ACME Inc."`, `"name":""`), acme + `name must be 1 to 256 characters`},
		{edit(tenant, `"session_ttl_days":7`, `"session_ttl_days":-1`), acme + `session_ttl_days must be between 1 and 3650`},
		{edit(tenant, `"allowed_tools":["calculator","web_search"]`, `"allowed_tools":["rm -rf"]`),
			acme + `allowed_tools entries must match ^[a-zA-Z0-9_.:/@+-]{1,128}$`},
		{edit(tenant, `"tenant_id":"acme"`, `"tenant_id":"UP-per"`),
			`line 1 (tenant of tenant "UP-per"): tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)`},
		{tenant + "\n" + edit(agent, `"max_output_tokens":1024`, `"max_output_tokens":0`),
			`line 2 (agent of tenant "acme"): max_output_tokens must be between 1 and 200000`},
		{tenant + "\n" + edit(agent, `"agent_id":"sales"`, `"agent_id":"Sales"`),
			`line 2 (agent of tenant "acme"): agent_id must match ^[a-z0-9][a-z0-9_-]{0,23}$ (lowercase letters, digits, underscores and hyphens, at most 24 characters)`},
		{tenant + "\n" + edit(agent, `"max_history_turns":0`, `"max_history_turns":-2`),
			`line 2 (agent of tenant "acme"): max_history_turns must be between 0 and 100`},
		// References: a tenant twice, a record before (or without) its
		// tenant, an agent twice.
		{tenant + "\n\n" + tenant, `line 3 (tenant of tenant "acme"): tenant "acme" is in the file twice`},
		{key + "\n" + tenant, `line 1 (key of tenant "acme"): Tenant 'acme' not found`},
		{tenant + "\n" + agent + "\n" + agent, `line 3 (agent of tenant "acme"): agent "sales" of tenant "acme" is in the file twice`},
	} {
		empty := boltStore(t)
		n, _, err := backup.Read(context.Background(), empty, strings.NewReader(c.in), exportNow)
		if n != 0 || err == nil || err.Error() != c.msg {
			t.Fatalf("import %s\n%d written, %v\nwant %s", c.in, n, err, c.msg)
		}
		if got := export(t, empty); got != "" {
			t.Fatalf("a refused import wrote:\n%s", got)
		}
	}
	for _, want := range []string{"max_agents must be between 0 and 10000", "max_output_tokens must be between 1 and 200000"} {
		if !strings.Contains(fmt.Sprint(tenancy.TenantConfig{TenantID: "a", Name: "a", MaxAgents: -1}.Validate(),
			tenancy.AgentConfig{AgentID: "a", Name: "a", SystemPrompt: "p", LLMModel: "m"}.Validate()), want) {
			t.Fatalf("the API's validators do not say %q", want)
		}
	}
}

// A file whose last line is bad writes nothing (bolt and DynamoDB); once
// fixed, it imports whole (no "already registered" from a first attempt).
func TestImportIsAllOrNothing(t *testing.T) {
	a := boltStore(t)
	populate(t, a)
	data := export(t, a)
	total := strings.Count(data, "\n")
	bad := data + `{"kind":"day","day":{"tenant_id":"acme","date":"2026-13-01"}}` + "\n"
	badLine := fmt.Sprintf(`line %d: date "2026-13-01" is not a date YYYY-MM-DD`, total+1)
	for name, s := range map[string]store{"bolt": boltStore(t), "dynamodb": dynamoStore(t)} {
		n, _, err := backup.Read(context.Background(), s, strings.NewReader(bad), exportNow)
		if n != 0 || err == nil || err.Error() != badLine {
			t.Fatalf("%s: %d written, %v", name, n, err)
		}
		if got := export(t, s); got != "" {
			t.Fatalf("%s: a refused import wrote:\n%s", name, got)
		}
		// A record of a tenant neither in the file nor in the store, last.
		orphan := data + `{"kind":"day","day":{"tenant_id":"hooli","date":"2026-11-01"}}` + "\n"
		n, _, err = backup.Read(context.Background(), s, strings.NewReader(orphan), exportNow)
		if want := fmt.Sprintf(`line %d (day of tenant "hooli"): Tenant 'hooli' not found`, total+1); n != 0 ||
			!errors.Is(err, tenancy.ErrTenantNotFound) || err.Error() != want {
			t.Fatalf("%s: %d written, %v, want %s", name, n, err, want)
		}
		if got := export(t, s); got != "" {
			t.Fatalf("%s: a refused import wrote:\n%s", name, got)
		}
		if got := load(t, s, data); got != total {
			t.Fatalf("%s: the fixed file imported %d of %d records", name, got, total)
		}
		if got := export(t, s); got != data {
			t.Fatalf("%s: after the fixed import:\n%s\nwant\n%s", name, got, data)
		}
	}
	// A good tenant, then a bad line: the tenant is not kept.
	s := boltStore(t)
	first := strings.SplitN(data, "\n", 2)[0]
	in := first + "\n" + strings.NewReplacer(`"tenant_id":"acme"`, `"tenant_id":"beta"`, `"max_agents":10,`, `"max_agents":-5,`).Replace(first)
	if _, _, err := backup.Read(context.Background(), s, strings.NewReader(in), exportNow); err == nil ||
		err.Error() != `line 2 (tenant of tenant "beta"): max_agents must be between 0 and 10000` {
		t.Fatalf("a bad second line: %v", err)
	}
	if _, err := s.GetTenant(context.Background(), "acme"); !errors.Is(err, tenancy.ErrTenantNotFound) {
		t.Fatalf("the first tenant was kept: %v", err)
	}
}
