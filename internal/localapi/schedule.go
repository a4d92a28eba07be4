package localapi

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// DefaultResetTick is how often the local schedule looks at the clock: it
// sleeps until the next hour of the clock, at most this long (a Manual
// clock moves without it sleeping).
const DefaultResetTick = 30 * time.Second

// Schedule is the local stand-in for the stack's EventBridge rule
// (cron(0 * * * ? *)): it runs the reset function's own handler
// (app.App.Reset, the scheduled reset and reconcile) once at start-up and
// then whenever the clock enters a new hour, until stopped. Without it a
// local server killed with calls in flight would hold their reservations
// until the tenant's local midnight.
type Schedule struct {
	run    func(ctx context.Context, ev events.CloudWatchEvent) (tenancy.ResetSummary, error)
	clock  clock.Clock
	tick   time.Duration
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	runs   int
}

// StartSchedule runs reset now and at the top of every hour of c (looked at
// every tick at least) until Stop.
func StartSchedule(reset func(ctx context.Context, ev events.CloudWatchEvent) (tenancy.ResetSummary, error), c clock.Clock, tick time.Duration) *Schedule {
	if tick <= 0 {
		tick = DefaultResetTick
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Schedule{run: reset, clock: c, tick: tick, cancel: cancel, done: make(chan struct{})}
	go s.loop(ctx)
	return s
}

func (s *Schedule) loop(ctx context.Context) {
	defer close(s.done)
	last := ""
	for {
		now := s.clock.Now()
		if hour := tenancy.HourKey(now); hour != last {
			last = hour
			// Its summary and failures are logged by the handler, as in
			// Lambda; a failed run is retried at the next hour (the run
			// resumes from its checkpoint).
			_, _ = s.run(ctx, events.CloudWatchEvent{ID: "local-" + hour, Source: "aws.events",
				DetailType: "Scheduled Event", Time: now})
			s.mu.Lock()
			s.runs++
			s.mu.Unlock()
		}
		wait := min(s.tick, tenancy.NextHour(now).Sub(now))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Runs is how many runs have finished.
func (s *Schedule) Runs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

// Stop cancels a run in progress (it resumes from its checkpoint next
// time) and waits for the schedule to end.
func (s *Schedule) Stop() {
	s.cancel()
	<-s.done
}

// ScheduleLine is the start-up output's Reset line.
const ScheduleLine = "scheduled reset and reconcile (the reset function's handler) at start-up and at the top of every hour"
