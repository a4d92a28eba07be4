package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// simZones are 24 whole-hour zones: at the top of every UTC hour, one of
// them reaches its midnight.
func simZones() []string {
	var z []string
	for k := -12; k <= 11; k++ {
		switch {
		case k < 0:
			z = append(z, fmt.Sprintf("Etc/GMT%d", k))
		case k == 0:
			z = append(z, "UTC")
		default:
			z = append(z, fmt.Sprintf("Etc/GMT+%d", k))
		}
	}
	return z
}

// load writes n tenants straight into the table (BatchWriteItem, 25 items
// a request), each with a window opened at opened in its zone; on bolt
// through CreateTenant (one transaction each).
func (v *env) load(n int, opened time.Time) {
	v.t.Helper()
	zones := simZones()
	var batch []types.WriteRequest
	flush := func() {
		if !v.dynamo() {
			return
		}
		table := v.store.(*dynamostore.Store).TableName()
		for len(batch) > 0 {
			out, err := v.db.BatchWriteItem(v.ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{*table: batch}})
			if err != nil {
				v.t.Fatal(err)
			}
			batch = out.UnprocessedItems[*table]
		}
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("t%05d", i)
		cfg := tenancy.NewTenantConfig(id)
		cfg.Timezone = zones[i%len(zones)]
		loc, err := tenancy.LoadZone(cfg.Timezone)
		if err != nil {
			v.t.Fatal(err)
		}
		day := tenancy.DayKey(opened, loc)
		tn := tenancy.Tenant{TenantConfig: cfg, IsActive: true, CreatedAt: opened, UpdatedAt: opened,
			Usage: tenancy.Window{Day: day, Hour: tenancy.HourKey(opened), BudgetLeft: cfg.MaxCostPerDay, Month: tenancy.MonthKey(day)}}
		if !v.dynamo() {
			if err := v.store.CreateTenant(v.ctx, tn); err != nil {
				v.t.Fatal(err)
			}
			continue
		}
		item, err := dynamostore.EncodeTenant(tn)
		if err != nil {
			v.t.Fatal(err)
		}
		dir := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TENANTS"},
			"sk": &types.AttributeValueMemberS{Value: "TENANT#" + id}, "tenant_id": &types.AttributeValueMemberS{Value: id}}
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}},
			types.WriteRequest{PutRequest: &types.PutRequest{Item: dir}})
		if len(batch) >= 24 {
			flush()
		}
	}
	flush()
}

// The hourly run rolls over only the tenants whose local midnight passed,
// pages through them, finishes the hour once, and resumes after a failure.
func TestHourlyReset(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		midnightUTC := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
		v.load(250, midnightUTC.Add(-time.Hour)) // the windows of the 23:00 run
		v.clock.Set(midnightUTC)
		failing := &failingStore{Store: v.store, failAfterPages: 1}
		svc := tenancy.New(tenancy.Options{Store: failing, Clock: v.clock, Catalog: v.svc.Catalog()})
		sum, err := svc.DailyReset(v.ctx)
		if !errors.Is(err, errListing) {
			t.Fatalf("err = %v, want the listing failure", err)
		}
		eq(t, "tenants read before the failure", sum.Tenants, 100)
		// UTC is every 24th tenant from t00012: 4 of the first 100.
		eq(t, "due in the first page", sum.Due, 4)
		sum, err = svc.DailyReset(v.ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "resumed", sum.Resumed, true)
		eq(t, "tenants read by the resumed run", sum.Tenants, 150)
		eq(t, "due in the rest", sum.Due, 6)
		eq(t, "archived in the rest", sum.Archived, 6)
		sum, err = svc.DailyReset(v.ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "the hour is done", sum.Skipped, true)
		v.clock.Set(midnightUTC.Add(time.Hour)) // midnight in Etc/GMT+1 (UTC-1)
		sum, err = svc.DailyReset(v.ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "tenants", sum.Tenants, 250)
		eq(t, "due at 01:00Z (UTC-1)", sum.Due, 10)
		tn, err := svc.GetTenant(v.ctx, "t00013")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "UTC-1 tenant's new day", tn.Usage.Day, "2026-11-29")
	})
}

var errListing = errors.New("listing failed")

// failingStore fails ListTenants after some pages, once.
type failingStore struct {
	tenancy.Store
	failAfterPages int
	pages          int
}

func (f *failingStore) ListTenants(ctx context.Context, limit int, token string) ([]tenancy.Tenant, string, error) {
	f.pages++
	if f.pages == f.failAfterPages+1 {
		return nil, "", errListing
	}
	return f.Store.ListTenants(ctx, limit, token)
}

// TestResetSimulation measures the hourly run over TENANCY_SIM_TENANTS
// tenants (default 96) in 24 zones: one run at the top of an hour (1/24 of
// them due) and one after a day without runs (every one due). Its time is
// measured on the embedded default store (bolt) with every tenant; its
// DynamoDB requests are counted on minidyn with at most 480 tenants
// (minidyn copies the whole table in each transaction, so a bigger table
// only measures minidyn; the counts per page and per due tenant do not
// depend on the engine). README's numbers: TENANCY_SIM_TENANTS=10000.
func TestResetSimulation(t *testing.T) {
	n := 96
	if s := os.Getenv("TENANCY_SIM_TENANTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 24 {
			t.Fatalf("TENANCY_SIM_TENANTS=%q", s)
		}
	}
	for _, e := range engines {
		switch e.name {
		case "bolt":
			t.Run(e.name, func(t *testing.T) { simulateReset(t, newEnv(t, e), n) })
		case "minidyn":
			t.Run(e.name, func(t *testing.T) { simulateReset(t, newEnv(t, e), min(n, 480)) })
		}
	}
}

func simulateReset(t *testing.T, v *env, n int) {
	midnightUTC := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	v.load(n, midnightUTC.Add(-time.Hour))
	t.Logf("SIM %s: loaded %d tenants in %v", v.engine.name, n, time.Since(start).Round(time.Millisecond))
	run := func(at time.Time, wantDue int) {
		v.clock.Set(at)
		v.counter.Reset()
		start := time.Now()
		sum, err := v.svc.DailyReset(v.ctx)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "tenants", sum.Tenants, n)
		eq(t, "due", sum.Due, wantDue)
		eq(t, "archived", sum.Archived, wantDue)
		line := fmt.Sprintf("SIM %s at %s: %d tenants, %d due: run %v (%.1f µs per tenant)", v.engine.name,
			at.Format(time.RFC3339), n, wantDue, elapsed.Round(time.Millisecond), float64(elapsed.Microseconds())/float64(n))
		if v.dynamo() {
			req := v.counter.Reads() + v.counter.Writes()
			line += fmt.Sprintf("; DynamoDB requests %d = %.4f per tenant (%d reads, %d writes) %v",
				req, float64(req)/float64(n), v.counter.Reads(), v.counter.Writes(), v.counter.ByOperation())
		}
		t.Log(line)
		v.counter.Reset()
		sum, err = v.svc.DailyReset(v.ctx)
		if err != nil || !sum.Skipped {
			t.Fatalf("second run of the hour: %+v, %v", sum, err)
		}
		if v.dynamo() {
			eq(t, "requests of a finished hour's second run", v.counter.Reads()+v.counter.Writes(), 1)
		}
	}
	zonesDue := 0
	for i := 0; i < n; i++ {
		if i%24 == 12 { // UTC
			zonesDue++
		}
	}
	run(midnightUTC, zonesDue)
	run(midnightUTC.Add(25*time.Hour), n)
}
