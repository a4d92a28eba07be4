package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/boltstore"
	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/localapi"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// A local server killed with a call in flight left its reservation held
// (until the tenant's local midnight, before `make run` ran the schedule).
// The local server runs the reset function's handler at start-up and at
// the top of every hour of its clock: the first run finds the call still
// fresh (admitted now), the run at 15:00 finds it stale (older than 15
// minutes) and releases it. Runs happen once per hour, however often the
// schedule looks at the clock, and stop with the server.
func TestLocalScheduleReleasesAKilledCall(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewManual(t0) // 14:30 UTC
	ctx := context.Background()
	bs, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := tenancy.New(tenancy.Options{Store: bs, Clock: clk, Catalog: catalog.Default()})
	if _, err := svc.RegisterTenant(ctx, tenancy.NewTenantConfig("acme")); err != nil {
		t.Fatal(err)
	}
	// The call the killed server admitted and never settled.
	if _, err := bs.Admit(ctx, tenancy.Admission{TenantID: "acme", AgentID: "support", Model: "gpt-4o-mini",
		Reserve: 1_000_000, CallID: "killed", Now: t0}); err != nil {
		t.Fatal(err)
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	loc, err := localapi.Start(ctx, localapi.Options{Out: &out, Schedule: true, ResetTick: 5 * time.Millisecond,
		App: app.Options{Clock: clk, Logger: newTestLogger(&logBuffer{}), Getenv: env(map[string]string{
			"TENANCY_ADMIN_KEY": adminKey, "TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_DATA_DIR": dir})}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- loc.Serve(sctx) }()
	closed := false
	defer func() {
		stop()
		<-served
		if !closed {
			loc.Close()
		}
	}()
	if want := "Reset:    " + localapi.ScheduleLine + "\n"; !strings.Contains(out.String(), want) {
		t.Fatalf("start-up output\n%s\nwant the line %q", out.String(), want)
	}
	s := &server{t: t, url: loc.URL, loc: loc}
	waitRuns := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); loc.Schedule.Runs() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("runs %d, want %d", loc.Schedule.Runs(), n)
			}
		}
	}
	reserved := func() json.Number {
		return s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200).get("reserved_cost_usd").(json.Number)
	}
	waitRuns(1)
	eq(t, "reserved after the start-up run (the call is fresh)", reserved(), json.Number("0.001"))
	clk.Set(t0.Add(29*time.Minute + 59*time.Second)) // 14:59:59: the same hour
	time.Sleep(100 * time.Millisecond)               // 20 looks at the clock
	eq(t, "runs within the hour", loc.Schedule.Runs(), 1)
	clk.Set(t0.Add(30 * time.Minute)) // 15:00: the top of the hour
	waitRuns(2)
	eq(t, "reserved after the 15:00 run", reserved(), json.Number("0"))
	time.Sleep(50 * time.Millisecond)
	eq(t, "runs", loc.Schedule.Runs(), 2)
	loc.Close()
	closed = true
	clk.Set(t0.Add(90 * time.Minute))
	time.Sleep(50 * time.Millisecond)
	eq(t, "runs after Close", loc.Schedule.Runs(), 2)
}
