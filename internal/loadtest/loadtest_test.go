package loadtest

import (
	"context"
	"testing"
)

// A small run of the load tool in `make test`, on the default store (bolt)
// and on the in-memory DynamoDB: every invariant holds, and the capped and
// limited tenants were actually constrained.
func TestLoadInvariants(t *testing.T) {
	for _, c := range []struct{ store, want string }{{"", "bolt"}, {"memory", "memory"}} {
		t.Run(c.want, func(t *testing.T) {
			cfg := Defaults()
			cfg.Requests, cfg.Workers, cfg.HourlyLimit, cfg.Store = 150, 24, 20, c.store
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Store != c.want {
				t.Fatalf("store %q, want %q", res.Store, c.want)
			}
			if len(res.Violations) > 0 {
				t.Fatalf("violations: %v", res.Violations)
			}
			if res.HourlyAdmitted != 20 || res.Rejected429 < 30 || res.Admitted+res.Rejected429 != 150 {
				t.Fatalf("admitted %d (hourly %d), 429 %d", res.Admitted, res.HourlyAdmitted, res.Rejected429)
			}
			// Refusals by code: the hourly tenant's are query_limit, the capped
			// tenant's are cost refusals classified by the state they met: a real
			// exhaustion (cost_limit) only once settled spend plus one reservation
			// (at most 632,000 nano-USD here) passes the cap.
			total := 0
			for code, n := range res.RefusedByCode {
				total += n
				if code != "query_limit" && code != "cost_limit" && code != "cost_limit_in_flight" {
					t.Errorf("unexpected refusal code %q (%d)", code, n)
				}
			}
			if total != res.Rejected429 || res.RefusedByCode["query_limit"] != res.Rejected429-res.CappedRefusals["cost_limit"]-res.CappedRefusals["cost_limit_in_flight"] {
				t.Errorf("refusals by code %v, capped %v, 429s %d", res.RefusedByCode, res.CappedRefusals, res.Rejected429)
			}
			if res.CappedRefusals["cost_limit"] > 0 && res.SpendNanos+632_000 <= res.CapNanos {
				t.Errorf("cost_limit refusals while spend %d + a reservation fits the cap %d", res.SpendNanos, res.CapNanos)
			}
			if res.SpendNanos == 0 || res.SpendNanos%66_000 != 0 { // 120 x 150 + 80 x 600 nano-USD per call
				t.Fatalf("spend %d is not a whole number of calls", res.SpendNanos)
			}
		})
	}
}
