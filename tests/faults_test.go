package tests

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	minidyn "github.com/truora/minidyn/server"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/ddblocal"
	"github.com/openclaw/tenancy/internal/tenancy"
)

func (s *server) setup() {
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
}

func (s *server) storeDown(down bool) {
	c := minidyn.FailureConditionNone
	if down {
		c = minidyn.FailureConditionInternalServerError
	}
	s.loc.Embedded.Server.EmulateFailureForTable(s.loc.App.Table, c)
}

func (s *server) exec(query string) resp {
	return s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": query})
}

func (s *server) usage() resp { return s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200) }

// DynamoDB failing: the admit gets 503 (after the SDK's retries) and
// nothing changes.
func TestFaultStoreDownAtAdmit(t *testing.T) {
	s := newServer(t, true, inMemory)
	s.setup()
	before := s.usage().raw
	s.storeDown(true)
	r := s.must(s.exec("hi"), 503, "The tenancy store is temporarily unavailable; retry later")
	eq(t, "code", r.str("error", "code"), "store_unavailable")
	s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 503)
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "other"}), 503)
	s.storeDown(false)
	eq(t, "nothing changed", s.usage().raw, before)
	s.must(s.do("GET", "/tenants/other", adminKey, nil), 404)
	s.must(s.exec("hi"), 200)
}

// DynamoDB down while the model answers: settling retries with backoff and
// succeeds once DynamoDB is back; the cost is counted exactly once.
func TestFaultStoreOutageDuringSettle(t *testing.T) {
	s := newServer(t, true, inMemory)
	s.setup()
	s.model.onCall(func() {
		s.storeDown(true)
		time.AfterFunc(400*time.Millisecond, func() { s.storeDown(false) })
	})
	r := s.must(s.exec("hi"), 200)
	eq(t, "cost", r.num("cost_usd"), "0.0105")
	s.model.onCall(nil)
	u := s.usage()
	eq(t, "spent once", u.num("total_cost_usd"), "0.0105")
	eq(t, "queries", u.num("total_queries"), "1")
	eq(t, "reserved", u.num("reserved_cost_usd"), "0")
}

// Settling keeps failing (its transaction is throttled past every retry),
// so the settlement is recorded on the call; the next rollover reconciles
// it: the cost appears once, on the day of the call, never twice.
func TestFaultSettleFailsThenRolloverReconciles(t *testing.T) {
	faults := &ddblocal.Faults{}
	s := newServer(t, true, inMemory, func(o *app.Options) {
		o.DynamoOptions = append(o.DynamoOptions, faults.Option)
		o.SettleTimeout = 600 * time.Millisecond
	})
	s.setup()
	throttled := &types.ProvisionedThroughputExceededException{Message: aws.String("emulated throttling")}
	s.model.onCall(func() { faults.Fail("TransactWriteItems", -1, throttled) })
	r := s.must(s.exec("hi"), 200)
	eq(t, "answered", r.str("content"), "Answer to: hi")
	faults.Clear()
	s.model.onCall(nil)
	if faults.Hits("TransactWriteItems") < 2 { // the SDK retried, then the service did
		t.Fatalf("settle was tried %d times", faults.Hits("TransactWriteItems"))
	}
	u := s.usage()
	eq(t, "not settled yet", u.num("total_cost_usd"), "0")
	eq(t, "reservation still shown (92 x 3750 + 1024 x 15000 nano-USD)", u.num("reserved_cost_usd"), "0.015705")
	if !strings.Contains(s.logs.String(), `"msg":"settle failed; left for reconcile"`) {
		t.Fatal("the failed settle was not logged")
	}

	s.clock.Set(time.Date(2026, 11, 29, 0, 0, 5, 0, time.UTC))
	for i := 0; i < 2; i++ { // twice: the second run changes nothing
		sum, err := s.loc.App.Service.DailyReset(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		eq(t, fmt.Sprintf("run %d applied", i+1), sum.Applied, 1-i)
	}
	h := s.must(s.do("GET", "/tenants/acme/usage/history?from=2026-11-28&to=2026-11-29", adminKey, nil), 200)
	days := h.get("days").([]any)
	eq(t, "days", len(days), 1)
	d := days[0].(map[string]any)
	eq(t, "day", d["date"], "2026-11-28")
	eq(t, "cost once", d["cost_usd"], "0.0105")
	eq(t, "queries once", d["queries"], "1")
	eq(t, "nothing unsettled", d["unsettled_reserved_usd"], "0")
	u = s.usage()
	eq(t, "lifetime", u.num("lifetime_cost_usd"), "0.0105")
	eq(t, "today", u.num("total_cost_usd"), "0")
}

// Throttled admits are retried by the SDK and succeed.
func TestFaultThrottledAdmitRetried(t *testing.T) {
	faults := &ddblocal.Faults{}
	s := newServer(t, true, inMemory, func(o *app.Options) { o.DynamoOptions = append(o.DynamoOptions, faults.Option) })
	s.setup()
	faults.Fail("TransactWriteItems", 2, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")})
	s.must(s.exec("hi"), 200)
	eq(t, "throttled attempts", faults.Hits("TransactWriteItems"), 2)
	eq(t, "charged once", s.usage().num("total_queries"), "1")
}

// The daily reset runs (twice, concurrently) while executes straddle
// midnight: every successful call is billed exactly once, on its admit day.
func TestFaultResetDuringExecutes(t *testing.T) {
	s := newServer(t, true, inMemory)
	s.setup()
	s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"max_cost_usd_per_day": 1000}), 200)
	s.clock.Set(time.Date(2026, 11, 28, 23, 59, 59, 0, time.UTC))
	const n = 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i == n/2 {
				s.clock.Set(time.Date(2026, 11, 29, 0, 0, 1, 0, time.UTC))
				var rw sync.WaitGroup
				for k := 0; k < 2; k++ {
					rw.Add(1)
					go func() {
						defer rw.Done()
						if _, err := s.loc.App.Service.DailyReset(context.Background()); err != nil {
							t.Error(err)
						}
					}()
				}
				rw.Wait()
			}
			if r := s.exec(fmt.Sprintf("q%d", i)); r.status == 200 {
				mu.Lock()
				ok++
				mu.Unlock()
			} else {
				t.Errorf("execute: %d %s", r.status, r.raw)
			}
		}(i)
	}
	wg.Wait()
	h := s.must(s.do("GET", "/tenants/acme/usage/history?from=2026-11-28&to=2026-11-29", adminKey, nil), 200)
	var queries, unsettled int
	var cost tenancy.Money
	for _, d := range h.get("days").([]any) {
		m := d.(map[string]any)
		var q int
		fmt.Sscan(fmt.Sprint(m["queries"]), &q)
		queries += q
		c, err := tenancy.ParseUSD(fmt.Sprint(m["cost_usd"]))
		if err != nil {
			t.Fatal(err)
		}
		cost += c
		if fmt.Sprint(m["unsettled_reserved_usd"]) != "0" {
			unsettled++
		}
	}
	eq(t, "queries billed = answered", queries, ok)
	eq(t, "cost billed", cost, tenancy.Money(ok)*10_500_000)
	eq(t, "days with unsettled reservations", unsettled, 0)
	u := s.usage()
	eq(t, "lifetime queries", u.num("total_queries"), ok)
	eq(t, "reserved", u.num("reserved_cost_usd"), "0")
}
