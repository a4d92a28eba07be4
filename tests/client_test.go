package tests

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/apiclient"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/localapi"
	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

func ptr[T any](v T) *T { return &v }

// makeRun starts the local API as `make run` does (cmd/tenancy-local):
// nothing but the environment, so the real clock, the offline dev provider
// and the default store (bolt, in a fresh directory); its responses are
// checked against its document.
func makeRun(t *testing.T) string {
	t.Helper()
	env := map[string]string{"TENANCY_ADMIN_KEY": adminKey, "TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_DATA_DIR": t.TempDir()}
	loc, err := localapi.Start(context.Background(), localapi.Options{App: app.Options{
		Getenv: func(k string) string { return env[k] }, Logger: newTestLogger(&logBuffer{})}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- loc.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		loc.Close()
	})
	contract.validate(t, loc.URL)
	return loc.URL
}

func newClient(t *testing.T, url, key string) *apiclient.ClientWithResponses {
	t.Helper()
	c, err := apiclient.NewClientWithResponses(url, apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantStatus fails unless a generated client's call got the status.
func wantStatus(t *testing.T, what string, err error, got interface{ StatusCode() int }, body []byte, status int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got.StatusCode() != status {
		t.Fatalf("%s: status %d, want %d: %s", what, got.StatusCode(), status, body)
	}
}

func usd(nanos int64) float64 { return float64(nanos) / 1e9 }

// The seed's Quick Start and the README walkthrough through the Go client
// that oapi-codegen generated from the API document, against make run's
// server. Costs are exact: claude-sonnet-4 is 3,000 nano-USD per input token
// and 15,000 per output token; the dev provider counts one token per started
// 4 bytes.
func TestGeneratedClientQuickStart(t *testing.T) {
	url := makeRun(t)
	ctx := context.Background()
	admin := newClient(t, url, adminKey)
	const prompt = "You are Acme Corp support."
	cost := func(query, answer string) int64 {
		return (provider.DevTokens(prompt)+provider.DevTokens(query))*3000 + provider.DevTokens(answer)*15000
	}

	reg, err := admin.RegisterTenantWithResponse(ctx, apiclient.TenantInput{TenantId: "acme", Name: ptr("Acme Corp"),
		MaxAgents: ptr(5), MaxCostUsdPerDay: ptr(10.0), AllowedModels: &[]string{"claude-sonnet-4-20250514", "gpt-4o-mini"}})
	wantStatus(t, "register", err, reg, reg.Body, 201)
	tn := reg.JSON201
	eq(t, "tenant", fmt.Sprint(tn.TenantId, tn.Name, tn.MaxAgents, tn.MaxCostUsdPerDay, tn.MaxQueriesPerHour, tn.IsActive, tn.AllowedModels),
		"acmeAcme Corp5 10 1000 true [claude-sonnet-4-20250514 gpt-4o-mini]")

	ag, err := admin.CreateAgentWithResponse(ctx, "acme", apiclient.AgentInput{AgentId: "support", SystemPrompt: ptr(prompt)})
	wantStatus(t, "create agent", err, ag, ag.Body, 201)
	eq(t, "agent", fmt.Sprint(ag.JSON201.AgentId, " ", ag.JSON201.ShortId, " ", ag.JSON201.LlmModel, " ", ag.JSON201.MaxOutputTokens),
		"tenant-acme-support support claude-sonnet-4-20250514 1024")

	ex, err := admin.ExecuteAgentWithResponse(ctx, "acme", "support", nil, apiclient.ExecuteInput{Query: "Help me reset my password"})
	wantStatus(t, "execute", err, ex, ex.Body, 200)
	r := ex.JSON200
	eq(t, "execute", fmt.Sprint(r.AgentId, " ", r.Model, " ", r.Provider, " ", r.Usage.InputTokens, " ", r.Usage.OutputTokens, " ", r.CostUsd),
		"tenant-acme-support claude-sonnet-4-20250514 dev 14 22 0.000372")
	eq(t, "content", strings.HasSuffix(r.Content, "] You asked: Help me reset my password"), true)
	spent := cost("Help me reset my password", r.Content)
	eq(t, "cost", r.CostUsd, usd(spent))

	// Idempotency-Key: the retry is the stored answer, not a second call.
	idem := &apiclient.ExecuteAgentParams{IdempotencyKey: ptr("order-42")}
	first, err := admin.ExecuteAgentWithResponse(ctx, "acme", "support", idem, apiclient.ExecuteInput{Query: "Where is order 42?"})
	wantStatus(t, "idempotent execute", err, first, first.Body, 200)
	again, err := admin.ExecuteAgentWithResponse(ctx, "acme", "support", idem, apiclient.ExecuteInput{Query: "Where is order 42?"})
	wantStatus(t, "replay", err, again, again.Body, 200)
	eq(t, "replayed", again.HTTPResponse.Header.Get("Idempotent-Replayed")+" "+fmt.Sprint(string(again.Body) == string(first.Body)), "true true")
	spent += cost("Where is order 42?", first.JSON200.Content)

	key, err := admin.CreateTenantKeyWithResponse(ctx, "acme")
	wantStatus(t, "create key", err, key, key.Body, 201)
	tenant := newClient(t, url, key.JSON201.Key)

	chat, err := tenant.TenantChatWithResponse(ctx, "acme", &apiclient.TenantChatParams{Query: ptr("Where is my order")}, apiclient.ChatInput{})
	wantStatus(t, "chat", err, chat, chat.Body, 200)
	eq(t, "chat", strings.HasSuffix(chat.JSON200.Response, "] You asked: Where is my order"), true)
	spent += cost("Where is my order", chat.JSON200.Response)

	other, err := tenant.GetTenantWithResponse(ctx, "globex")
	wantStatus(t, "other tenant", err, other, other.Body, 403)
	eq(t, "other tenant", fmt.Sprint(other.JSON403.Error.Code, ": ", other.JSON403.Error.Message), "forbidden: This key may not access tenant 'globex'")

	premium, err := tenant.CreateAgentWithResponse(ctx, "acme", apiclient.AgentInput{AgentId: "premium", LlmModel: ptr("claude-opus-4-20250514")})
	wantStatus(t, "premium", err, premium, premium.Body, 403)
	eq(t, "premium", fmt.Sprint(premium.JSON403.Error.Code, ": ", premium.JSON403.Error.Message),
		"model_not_allowed: Model 'claude-opus-4-20250514' not allowed for tenant 'acme'")

	for i := 1; i <= 4; i++ {
		bot, err := admin.CreateAgentWithResponse(ctx, "acme", apiclient.AgentInput{AgentId: fmt.Sprintf("bot-%d", i)})
		wantStatus(t, "bot", err, bot, bot.Body, 201)
	}
	bot, err := admin.CreateAgentWithResponse(ctx, "acme", apiclient.AgentInput{AgentId: "bot-5"})
	wantStatus(t, "bot-5", err, bot, bot.Body, 429)
	eq(t, "agent limit", fmt.Sprint(bot.JSON429.Error.Code, ": ", bot.JSON429.Error.Message), "agent_limit: Tenant 'acme' has reached the agent limit (5)")

	rep, err := tenant.GetUsageWithResponse(ctx, "acme")
	wantStatus(t, "usage", err, rep, rep.Body, 200)
	u := rep.JSON200
	eq(t, "report", fmt.Sprint(u.Name, " ", u.Agents, "/", u.MaxAgents, " ", u.TotalQueries, " ", u.QueriesToday, " ", u.MaxCostUsdPerDay),
		"Acme Corp 5/5 3 3 10")
	eq(t, "total cost", u.TotalCostUsd, usd(spent))
	eq(t, "utilization", u.CostUtilizationPct, float64(spent*100)/float64(10*tenancy.NanosPerUSD))
	today := time.Now().UTC().Format(time.DateOnly)
	eq(t, "usage date", u.UsageDate.String(), today)

	hist, err := admin.GetUsageHistoryWithResponse(ctx, "acme", &apiclient.GetUsageHistoryParams{})
	wantStatus(t, "history", err, hist, hist.Body, 200)
	eq(t, "history", fmt.Sprint(len(hist.JSON200.Days), " ", hist.JSON200.Days[0].Date, " ", hist.JSON200.Days[0].Queries), "1 "+today+" 3")
	eq(t, "history cost", hist.JSON200.Days[0].CostUsd, usd(spent))
	csv, err := admin.GetUsageHistoryWithResponse(ctx, "acme", &apiclient.GetUsageHistoryParams{Format: ptr(apiclient.Csv)})
	wantStatus(t, "history csv", err, csv, csv.Body, 200)
	lines := strings.Split(strings.TrimSpace(string(csv.Body)), "\n")
	eq(t, "csv", fmt.Sprint(len(lines), " ", lines[0], " ", strings.HasPrefix(lines[1], today+",3,"+tenancy.Money(spent).Decimal()+",")),
		"2 "+strings.Join(api.HistoryColumns, ",")+" true")

	de, err := admin.DeactivateTenantWithResponse(ctx, "acme")
	wantStatus(t, "deactivate", err, de, de.Body, 200)
	eq(t, "deactivated", de.JSON200.IsActive, false)
	inactive, err := tenant.ExecuteAgentWithResponse(ctx, "acme", "support", nil, apiclient.ExecuteInput{Query: "hi"})
	wantStatus(t, "inactive", err, inactive, inactive.Body, 403)
	eq(t, "inactive", fmt.Sprint(inactive.JSON403.Error.Code, ": ", inactive.JSON403.Error.Message), "tenant_inactive: Tenant 'acme' is inactive")
	ac, err := admin.ActivateTenantWithResponse(ctx, "acme")
	wantStatus(t, "activate", err, ac, ac.Body, 200)

	// The cost cap: $0.001 is below one call's worst case (1,024 output tokens).
	up, err := admin.UpdateTenantWithResponse(ctx, "acme", apiclient.TenantPatch{MaxCostUsdPerDay: ptr(0.001)})
	wantStatus(t, "lower cap", err, up, up.Body, 200)
	// `make run` serves on the real clock: the server reads it somewhere
	// between before and after, and rounds the time to midnight up to whole
	// seconds, so Retry-After is exactly one of the values those instants give.
	before := time.Now()
	capped, err := tenant.ExecuteAgentWithResponse(ctx, "acme", "support", nil, apiclient.ExecuteInput{Query: "Another query"})
	after := time.Now()
	wantStatus(t, "capped", err, capped, capped.Body, 429)
	eq(t, "capped", fmt.Sprint(capped.JSON429.Error.Code, ": ", capped.JSON429.Error.Message),
		fmt.Sprintf("cost_limit: Tenant 'acme' has exceeded usage limits (cost: %s / $0.00)", tenancy.Money(spent).Cents()))
	midnight := before.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	ceilSeconds := func(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
	lo, hi := ceilSeconds(midnight.Sub(after)), ceilSeconds(midnight.Sub(before))
	retry, err := strconv.Atoi(capped.HTTPResponse.Header.Get("Retry-After"))
	if err != nil || retry < lo || retry > hi {
		t.Fatalf("Retry-After %q is not the time to midnight UTC rounded up, read between %s and %s (%d..%d s)",
			capped.HTTPResponse.Header.Get("Retry-After"), before.UTC().Format(time.RFC3339Nano), after.UTC().Format(time.RFC3339Nano), lo, hi)
	}

	reset, err := admin.ResetTenantUsageWithResponse(ctx, "acme")
	wantStatus(t, "reset", err, reset, reset.Body, 200)
	eq(t, "after reset", fmt.Sprint(reset.JSON200.TotalCostUsd, " ", reset.JSON200.QueriesToday, " ", reset.JSON200.TotalQueries), "0 0 3")

	rv, err := admin.RevokeTenantKeyWithResponse(ctx, "acme", key.JSON201.KeyId)
	wantStatus(t, "revoke", err, rv, rv.Body, 204)
	revoked, err := tenant.GetUsageWithResponse(ctx, "acme")
	wantStatus(t, "revoked key", err, revoked, revoked.Body, 401)
	eq(t, "revoked", fmt.Sprint(revoked.JSON401.Error.Code, ": ", revoked.JSON401.Error.Message), "unauthorized: Invalid or revoked API key")

	doc, err := admin.GetOpenAPIWithResponse(ctx)
	wantStatus(t, "document", err, doc, doc.Body, 200)
	eq(t, "document", (*doc.JSON200)["openapi"], "3.0.3")
}
