package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/boltstore"
	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/ddblocal"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/idempotency"
	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// The contract suite runs every test on every engine: minidyn (embedded,
// in-process), bolt (the embedded persistent store, internal/boltstore, on a
// fresh file per test), moto (a separate server, exact decimals, strict
// validation) and, when DYNAMODB_ENDPOINT is set, that endpoint (DynamoDB
// Local, AWS). Tests of DynamoDB requests or items run on DynamoDB engines
// only (v.dynamo()).
type engine struct {
	name     string
	endpoint string
	embedded *ddblocal.Embedded
	bolt     bool
}

// contractStore is what every store implements: the domain's store, the
// API keys and the idempotency records.
type contractStore interface {
	tenancy.Store
	auth.KeyStore
	idempotency.Store
}

var engines []engine

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	emb, err := ddblocal.StartEmbedded("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer emb.Close()
	engines = append(engines, engine{name: "minidyn", endpoint: emb.URL, embedded: emb}, engine{name: "bolt", bolt: true})
	if os.Getenv("TENANCY_SKIP_MOTO") == "" {
		moto, err := ddblocal.StartMoto(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "store contract suite needs moto (set TENANCY_SKIP_MOTO=1 to skip it):", err)
			return 1
		}
		defer moto.Close()
		engines = append(engines, engine{name: "moto", endpoint: moto.URL})
	}
	if ep := os.Getenv(schema.EnvEndpoint); ep != "" {
		engines = append(engines, engine{name: "endpoint", endpoint: ep})
	}
	return m.Run()
}

// env is one test's world: a fresh table, a manual clock, a fake model.
type env struct {
	t       testing.TB
	engine  engine
	db      *dynamodb.Client // nil on bolt
	table   string
	store   contractStore
	clock   *clock.Manual
	counter *dynamostore.Counter
	model   *fakeModel
	svc     *tenancy.Service
	ctx     context.Context
}

var tableSeq atomic.Int64

// t0 is the suite's start time: a Saturday afternoon, UTC.
var t0 = time.Date(2026, 11, 28, 14, 30, 0, 0, time.UTC)

func newEnv(t testing.TB, e engine) *env {
	t.Helper()
	ctx := context.Background()
	counter := &dynamostore.Counter{}
	if e.bolt {
		bs, err := boltstore.Open(t.TempDir(), boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bs.Close() })
		return newEnvOn(t, e, bs, nil, "", counter)
	}
	db, err := dynamostore.NewClient(ctx, e.endpoint, counter.Option)
	if err != nil {
		t.Fatal(err)
	}
	table := fmt.Sprintf("t%d_%d", os.Getpid(), tableSeq.Add(1))
	if err := dynamostore.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, e, dynamostore.New(db, table), db, table, counter)
}

func newEnvOn(t testing.TB, e engine, store contractStore, db *dynamodb.Client, table string, counter *dynamostore.Counter) *env {
	v := &env{t: t, engine: e, db: db, table: table, store: store, clock: clock.NewManual(t0),
		counter: counter, model: &fakeModel{usage: provider.Usage{InputTokens: 1000, OutputTokens: 500}}, ctx: context.Background()}
	v.svc = tenancy.New(tenancy.Options{Store: v.store, Clock: v.clock, Catalog: catalog.Default(), Models: v.model})
	counter.Reset()
	return v
}

// coldStore is a second store on the same data that has seen no call yet
// (another Lambda instance); the bolt store remembers nothing between
// transactions, so it is itself.
func (v *env) coldStore() contractStore {
	if v.engine.bolt {
		return v.store
	}
	return dynamostore.New(v.db, v.table)
}

// dynamo reports whether the store is the DynamoDB one (requests counted,
// items readable).
func (v *env) dynamo() bool { return !v.engine.bolt }

// each runs f as a subtest on every engine.
func each(t *testing.T, f func(t *testing.T, v *env)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { f(t, newEnv(t, e)) })
	}
}

// repeated runs a concurrency test several times on each engine, each on a
// fresh table: races that pass once may not pass five times. (moto, a
// serialised Python server, is slow: it runs each twice.)
func repeated(t *testing.T, f func(t *testing.T, v *env)) {
	for _, e := range engines {
		rounds := 5
		if e.name == "moto" {
			rounds = 2
		}
		for r := 1; r <= rounds; r++ {
			t.Run(fmt.Sprintf("%s/round-%d", e.name, r), func(t *testing.T) { f(t, newEnv(t, e)) })
		}
	}
}

// fakeModel is a provider with fixed usage per call, or a fixed error.
type fakeModel struct {
	mu      sync.Mutex
	usage   provider.Usage
	err     error
	calls   int
	content string           // the answer ("" : "answer to <query>")
	last    provider.Request // the last request
}

func (f *fakeModel) Name() string { return "fake" }

func (f *fakeModel) Complete(ctx context.Context, r provider.Request) (provider.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.last = r
	if f.err != nil {
		return provider.Response{}, f.err
	}
	content := "answer to " + r.Query
	if f.content != "" {
		content = f.content
	}
	return provider.Response{Content: content, Provider: "fake", Usage: f.usage}, nil
}

func (f *fakeModel) Route(string) (provider.Provider, string, error) { return f, "", nil }

func (f *fakeModel) lastRequest() provider.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeModel) set(u provider.Usage, err error) {
	f.mu.Lock()
	f.usage, f.err = u, err
	f.mu.Unlock()
}

// helpers

func (v *env) register(cfg tenancy.TenantConfig) tenancy.Tenant {
	v.t.Helper()
	tn, err := v.svc.RegisterTenant(v.ctx, cfg)
	if err != nil {
		v.t.Fatalf("register %s: %v", cfg.TenantID, err)
	}
	return tn
}

func (v *env) agent(tenantID string, cfg tenancy.AgentConfig) tenancy.Agent {
	v.t.Helper()
	a, err := v.svc.CreateAgent(v.ctx, tenantID, cfg)
	if err != nil {
		v.t.Fatalf("create agent %s/%s: %v", tenantID, cfg.AgentID, err)
	}
	return a
}

func (v *env) report(tenantID string) tenancy.UsageReport {
	v.t.Helper()
	r, err := v.svc.UsageReport(v.ctx, tenantID)
	if err != nil {
		v.t.Fatalf("report %s: %v", tenantID, err)
	}
	return r
}

func tenantCfg(id string, mutate ...func(*tenancy.TenantConfig)) tenancy.TenantConfig {
	c := tenancy.NewTenantConfig(id)
	for _, m := range mutate {
		m(&c)
	}
	return c
}

func agentCfg(id string, mutate ...func(*tenancy.AgentConfig)) tenancy.AgentConfig {
	c := tenancy.NewAgentConfig(id)
	for _, m := range mutate {
		m(&c)
	}
	return c
}

// wantErr checks an error's sentinel and exact message.
func wantErr(t *testing.T, err error, sentinel error, msg string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		var te *tenancy.Error
		if errors.As(err, &te) && te.Cause != nil {
			t.Fatalf("error = %v (cause: %v), want code %s", err, te.Cause, sentinel.(*tenancy.Error).Code)
		}
		t.Fatalf("error = %v (%T), want code %s", err, err, sentinel.(*tenancy.Error).Code)
	}
	if msg != "" && err.Error() != msg {
		t.Fatalf("message = %q, want %q", err.Error(), msg)
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}
