package loadtest

import (
	"context"
	"testing"
)

// A small run of the load tool in `make test`: every invariant holds, and
// the capped and limited tenants were actually constrained.
func TestLoadInvariants(t *testing.T) {
	cfg := Defaults()
	cfg.Requests, cfg.Workers, cfg.HourlyLimit = 150, 24, 20
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) > 0 {
		t.Fatalf("violations: %v", res.Violations)
	}
	if res.HourlyAdmitted != 20 || res.Rejected429 < 30 || res.Admitted+res.Rejected429 != 150 {
		t.Fatalf("admitted %d (hourly %d), 429 %d", res.Admitted, res.HourlyAdmitted, res.Rejected429)
	}
	if res.SpendNanos == 0 || res.SpendNanos%66_000 != 0 { // 120 x 150 + 80 x 600 nano-USD per call
		t.Fatalf("spend %d is not a whole number of calls", res.SpendNanos)
	}
}
