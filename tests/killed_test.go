package tests

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/fakemodel"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// The execute function's process is killed (SIGKILL) while the model call
// is in flight, between admit and settle. The report shows the reservation
// until the next rollover; the rollover releases it from the live window,
// and reconciling the abandoned call releases it from the history too.
func TestKilledBetweenAdmitAndSettle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the execute binary under the runtime emulator")
	}
	fake, err := fakemodel.Start("sk-kill", fakemodel.Usage{PromptTokens: 10, CompletionTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.Delay.Store(int64(time.Minute)) // the call never returns before the kill
	emb, db := embeddedTable(t, "tenancy-kill")
	ctx := context.Background()
	store := dynamostore.New(db, "tenancy-kill")
	clk := clock.NewManual(time.Now().UTC())
	svc := tenancy.New(tenancy.Options{Store: store, Clock: clk, Catalog: catalog.Default()})
	if _, err := svc.RegisterTenant(ctx, tenancy.NewTenantConfig("acme")); err != nil {
		t.Fatal(err)
	}
	agent := tenancy.NewAgentConfig("support")
	agent.LLMModel = "gpt-4o-mini"
	if _, err := svc.CreateAgent(ctx, "acme", agent); err != nil {
		t.Fatal(err)
	}

	fn := startEmulated(t, rieBinary(t), bootstrap(t, "execute"), []string{"TENANCY_TABLE=tenancy-kill",
		"DYNAMODB_ENDPOINT=" + emb.URL, "OPENAI_BASE_URL=" + fake.URL, "OPENAI_API_KEY=" + fake.Key,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=120", "AWS_REGION=us-east-1"})
	event, err := os.ReadFile(filepath.Join(repoRoot(t), "events", "execute.json"))
	if err != nil {
		t.Fatal(err)
	}
	go func() { // the invocation dies with the process
		resp, err := http.Post(fn.url, "application/json", bytes.NewReader(event))
		if err == nil {
			resp.Body.Close()
		}
	}()
	for deadline := time.Now().Add(20 * time.Second); fake.Calls.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the model was never called:\n%s", fn.log.String())
		}
	}
	eq(t, "function processes killed", fn.killFunction(), 1)

	// gpt-4o-mini, default system prompt (28 bytes) and the event's query (25):
	// (28 + 25 + 64) x 150 + 1024 x 600 = 631,950 nano-USD reserved.
	const reserve = tenancy.Money(631_950)
	r, err := svc.UsageReport(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "reserved while the call is abandoned", r.ReservedCost, reserve)
	eq(t, "queries this hour", r.QueriesThisHour, 1)
	open, _ := store.OpenCalls(ctx, "acme")
	eq(t, "open calls", len(open), 1)

	clk.Set(tenancy.NextDay(clk.Now(), time.UTC).Add(time.Hour)) // the next day, the call long stale
	sum, err := svc.DailyReset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "archived", sum.Archived, 1)
	eq(t, "released", sum.Released, 1)
	r, _ = svc.UsageReport(ctx, "acme")
	eq(t, "reserved after the rollover", r.ReservedCost, 0)
	days, err := svc.History(ctx, "acme", tenancy.DayKey(clk.Now().AddDate(0, 0, -1), time.UTC), tenancy.DayKey(clk.Now(), time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "history days", len(days), 1)
	eq(t, "unsettled in history", days[0].Unsettled, 0)
	eq(t, "the abandoned call, counted as failed", days[0].FailedCalls, 1)
	eq(t, "nothing billed", days[0].Cost, 0)
}
