package dynamostore_test

import (
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/tenancy"
)

func (v *env) execAt(tenantID string, at time.Time) {
	v.t.Helper()
	v.clock.Set(at)
	if _, err := v.svc.Execute(v.ctx, tenantID, "support", query); err != nil {
		v.t.Fatalf("execute %s at %s: %v", tenantID, at, err)
	}
}

func (v *env) zoned(id, zone string, cap tenancy.Money) {
	v.t.Helper()
	v.register(tenantCfg(id, func(c *tenancy.TenantConfig) { c.Timezone = zone; c.MaxCostPerDay = cap }))
	v.agent(id, agentCfg("support", func(c *tenancy.AgentConfig) { c.SystemPrompt = prompt }))
}

func (v *env) days(tenantID, from, to string) map[string]int64 {
	v.t.Helper()
	days, err := v.svc.History(v.ctx, tenantID, from, to)
	if err != nil {
		v.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, d := range days {
		out[d.Date] = d.Queries
		eq(v.t.(*testing.T), "cost of "+d.Date, d.Cost, tenancy.Money(d.Queries)*costNanos)
	}
	return out
}

func wantQueries(t *testing.T, got map[string]int64, want map[string]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("history queries %v, want %v", got, want)
	}
	for d, n := range want {
		if got[d] != n {
			t.Fatalf("history queries %v, want %v", got, want)
		}
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// New York's days of 2026: March 8 lasts 23 hours (05:00Z to 04:00Z), and
// November 1 lasts 25 (04:00Z to 05:00Z). The window, usage_date,
// resets_at, the cost limit's Retry-After and the history follow them.
func TestDSTDays(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.clock.Set(utc("2026-03-08T05:00:00Z"))
		v.zoned("ny", "America/New_York", 50*tenancy.NanosPerUSD)
		v.zoned("broke", "America/New_York", costNanos) // below one reserve: every call refused
		r := v.report("ny")
		eq(t, "usage date at the start of March 8", r.UsageDate, "2026-03-08")
		eq(t, "resets_at", r.ResetsAt, utc("2026-03-09T04:00:00Z"))
		eq(t, "length of March 8", r.ResetsAt.Sub(utc("2026-03-08T05:00:00Z")), 23*time.Hour)
		_, err := v.svc.Execute(v.ctx, "broke", "support", query)
		wantErr(t, err, tenancy.ErrCostLimit, "Tenant 'broke' has exceeded usage limits (cost: $0.00 / $0.01)")
		eq(t, "Retry-After on March 8", err.(*tenancy.Error).RetryAfter, 23*time.Hour)
		v.execAt("ny", utc("2026-03-08T05:00:00Z"))
		v.execAt("ny", utc("2026-03-09T03:59:59Z")) // 23:59:59 EDT
		eq(t, "queries on March 8", v.report("ny").QueriesToday, 2)
		v.execAt("ny", utc("2026-03-09T04:00:00Z")) // midnight EDT
		r = v.report("ny")
		eq(t, "usage date", r.UsageDate, "2026-03-09")
		eq(t, "queries on March 9", r.QueriesToday, 1)
		eq(t, "resets_at of March 9 (24 hours)", r.ResetsAt, utc("2026-03-10T04:00:00Z"))

		v.clock.Set(utc("2026-11-01T04:00:00Z")) // midnight EDT, November 1
		r = v.report("ny")
		eq(t, "usage date", r.UsageDate, "2026-11-01")
		eq(t, "length of November 1", r.ResetsAt.Sub(v.clock.Now()), 25*time.Hour)
		_, err = v.svc.Execute(v.ctx, "broke", "support", query)
		wantErr(t, err, tenancy.ErrCostLimit, "")
		eq(t, "Retry-After on November 1", err.(*tenancy.Error).RetryAfter, 25*time.Hour)
		v.execAt("ny", utc("2026-11-01T04:00:00Z"))
		v.execAt("ny", utc("2026-11-02T04:59:59Z")) // 23:59:59 EST
		eq(t, "queries on November 1", v.report("ny").QueriesToday, 2)
		v.execAt("ny", utc("2026-11-02T05:00:00Z"))
		eq(t, "queries on November 2", v.report("ny").QueriesToday, 1)
		wantQueries(t, v.days("ny", "2026-03-01", "2026-03-31"), map[string]int64{"2026-03-08": 2, "2026-03-09": 1})
		wantQueries(t, v.days("ny", "2026-10-31", "2026-11-30"), map[string]int64{"2026-11-01": 2, "2026-11-02": 1})
		eq(t, "lifetime queries", v.report("ny").TotalQueries, 6)

		// The scheduled run rolls a zone's window at its midnight, not UTC's.
		v.clock.Set(utc("2026-11-03T04:30:00Z")) // 23:30 EST on November 2
		sum, err := v.svc.DailyReset(v.ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "archived before New York's midnight", sum.Archived, 1) // broke's stale window of November 1
		v.clock.Set(utc("2026-11-03T05:00:00Z"))
		sum, err = v.svc.DailyReset(v.ctx)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "archived at New York's midnight", sum.Archived, 2)
		tn, _ := v.svc.GetTenant(v.ctx, "ny")
		eq(t, "window day", tn.Usage.Day, "2026-11-03")
	})
}

// A change of timezone takes effect at the next local midnight of the zone
// in effect: the rest of today stays today, and every call is counted once.
func TestTimezoneChange(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		// East: UTC -> Tokyo at 14:30Z on November 28.
		v.zoned("east", "UTC", 50*tenancy.NanosPerUSD)
		v.execAt("east", t0)
		v.execAt("east", t0)
		tz := "Asia/Tokyo"
		tn, err := v.svc.UpdateTenant(v.ctx, "east", tenancy.TenantPatch{Timezone: &tz})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "timezone", tn.Timezone, "Asia/Tokyo")
		eq(t, "previous timezone", tn.PrevTimezone, "UTC")
		eq(t, "takes effect at", tn.TimezoneFrom, utc("2026-11-29T00:00:00Z"))
		r := v.report("east")
		eq(t, "usage date until UTC midnight", r.UsageDate, "2026-11-28")
		eq(t, "resets_at", r.ResetsAt, utc("2026-11-29T00:00:00Z"))
		v.execAt("east", utc("2026-11-28T20:00:00Z")) // 05:00 in Tokyo on the 29th, still the UTC day
		eq(t, "queries on the 28th", v.report("east").QueriesToday, 3)
		v.execAt("east", utc("2026-11-29T00:30:00Z"))
		r = v.report("east")
		eq(t, "usage date (Tokyo)", r.UsageDate, "2026-11-29")
		eq(t, "resets_at (Tokyo midnight)", r.ResetsAt, utc("2026-11-29T15:00:00Z"))
		// A store that never saw this tenant (another Lambda instance)
		// computes the day in UTC first and is corrected by the item.
		cold := tenancy.New(tenancy.Options{Store: v.coldStore(), Clock: v.clock,
			Catalog: v.svc.Catalog(), Models: v.model})
		v.clock.Set(utc("2026-11-29T15:00:00Z")) // Tokyo's 30th, UTC's 29th
		if _, err := cold.Execute(v.ctx, "east", "support", query); err != nil {
			t.Fatal(err)
		}
		wantQueries(t, v.days("east", "2026-11-27", "2026-11-30"),
			map[string]int64{"2026-11-28": 3, "2026-11-29": 1, "2026-11-30": 1})
		eq(t, "lifetime", v.report("east").TotalQueries, 5)

		// West: Tokyo -> Los Angeles. Tokyo's midnight is 07:00 of the same
		// day in Los Angeles: that day continues until Los Angeles' midnight.
		v.clock.Set(t0) // 23:30 in Tokyo on the 28th
		v.zoned("west", "Asia/Tokyo", 50*tenancy.NanosPerUSD)
		v.execAt("west", t0)
		la := "America/Los_Angeles"
		if _, err := v.svc.UpdateTenant(v.ctx, "west", tenancy.TenantPatch{Timezone: &la}); err != nil {
			t.Fatal(err)
		}
		v.execAt("west", utc("2026-11-28T15:30:00Z")) // 00:30 in Tokyo, 07:30 in Los Angeles
		r = v.report("west")
		eq(t, "usage date (Los Angeles)", r.UsageDate, "2026-11-28")
		eq(t, "queries", r.QueriesToday, 2)
		eq(t, "resets_at (Los Angeles midnight)", r.ResetsAt, utc("2026-11-29T08:00:00Z"))
		v.execAt("west", utc("2026-11-29T08:00:00Z"))
		wantQueries(t, v.days("west", "2026-11-27", "2026-11-30"), map[string]int64{"2026-11-28": 2, "2026-11-29": 1})

		// Setting the zone back before it took effect cancels the change.
		v.clock.Set(utc("2026-11-29T09:00:00Z"))
		tok := "Asia/Tokyo"
		if _, err := v.svc.UpdateTenant(v.ctx, "west", tenancy.TenantPatch{Timezone: &tok}); err != nil {
			t.Fatal(err)
		}
		tn, err = v.svc.UpdateTenant(v.ctx, "west", tenancy.TenantPatch{Timezone: &la})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "no change pending", tn.PrevTimezone, "")
		eq(t, "zone", tn.Timezone, la)
	})
}

func TestTimezoneValidation(t *testing.T) {
	v := newEnv(t, engines[0])
	for _, z := range []string{"", "Local", "Mars/Olympus_Mons", "../../etc/passwd", "Europe/Paris\x00", "utc "} {
		_, err := v.svc.RegisterTenant(v.ctx, tenantCfg("acme", func(c *tenancy.TenantConfig) { c.Timezone = z }))
		wantErr(t, err, tenancy.ErrValidation, "timezone must be an IANA time zone name such as Europe/Paris or UTC")
	}
	v.register(tenantCfg("acme"))
	bad := "Europe/Atlantis"
	_, err := v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{Timezone: &bad})
	wantErr(t, err, tenancy.ErrValidation, "timezone must be an IANA time zone name such as Europe/Paris or UTC")
	tn, _ := v.svc.GetTenant(v.ctx, "acme")
	eq(t, "zone unchanged", tn.Timezone, "UTC")
	eq(t, "nothing pending", tn.PrevTimezone, "")
}
