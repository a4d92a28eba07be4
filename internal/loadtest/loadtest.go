// Package loadtest fires concurrent executes at a fresh local API (embedded
// DynamoDB, a fake OpenAI-compatible model with fixed usage) and checks the
// invariants users buy a tenancy platform for: the cost cap holds, the
// bill equals the sum of the calls, the hourly limit admits exactly its
// limit, and nothing fails with a 5xx.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/fakemodel"
	"github.com/openclaw/tenancy/internal/localapi"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Config of a run.
type Config struct {
	Requests    int
	Workers     int
	Tenants     int           // >= 3: one hourly-limited, one cost-capped, the rest unconstrained
	HourlyLimit int           // max_queries_per_hour of the hourly-limited tenant
	CostCap     tenancy.Money // max_cost_usd_per_day of the capped tenant
	Usage       fakemodel.Usage
	Model       string
	ModelDelay  time.Duration
	Store       string // TENANCY_STORE of the local API: "" (the default, bolt), memory, dynamodb
}

// Defaults: 400 requests from 64 workers across 3 tenants.
func Defaults() Config {
	return Config{Requests: 400, Workers: 64, Tenants: 3, HourlyLimit: 50, CostCap: 5_000_000,
		Usage: fakemodel.Usage{PromptTokens: 120, CompletionTokens: 80}, Model: "gpt-4o-mini"}
}

// Result is the run's summary; its JSON is the tool's last line.
type Result struct {
	Store           string           `json:"store"`
	Requests        int              `json:"requests"`
	Admitted        int              `json:"admitted"`
	Rejected429     int              `json:"rejected_429"`
	Errors5xx       int              `json:"errors_5xx"`
	ByStatus        map[string]int   `json:"by_status"`
	RefusedByCode   map[string]int   `json:"refused_by_code"` // 4xx error codes, every tenant
	CappedRefusals  map[string]int   `json:"capped_refused_by_code"`
	Seconds         float64          `json:"seconds"`
	Throughput      float64          `json:"throughput_rps"`
	P50Ms           float64          `json:"p50_ms"`
	P95Ms           float64          `json:"p95_ms"`
	P99Ms           float64          `json:"p99_ms"`
	SpendNanos      int64            `json:"spend_nanos"`
	OverageNanos    int64            `json:"overage_nanos"`
	CapNanos        int64            `json:"cap_nanos"`
	SumCallNanos    int64            `json:"sum_call_nanos"`
	HourlyAdmitted  int              `json:"hourly_admitted"`
	HourlyLimit     int              `json:"hourly_limit"`
	DDBPerExecute   float64          `json:"ddb_requests_per_execute"`
	DDBByOperation  map[string]int64 `json:"ddb_by_operation"`
	ModelCalls      int64            `json:"model_calls"`
	Violations      []string         `json:"violations"`
	tenantAdmitted  map[string]int
	tenantCallNanos map[string]int64
}

const (
	hourlyTenant = "load_hourly"
	cappedTenant = "load_capped"
)

func tenantID(i int) string {
	switch i {
	case 0:
		return hourlyTenant
	case 1:
		return cappedTenant
	}
	return fmt.Sprintf("load_free_%d", i-1)
}

// Run starts the fake model and the local API, registers the tenants, fires
// the load and checks the invariants (Result.Violations).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Tenants < 3 || cfg.Requests < 1 || cfg.Workers < 1 {
		return nil, fmt.Errorf("need at least 3 tenants, 1 request and 1 worker")
	}
	fake, err := fakemodel.Start("load-key", cfg.Usage)
	if err != nil {
		return nil, err
	}
	defer fake.Close()
	fake.Delay.Store(int64(cfg.ModelDelay))
	dataDir, err := os.MkdirTemp("", "tenancy-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)
	env := map[string]string{"TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_ADMIN_KEY": "load-admin",
		"OPENAI_BASE_URL": fake.URL, "OPENAI_API_KEY": fake.Key, "TENANCY_STORE": cfg.Store, "TENANCY_DATA_DIR": dataDir}
	counter := &dynamostore.Counter{}
	loc, err := localapi.Start(ctx, localapi.Options{Counter: counter,
		App: app.Options{Getenv: func(k string) string { return env[k] }, Logger: discardLogger()}})
	if err != nil {
		return nil, err
	}
	defer loc.Close()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = loc.Serve(sctx) }()

	c := &client{base: loc.URL, key: loc.AdminKey, http: &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers, MaxConnsPerHost: cfg.Workers}}}
	for i := 0; i < cfg.Tenants; i++ {
		body := map[string]any{"tenant_id": tenantID(i), "allowed_models": []string{cfg.Model}}
		switch i {
		case 0:
			body["max_queries_per_hour"] = cfg.HourlyLimit
		case 1:
			body["max_cost_usd_per_day"] = json.RawMessage(cfg.CostCap.Decimal())
		default:
			body["max_queries_per_hour"] = tenancy.MaxQueriesPerHourCap
			body["max_cost_usd_per_day"] = 1_000_000
		}
		if st, b, err := c.do("POST", "/tenants", body); err != nil || st != 201 {
			return nil, fmt.Errorf("registering %s: %d %s %v", tenantID(i), st, b, err)
		}
		agent := map[string]any{"agent_id": "support", "llm_model": cfg.Model, "system_prompt": "You are a load-test support agent."}
		if st, b, err := c.do("POST", "/tenants/"+tenantID(i)+"/agents", agent); err != nil || st != 201 {
			return nil, fmt.Errorf("creating agent: %d %s %v", st, b, err)
		}
	}

	counter.Reset()
	res := &Result{Store: loc.Store, Requests: cfg.Requests, ByStatus: map[string]int{}, RefusedByCode: map[string]int{}, CappedRefusals: map[string]int{}, HourlyLimit: cfg.HourlyLimit,
		CapNanos: int64(cfg.CostCap), tenantAdmitted: map[string]int{}, tenantCallNanos: map[string]int64{}}
	latencies := make([]time.Duration, cfg.Requests)
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.Requests {
					return
				}
				tenant := tenantID(i % cfg.Tenants)
				t0 := time.Now()
				st, body, err := c.do("POST", "/tenants/"+tenant+"/agents/support/execute",
					map[string]any{"query": fmt.Sprintf("load question %d", i)})
				latencies[i] = time.Since(t0)
				mu.Lock()
				res.record(tenant, st, body, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Seconds = elapsed.Seconds()
	res.Throughput = float64(cfg.Requests) / elapsed.Seconds()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	res.P50Ms, res.P95Ms, res.P99Ms = pct(latencies, 50), pct(latencies, 95), pct(latencies, 99)
	res.DDBPerExecute = float64(counter.Reads()+counter.Writes()) / float64(cfg.Requests)
	res.DDBByOperation = counter.ByOperation()
	res.ModelCalls = fake.Calls.Load()

	var rep struct {
		TotalCost string `json:"total_cost_usd"`
		Overage   string `json:"overage_usd"`
	}
	st, b, err := c.do("GET", "/tenants/"+cappedTenant+"/usage", nil)
	if err != nil || st != 200 {
		return nil, fmt.Errorf("reading the capped tenant's usage: %d %v", st, err)
	}
	if err := decodeNumbers(b, &rep); err != nil {
		return nil, err
	}
	spend, err := tenancy.ParseUSD(rep.TotalCost)
	if err != nil {
		return nil, err
	}
	res.SpendNanos = int64(spend)
	over, err := tenancy.ParseUSD(rep.Overage)
	if err != nil {
		return nil, err
	}
	res.OverageNanos = int64(over)
	res.SumCallNanos = res.tenantCallNanos[cappedTenant]
	res.HourlyAdmitted = res.tenantAdmitted[hourlyTenant]
	res.check()
	return res, nil
}

func (r *Result) record(tenant string, status int, body []byte, err error) {
	if err != nil {
		r.ByStatus["transport_error"]++
		r.Errors5xx++
		return
	}
	r.ByStatus[fmt.Sprint(status)]++
	switch {
	case status == 200:
		r.Admitted++
		r.tenantAdmitted[tenant]++
		var out struct {
			Cost string `json:"cost_usd"`
		}
		if decodeNumbers(body, &out) == nil {
			if m, err := tenancy.ParseUSD(out.Cost); err == nil {
				r.tenantCallNanos[tenant] += int64(m)
			}
		}
	case status == 429:
		r.Rejected429++
	}
	if status >= 400 && status < 500 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		r.RefusedByCode[e.Error.Code]++
		if tenant == cappedTenant {
			r.CappedRefusals[e.Error.Code]++
		}
	}
	switch {
	case status >= 500:
		r.Errors5xx++
	}
}

// check lists every broken invariant.
func (r *Result) check() {
	r.Violations = []string{}
	if r.SpendNanos > r.CapNanos+r.OverageNanos {
		r.Violations = append(r.Violations, fmt.Sprintf("spend %d > cap %d + overage %d nano-USD", r.SpendNanos, r.CapNanos, r.OverageNanos))
	}
	if r.SpendNanos != r.SumCallNanos {
		r.Violations = append(r.Violations, fmt.Sprintf("spend %d != sum of call costs %d nano-USD", r.SpendNanos, r.SumCallNanos))
	}
	if r.HourlyAdmitted != r.HourlyLimit {
		r.Violations = append(r.Violations, fmt.Sprintf("hourly tenant admitted %d, limit %d", r.HourlyAdmitted, r.HourlyLimit))
	}
	if r.Errors5xx > 0 {
		r.Violations = append(r.Violations, fmt.Sprintf("%d errors 5xx", r.Errors5xx))
	}
	if r.ModelCalls != int64(r.Admitted) {
		r.Violations = append(r.Violations, fmt.Sprintf("%d model calls for %d admitted executes", r.ModelCalls, r.Admitted))
	}
}

// Print writes the human table, then the JSON summary as the last line.
func (r *Result) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "store\t%s\n", r.Store)
	fmt.Fprintf(tw, "requests\t%d\n", r.Requests)
	fmt.Fprintf(tw, "throughput\t%.0f req/s over %.2fs\n", r.Throughput, r.Seconds)
	fmt.Fprintf(tw, "latency p50 / p95 / p99\t%.1f / %.1f / %.1f ms\n", r.P50Ms, r.P95Ms, r.P99Ms)
	fmt.Fprintf(tw, "admitted\t%d\n", r.Admitted)
	fmt.Fprintf(tw, "rejected 429\t%d\n", r.Rejected429)
	statuses := make([]string, 0, len(r.ByStatus))
	for s := range r.ByStatus {
		statuses = append(statuses, s)
	}
	sort.Strings(statuses)
	for _, s := range statuses {
		fmt.Fprintf(tw, "  status %s\t%d\n", s, r.ByStatus[s])
	}
	for _, c := range sortedKeys(r.RefusedByCode) {
		fmt.Fprintf(tw, "  refused %s\t%d\n", c, r.RefusedByCode[c])
	}
	fmt.Fprintf(tw, "capped tenant spend / cap\t%d / %d nano-USD (sum of call costs %d, overage %d)\n", r.SpendNanos, r.CapNanos,
		r.SumCallNanos, r.OverageNanos)
	for _, c := range sortedKeys(r.CappedRefusals) {
		fmt.Fprintf(tw, "  capped tenant refused %s\t%d\n", c, r.CappedRefusals[c])
	}
	fmt.Fprintf(tw, "hourly tenant admitted / limit\t%d / %d\n", r.HourlyAdmitted, r.HourlyLimit)
	if r.Store != localapi.StoreBolt {
		fmt.Fprintf(tw, "DynamoDB requests per execute\t%.2f\n", r.DDBPerExecute)
	}
	fmt.Fprintf(tw, "model calls\t%d\n", r.ModelCalls)
	if len(r.Violations) == 0 {
		fmt.Fprintf(tw, "invariants\tall hold\n")
	} else {
		fmt.Fprintf(tw, "VIOLATIONS\t%s\n", strings.Join(r.Violations, "; "))
	}
	tw.Flush()
	b, _ := json.Marshal(r)
	fmt.Fprintln(w, string(b))
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func pct(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(sorted[i].Microseconds()) / 1000
}

type client struct {
	base, key string
	http      *http.Client
}

func (c *client) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// decodeNumbers decodes JSON keeping numbers as their exact text.
func decodeNumbers(b []byte, v any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	fixed := map[string]string{}
	for k, raw := range m {
		fixed[k] = strings.Trim(string(raw), `"`)
	}
	j, _ := json.Marshal(fixed)
	return json.Unmarshal(j, v)
}
