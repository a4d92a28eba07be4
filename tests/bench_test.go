package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/app/withmodels"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/fakemodel"
	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// benchApp is the platform wired as the execute function is, against an
// embedded DynamoDB and a fake OpenAI-compatible model that run in child
// processes (so that only this side's allocations are counted), with a
// request counter and acme/support (gpt-4o-mini) registered.
func benchApp(b testing.TB) (*app.App, *dynamostore.Counter) {
	b.Helper()
	ddb, model := startChild(b, "minidyn"), startChild(b, "fakemodel")
	ctx := context.Background()
	db, err := dynamostore.NewClient(ctx, ddb)
	if err != nil {
		b.Fatal(err)
	}
	if err := dynamostore.CreateTable(ctx, db, schema.DefaultTableName); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"DYNAMODB_ENDPOINT": ddb, "OPENAI_BASE_URL": model, "OPENAI_API_KEY": "sk-bench"}
	counter := &dynamostore.Counter{}
	a, err := app.New(ctx, app.Options{Getenv: func(k string) string { return env[k] }, Counter: counter,
		Logger: newTestLogger(&logBuffer{}), ModelsFromEnv: withmodels.FromEnv})
	if err != nil {
		b.Fatal(err)
	}
	cfg := tenancy.NewTenantConfig("acme")
	cfg.MaxQueriesPerHour, cfg.MaxCostPerDay = tenancy.MaxQueriesPerHourCap, tenancy.MaxMoney
	if _, err := a.Service.RegisterTenant(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	ag := tenancy.NewAgentConfig("support")
	ag.LLMModel = "gpt-4o-mini"
	if _, err := a.Service.CreateAgent(ctx, "acme", ag); err != nil {
		b.Fatal(err)
	}
	return a, counter
}

func executeEvent(b *testing.B) events.APIGatewayV2HTTPRequest {
	raw, err := os.ReadFile(filepath.Join(repoRoot(b), "events", "execute.json"))
	if err != nil {
		b.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		b.Fatal(err)
	}
	return ev
}

// BenchmarkExecuteHandler: one execute per op through the execute
// function's handler (the code Lambda runs), with the DynamoDB requests per
// op (counted by a client middleware) and the allocations per op of this
// process: handler, service, SDK and provider clients (the servers run in
// child processes).
func BenchmarkExecuteHandler(b *testing.B) {
	a, counter := benchApp(b)
	h := a.Handler(api.FnExecute)
	ev := executeEvent(b)
	ctx := context.Background()
	counter.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, _ := h.Handle(ctx, ev)
		if resp.StatusCode != 200 {
			b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(counter.Reads())/float64(b.N), "ddb-reads/op")
	b.ReportMetric(float64(counter.Writes())/float64(b.N), "ddb-writes/op")
}

// BenchmarkExecuteOverhead measures, in one run and interleaved, an
// execute through the local HTTP API (authorizer, handler, admit, model,
// settle) and the same fake model called directly by the same provider
// client, and reports their ratio.
func BenchmarkExecuteOverhead(b *testing.B) {
	fake, err := fakemodel.Start("sk-bench", fakemodel.Usage{PromptTokens: 120, CompletionTokens: 80})
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	env := map[string]string{"TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_ADMIN_KEY": adminKey,
		"OPENAI_BASE_URL": fake.URL, "OPENAI_API_KEY": fake.Key, "TENANCY_DATA_DIR": b.TempDir()}
	ctx := context.Background()
	loc, err := localapiStart(ctx, env)
	if err != nil {
		b.Fatal(err)
	}
	defer loc.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = loc.Serve(sctx) }()
	post := func(path, body string) {
		req, _ := http.NewRequest("POST", loc.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
	}
	post("/tenants", fmt.Sprintf(`{"tenant_id":"acme","max_queries_per_hour":%d,"max_cost_usd_per_day":1000000}`, tenancy.MaxQueriesPerHourCap))
	post("/tenants/acme/agents", `{"agent_id":"support","llm_model":"gpt-4o-mini"}`)
	direct, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: fake.URL, APIKey: fake.Key})
	if err != nil {
		b.Fatal(err)
	}
	req := provider.Request{Model: "gpt-4o-mini", ProviderModelID: "gpt-4o-mini", SystemPrompt: tenancy.DefaultSystemPrompt,
		Query: "Help me reset my password", MaxTokens: 1024}
	var tDirect, tExec time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := direct.Complete(ctx, req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		post("/tenants/acme/agents/support/execute", `{"query":"Help me reset my password"}`)
		tExec += time.Since(t1)
		tDirect += t1.Sub(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(tDirect.Microseconds())/1000/float64(b.N), "direct-ms/op")
	b.ReportMetric(float64(tExec.Microseconds())/1000/float64(b.N), "execute-ms/op")
	b.ReportMetric(float64(tExec)/float64(tDirect), "overhead-ratio")
}

// BenchmarkColdStart starts each function's bootstrap under the runtime
// emulator and reports the init the emulator measures (process start to the
// runtime asking for its first event: what Lambda bills as Init Duration),
// emulator start to first response, and the size of its linux/arm64
// stripped build (bin/lambda, from `make build`). "baseline-hello" is the
// smallest aws-lambda-go function, measured in the same run.
func BenchmarkColdStart(b *testing.B) {
	rie, env, hello := rieBinary(b), coldStartEnv(b), helloBootstrap(b)
	for _, fn := range append([]string{"baseline-hello"}, api.Functions...) {
		b.Run(fn, func(b *testing.B) {
			boot, name := hello, "reset.json"
			if fn != "baseline-hello" {
				boot, name = bootstrap(b, fn), coldEvents[fn]
			}
			event, err := os.ReadFile(filepath.Join(repoRoot(b), "events", name))
			if err != nil {
				b.Fatal(err)
			}
			var inits, firsts float64
			for i := 0; i < b.N; i++ {
				in, first := coldStart(b, rie, boot, env, event)
				inits, firsts = inits+in, firsts+first
			}
			b.ReportMetric(inits/float64(b.N), "init-ms")
			b.ReportMetric(firsts/float64(b.N), "ms-to-first-response")
			if st, err := os.Stat(filepath.Join(repoRoot(b), "bin", "lambda", fn, "bootstrap")); err == nil {
				b.ReportMetric(float64(st.Size()), "bytes-arm64")
			}
		})
	}
}
