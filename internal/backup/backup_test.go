package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/backup"
	"github.com/openclaw/tenancy/internal/boltstore"
	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/ddblocal"
	"github.com/openclaw/tenancy/internal/dynamostore"
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
	return dynamostore.New(db, table)
}

// populate gives a store three tenants with everything a store keeps:
// configs with metadata and lists, agents, keys (one revoked), three days
// of calls (history, a manual reset, a failed call), an open call and an
// open call with a recorded settlement.
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
			cfg.Metadata = map[string]any{"plan": "gold", "seats": 12.5, "tags": []any{"a", "b"}}
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
	if _, err := svc.UpdateTenant(ctx, "initech", tenancy.TenantPatch{OpenClawGatewayURL: &gw,
		OpenClawTokenSecret: &gwSecret, AlertThresholds: &pcts}); err != nil {
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
	return plain
}

func export(t *testing.T, s backup.Store) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := backup.Write(context.Background(), s, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func load(t *testing.T, s backup.Store, data string) int {
	t.Helper()
	n, err := backup.Read(context.Background(), s, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
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
	return []any{tn, agents, hist, calls, k, ok, alerts, agentDays}
}

// Embedded -> DynamoDB (minidyn) -> embedded: the three exports are the
// same bytes, and every tenant reads the same in the three stores, to the
// nano.
func TestRoundTripEmbeddedDynamoEmbedded(t *testing.T) {
	a := boltStore(t)
	keys := populate(t, a)
	first := export(t, a)
	n := strings.Count(first, "\n")
	// 3 tenants x (1 + 2 agents + 1 key) + 2 open calls + 8 history days (3 each for acme and
	// initech, whose windows are on the 29th; 2 for globex, whose window is still the 28th) + 1 alert
	// + 19 agent days (support and sales of each tenant on 3 days, initech's support on the 29th)
	if n != 3*4+2+8+1+19 {
		t.Fatalf("%d records:\n%s", n, first)
	}
	for _, want := range []string{`"kind":"tenant"`, `"kind":"agent"`, `"kind":"key"`, `"kind":"call"`, `"kind":"day"`,
		`"recorded":{"failed":false,"input_tokens":11,"output_tokens":22,"cache_read_tokens":3`, `"cost_nanos":345678`,
		`"max_cost_nanos_per_day":7123456789`, `"max_cost_nanos_per_month":99123456789,"month":"2026-11"`, `"timezone":"Asia/Tokyo","prev_timezone":"UTC","timezone_from":"2026-11-30T00:00:00Z"`, `"created_at":"2026-11-26T09:15:00.123456789Z"`,
		`"session_ttl_days":7,`, `"session_ttl_days":30,`, `"max_history_turns":0,`, `"max_history_turns":20,`,
		`"kind":"alert"`, `"period":"day","period_key":"2026-11-29","threshold_pct":1`, `"overage_nanos":79999000`,
		`{"kind":"agent_day","agent_day":{"tenant_id":"initech","date":"2026-11-29","agent_id":"support","queries":1,"input_tokens":5,"output_tokens":7,"cache_read_tokens":0,"cache_write_tokens":0,"cost_nanos":80000000}}`,
		`"openclaw_gateway_url":"https://gw.initech.example","openclaw_gateway_token_secret":"tenancy-dev/tenant-gateway/initech","alert_thresholds_pct":[1,50],"day_alert_pct":1,"month_alert_pct":0`} {
		if !strings.Contains(first, want) {
			t.Fatalf("export lacks %s:\n%s", want, first)
		}
	}

	d := dynamoStore(t)
	if got := load(t, d, first); got != n {
		t.Fatalf("imported %d of %d", got, n)
	}
	second := export(t, d)
	if second != first {
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
	tn := view(t, b, "acme", keys[0])[0].(tenancy.Tenant)
	if tn.TotalQueries != 2+3+4 || tn.Usage.Reserved != 15_791_250 || tn.Metadata["seats"] != json.Number("12.5") ||
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
	for name, s := range map[string]backup.Store{"bolt": a, "dynamodb": func() backup.Store {
		d := dynamoStore(t)
		load(t, d, data)
		return d
	}()} {
		_, err := backup.Read(context.Background(), s, strings.NewReader(data))
		if !errors.Is(err, tenancy.ErrTenantExists) || !strings.HasPrefix(err.Error(), `line 1 (tenant of tenant "acme"): `) {
			t.Fatalf("%s: importing into a store that has the tenants: %v", name, err)
		}
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
	} {
		_, err := backup.Read(context.Background(), empty, strings.NewReader(c.in))
		if err == nil || err.Error() != c.msg {
			t.Fatalf("import %q: %v, want %s", c.in, err, c.msg)
		}
	}
	if export(t, empty) != "" {
		t.Fatal("a refused import wrote something")
	}
}
