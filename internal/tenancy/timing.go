package tenancy

import (
	"context"
	"sync/atomic"
	"time"
)

// Timing is one request's clock: when it started, and how long it waited
// for model providers. Its overhead (elapsed minus provider time) is what
// the platform itself cost the call; the API reports it in the
// X-Tenancy-Overhead-Ms header.
type Timing struct {
	start    time.Time
	provider atomic.Int64 // nanoseconds
}

type timingKey struct{}

// StartTiming returns ctx carrying a Timing that started at start.
func StartTiming(ctx context.Context, start time.Time) (context.Context, *Timing) {
	t := &Timing{start: start}
	return context.WithValue(ctx, timingKey{}, t), t
}

// TimingFrom is the Timing ctx carries, or nil.
func TimingFrom(ctx context.Context) *Timing {
	t, _ := ctx.Value(timingKey{}).(*Timing)
	return t
}

// addProviderTime records time spent waiting for a model provider.
func addProviderTime(ctx context.Context, d time.Duration) {
	if t := TimingFrom(ctx); t != nil {
		t.provider.Add(int64(d))
	}
}

// Provider is the time spent waiting for model providers so far.
func (t *Timing) Provider() time.Duration { return time.Duration(t.provider.Load()) }

// Overhead is the time since start, less the time spent waiting for model
// providers.
func (t *Timing) Overhead() time.Duration { return time.Since(t.start) - t.Provider() }
