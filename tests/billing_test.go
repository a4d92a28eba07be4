package tests

import (
	"testing"
	"time"
)

// The tenant's own day over HTTP: timezone field, 400 for an unknown zone,
// a change pending until the next local midnight, usage_date/resets_at and
// the cost limit's Retry-After in the tenant's calendar.
func TestTimezoneOverHTTP(t *testing.T) {
	s := newServer(t, true)
	body := map[string]any{"tenant_id": "acme", "max_cost_usd_per_day": 0.01, "timezone": "Mars/Olympus_Mons"}
	s.must(s.do("POST", "/tenants", adminKey, body), 400, "timezone must be an IANA time zone name such as Europe/Paris or UTC")
	body["timezone"] = "Asia/Tokyo"
	r := s.must(s.do("POST", "/tenants", adminKey, body), 201)
	eq(t, "timezone", r.str("timezone"), "Asia/Tokyo")
	eq(t, "nothing pending", r.get("timezone_effective_at"), nil)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	// t0 is 14:30Z on November 28: 23:30 in Tokyo.
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "usage_date", r.str("usage_date"), "2026-11-28")
	eq(t, "resets_at", r.str("resets_at"), "2026-11-28T15:00:00Z")
	r = s.must(s.do("POST", "/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi"}), 429)
	eq(t, "Retry-After (to Tokyo's midnight)", r.header.Get("Retry-After"), "1800")

	s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"timezone": "Europe/Atlantis"}), 400,
		"timezone must be an IANA time zone name such as Europe/Paris or UTC")
	r = s.must(s.do("PATCH", "/tenants/acme", adminKey, map[string]any{"timezone": "America/New_York"}), 200)
	eq(t, "timezone", r.str("timezone"), "America/New_York")
	eq(t, "takes effect at Tokyo's midnight", r.str("timezone_effective_at"), "2026-11-28T15:00:00Z")
	s.clock.Set(time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)) // 10:00 in New York
	r = s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "usage_date (New York)", r.str("usage_date"), "2026-11-28")
	eq(t, "resets_at (New York's midnight)", r.str("resets_at"), "2026-11-29T05:00:00Z")
	r = s.must(s.do("GET", "/tenants/acme", adminKey, nil), 200)
	eq(t, "no longer pending", r.get("timezone_effective_at"), nil)
}
