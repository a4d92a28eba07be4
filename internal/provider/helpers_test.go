package provider

import (
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/provider/providertest"
)

// fastOpts keeps retries and timeouts in milliseconds.
func fastOpts() Options {
	return Options{Timeout: 3 * time.Second,
		Retry: RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, MinAttemptTime: time.Millisecond}}
}

// The shared test doubles (internal/provider/providertest), by short names.
type fake = providertest.Fake

var (
	newFake    = providertest.NewFake
	decodeBody = providertest.DecodeBody
	writeJSON  = providertest.WriteJSON
	hangUp     = providertest.HangUp
	stall      = providertest.Stall
	redirectTo = providertest.RedirectTo
	wantClass  = providertest.WantClass
	eq         = providertest.Eq
)

func wantUsage(t *testing.T, got, want Usage) {
	t.Helper()
	if got != want {
		t.Errorf("usage = %+v, want %+v", got, want)
	}
}
