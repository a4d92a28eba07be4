package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/app/withmodels"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/fakemodel"
	"github.com/openclaw/tenancy/internal/localapi"
	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// BenchmarkStreamTTFB measures a streamed execute with a session through
// the local HTTP API (authorizer, session read, admit, the model's stream,
// settle, session write) against a fake OpenAI-compatible model that streams
// word by word, interleaved with the same fake called directly by the same
// provider client: the time to the first delta of each, their difference
// (the platform's time to first byte), and the DynamoDB requests per
// streamed call (counted by a client middleware, every attempt).
func BenchmarkStreamTTFB(b *testing.B) {
	fake, err := fakemodel.Start("sk-bench", fakemodel.Usage{PromptTokens: 120, CompletionTokens: 80})
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	// The in-memory DynamoDB (minidyn), whose requests it counts: since the
	// embedded persistent store became the default, the default would open
	// tests/.data and count nothing.
	env := map[string]string{"TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_ADMIN_KEY": adminKey, "TENANCY_STORE": "memory",
		"OPENAI_BASE_URL": fake.URL, "OPENAI_API_KEY": fake.Key}
	ctx := context.Background()
	counter := &dynamostore.Counter{}
	loc, err := localapi.Start(ctx, localapi.Options{Counter: counter, App: app.Options{Getenv: func(k string) string { return env[k] },
		Logger: newTestLogger(&logBuffer{}), ModelsFromEnv: withmodels.FromEnv}})
	if err != nil {
		b.Fatal(err)
	}
	defer loc.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = loc.Serve(sctx) }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}} // not the tests' validating transport
	post := func(path, body string) *http.Response {
		req, _ := http.NewRequest("POST", loc.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode >= 300 {
			out, _ := io.ReadAll(resp.Body)
			b.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
		return resp
	}
	drain := func(r *http.Response) { _, _ = io.Copy(io.Discard, r.Body); r.Body.Close() }
	drain(post("/tenants", fmt.Sprintf(`{"tenant_id":"acme","max_queries_per_hour":%d,"max_cost_usd_per_day":1000000}`, tenancy.MaxQueriesPerHourCap)))
	drain(post("/tenants/acme/agents", `{"agent_id":"support","llm_model":"gpt-4o-mini"}`))
	direct, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: fake.URL, APIKey: fake.Key})
	if err != nil {
		b.Fatal(err)
	}
	req := provider.Request{Model: "gpt-4o-mini", ProviderModelID: "gpt-4o-mini", SystemPrompt: tenancy.DefaultSystemPrompt,
		Query: "Help me reset my password", MaxTokens: 1024}

	// The buffered execute's requests, for comparison (no session).
	counter.Reset()
	drain(post("/tenants/acme/agents/support/execute", `{"query":"Help me reset my password"}`))
	buffered := counter.Reads() + counter.Writes()

	var tDirect, tPlatform time.Duration
	counter.Reset()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		var first time.Duration
		if _, err := direct.Stream(ctx, req, func(string) error {
			if first == 0 {
				first = time.Since(t0)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		tDirect += first
		t1 := time.Now()
		resp := post("/tenants/acme/agents/support/execute",
			fmt.Sprintf(`{"query":"Help me reset my password","stream":true,"session_id":"s%d"}`, i%50))
		rd := bufio.NewReader(resp.Body)
		line, err := rd.ReadString('\n')
		if err != nil || line != "event: delta\n" {
			b.Fatalf("first line %q: %v", line, err)
		}
		tPlatform += time.Since(t1)
		rest, _ := io.ReadAll(rd)
		resp.Body.Close()
		if !strings.Contains(string(rest), "event: done\n") {
			b.Fatalf("no done event: %s", rest)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(tDirect.Microseconds())/1000/n, "direct-ttfb-ms/op")
	b.ReportMetric(float64(tPlatform.Microseconds())/1000/n, "stream-ttfb-ms/op")
	b.ReportMetric(float64((tPlatform-tDirect).Microseconds())/1000/n, "ttfb-overhead-ms/op")
	b.ReportMetric(float64(counter.Reads())/n, "ddb-reads/op")
	b.ReportMetric(float64(counter.Writes())/n, "ddb-writes/op")
	b.ReportMetric(float64(buffered), "buffered-ddb-requests")
}
