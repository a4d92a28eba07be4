package bedrock

import (
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/provider/providertest"
)

// fastOpts keeps retries and timeouts in milliseconds.
func fastOpts() provider.Options {
	return provider.Options{Timeout: 3 * time.Second, Retry: provider.RetryPolicy{MaxAttempts: 3,
		BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, MinAttemptTime: time.Millisecond}}
}

// The shared test doubles (internal/provider/providertest), by short names.
type fake = providertest.Fake

var (
	newFake    = providertest.NewFake
	decodeBody = providertest.DecodeBody
	writeJSON  = providertest.WriteJSON
	hangUp     = providertest.HangUp
	stall      = providertest.Stall
	wantClass  = providertest.WantClass
	eq         = providertest.Eq
)

func collect(t *testing.T, b *Provider, req provider.Request) (provider.Response, []string, error) {
	t.Helper()
	return providertest.Collect(t, b.Stream, req)
}
