package tests

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/backup"
	"github.com/openclaw/tenancy/internal/fakemodel"
	"github.com/openclaw/tenancy/internal/localapi"
)

// BenchmarkStoreAtScale (`make bench-store`) measures the local API on the
// default store (bolt) and on the in-memory embedded DynamoDB (minidyn),
// one after the other in one run: execute latency through the local API
// with a fake model that answers at once (so the latency is the platform's
// overhead) on an empty store and after filling it with tenants (2 agents,
// 1 key and 30 days of billing history each), GET a tenant and list a page
// of 50 at that size, and registration latency of the first and the last
// 1,000 tenants. STORE_BENCH_TENANTS (default 10000) and
// STORE_BENCH_MEMORY_TENANTS (default 100: minidyn's cost grows with the
// table, every transaction copies it whole, so 1,000 tenants with their
// history would take hours) set the sizes.
func BenchmarkStoreAtScale(b *testing.B) {
	for _, s := range []struct {
		store string
		n     int
	}{{localapi.StoreBolt, envInt("STORE_BENCH_TENANTS", 10_000)}, {localapi.StoreMemory, envInt("STORE_BENCH_MEMORY_TENANTS", 100)}} {
		b.Run(fmt.Sprintf("%s/%d-tenants", s.store, s.n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				storeAtScale(b, s.store, s.n)
			}
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type benchClient struct {
	b     *testing.B
	base  string
	http  *http.Client
	fails atomic.Int64
}

// do sends one request and returns its status and latency. The client has
// its own transport: the test binary's default one validates every
// response against the OpenAPI document, which is not what is measured.
func (c *benchClient) do(method, path, body string) (int, time.Duration, string) {
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.b.Fatalf("%s %s: %v", method, path, err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), string(out)
}

func (c *benchClient) must(status int, method, path, body string) time.Duration {
	st, d, out := c.do(method, path, body)
	if st != status {
		c.b.Fatalf("%s %s: %d %s", method, path, st, out)
	}
	return d
}

// sample runs f n times and returns the latencies, sorted.
func sample(n int, f func(i int) time.Duration) []time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = f(i)
	}
	slices.Sort(ds)
	return ds
}

func pctMs(sorted []time.Duration, p int) float64 {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(sorted[i]) / float64(time.Millisecond)
}

func tenantName(i int) string { return fmt.Sprintf("t%05d", i) }

func storeAtScale(b *testing.B, store string, n int) {
	fake, err := fakemodel.Start("sk-scale", fakemodel.Usage{PromptTokens: 120, CompletionTokens: 80})
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	env := map[string]string{"TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_ADMIN_KEY": adminKey, "TENANCY_STORE": store,
		"TENANCY_DATA_DIR": b.TempDir(), "OPENAI_BASE_URL": fake.URL, "OPENAI_API_KEY": fake.Key}
	ctx := context.Background()
	loc, err := localapiStart(ctx, env)
	if err != nil {
		b.Fatal(err)
	}
	defer loc.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = loc.Serve(sctx) }()
	const workers = 4
	c := &benchClient{b: b, base: loc.URL, http: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers + 1}}}
	samples := 300
	if store == localapi.StoreMemory {
		samples = 100
	}
	tenantBody := func(id string) string {
		return `{"tenant_id":"` + id + `","allowed_models":["gpt-4o-mini"],"max_queries_per_hour":10000000,"max_cost_usd_per_day":1000000}`
	}
	agentBody := func(id string) string {
		return `{"agent_id":"` + id + `","llm_model":"gpt-4o-mini","system_prompt":"You are a support agent."}`
	}
	execute := func(tenant string) time.Duration {
		return c.must(200, "POST", "/tenants/"+tenant+"/agents/support/execute", `{"query":"Where is my order?"}`)
	}
	direct := &http.Client{Transport: &http.Transport{}}
	modelAlone := func(int) time.Duration {
		req, _ := http.NewRequest("POST", fake.URL+"/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Where is my order?"}]}`))
		req.Header.Set("Authorization", "Bearer "+fake.Key)
		start := time.Now()
		resp, err := direct.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}

	// Empty store: one tenant.
	c.must(201, "POST", "/tenants", tenantBody("probe"))
	c.must(201, "POST", "/tenants/probe/agents", agentBody("support"))
	for i := 0; i < 20; i++ { // warm up connections and caches
		execute("probe")
	}
	emptyExec := sample(samples, func(int) time.Duration { return execute("probe") })
	emptyModel := sample(samples, modelAlone)
	emptyGet := sample(samples, func(int) time.Duration { return c.must(200, "GET", "/tenants/probe", "") })

	// Fill: tenants, agents and keys through the API (4 clients); 30 days
	// of history per tenant through the store's import.
	reg := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	fillStart := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				id := tenantName(i)
				reg[i] = c.must(201, "POST", "/tenants", tenantBody(id))
				c.must(201, "POST", "/tenants/"+id+"/agents", agentBody("support"))
				c.must(201, "POST", "/tenants/"+id+"/agents", agentBody("sales"))
				c.must(201, "POST", "/tenants/"+id+"/keys", "")
			}
		}()
	}
	wg.Wait()
	apiFill := time.Since(fillStart)
	bs, ok := loc.App.Store.(backup.Store)
	if !ok {
		b.Fatalf("the %s store cannot import", store)
	}
	histStart := time.Now()
	next.Store(0)
	day0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				for d := 0; d < 30; d++ {
					q := int64(1 + (i+d)%40)
					if err := bs.Import(ctx, backup.Record{Kind: backup.KindDay, Day: &backup.Day{TenantID: tenantName(i),
						Date: day0.AddDate(0, 0, d).Format(time.DateOnly), Counters: backup.Counters{Queries: q,
							SpentNanos: q * 66_000, InputTokens: q * 120, OutputTokens: q * 80,
							ByModel: map[string]backup.ModelCounters{"gpt-4o-mini": {Queries: q, InputTokens: q * 120,
								OutputTokens: q * 80, CostNanos: q * 66_000}},
							PriceVersions: map[string]int64{"builtin-2026-11": q}}}}); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	histFill := time.Since(histStart)

	// Full store.
	rng := rand.New(rand.NewPCG(1, 2))
	randomTenant := func() string { return tenantName(rng.IntN(n)) }
	for i := 0; i < 20; i++ {
		execute(randomTenant())
	}
	fullExec := sample(samples, func(int) time.Duration { return execute(randomTenant()) })
	fullModel := sample(samples, modelAlone)
	fullGet := sample(samples, func(int) time.Duration { return c.must(200, "GET", "/tenants/"+randomTenant(), "") })
	fullList := sample(samples, func(int) time.Duration {
		tok := base64.RawURLEncoding.EncodeToString([]byte(randomTenant()))
		return c.must(200, "GET", "/tenants?limit=50&next_token="+tok, "")
	})
	firstK, lastK := min(1000, n), min(1000, n)
	first := slices.Sorted(slices.Values(reg[:firstK]))
	last := slices.Sorted(slices.Values(reg[n-lastK:]))

	var size int64
	if loc.Bolt != nil {
		if fi, err := os.Stat(loc.Bolt.Path()); err == nil {
			size = fi.Size()
		}
	}
	m := func(v float64, unit string) { b.ReportMetric(v, unit) }
	m(pctMs(emptyExec, 50), "empty-exec-p50-ms")
	m(pctMs(emptyExec, 99), "empty-exec-p99-ms")
	m(pctMs(fullExec, 50), "full-exec-p50-ms")
	m(pctMs(fullExec, 99), "full-exec-p99-ms")
	m(pctMs(fullExec, 50)/pctMs(emptyExec, 50), "exec-p50-ratio")
	m(pctMs(fullExec, 99)/pctMs(emptyExec, 99), "exec-p99-ratio")
	m(pctMs(fullGet, 50), "full-get-p50-ms")
	m(pctMs(fullGet, 99), "full-get-p99-ms")
	m(pctMs(fullList, 50), "full-list50-p50-ms")
	m(pctMs(fullList, 99), "full-list50-p99-ms")
	m(pctMs(first, 50), "reg-first1k-p50-ms")
	m(pctMs(last, 50), "reg-last1k-p50-ms")
	fmt.Printf("\n%s, %d tenants (2 agents, 1 key, 30 history days each), %d samples per line, ms:\n", store, n, samples)
	fmt.Printf("  execute, empty store        p50 %7.3f  p99 %7.3f  (fake model alone p50 %.3f)\n",
		pctMs(emptyExec, 50), pctMs(emptyExec, 99), pctMs(emptyModel, 50))
	fmt.Printf("  execute, %5d tenants      p50 %7.3f  p99 %7.3f  (fake model alone p50 %.3f)  ratio p50 %.2f p99 %.2f\n",
		n, pctMs(fullExec, 50), pctMs(fullExec, 99), pctMs(fullModel, 50),
		pctMs(fullExec, 50)/pctMs(emptyExec, 50), pctMs(fullExec, 99)/pctMs(emptyExec, 99))
	fmt.Printf("  GET tenant, empty / full    p50 %7.3f / %.3f  p99 %7.3f / %.3f\n",
		pctMs(emptyGet, 50), pctMs(fullGet, 50), pctMs(emptyGet, 99), pctMs(fullGet, 99))
	fmt.Printf("  list 50 tenants, full       p50 %7.3f  p99 %7.3f\n", pctMs(fullList, 50), pctMs(fullList, 99))
	fmt.Printf("  register, first / last %d  p50 %7.3f / %.3f  p99 %7.3f / %.3f\n", firstK,
		pctMs(first, 50), pctMs(last, 50), pctMs(first, 99), pctMs(last, 99))
	fmt.Printf("  fill: API (tenant, 2 agents, key) %.1fs with %d clients; history import %.1fs; file %.1f MB\n",
		apiFill.Seconds(), workers, histFill.Seconds(), float64(size)/(1<<20))
}
