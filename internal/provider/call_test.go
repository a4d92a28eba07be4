package provider

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		h    map[string]string
		want time.Duration
		tol  time.Duration
	}{
		{map[string]string{}, 0, 0},
		{map[string]string{"Retry-After": "2"}, 2 * time.Second, 0},
		{map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond, 0},
		{map[string]string{"Retry-After": "0"}, 0, 0},
		{map[string]string{"Retry-After": "-3"}, 0, 0},
		{map[string]string{"Retry-After": "soon"}, 0, 0},
		{map[string]string{"Retry-After": "2", "retry-after-ms": "150"}, 150 * time.Millisecond, 0},
		{map[string]string{"Retry-After": future}, 90 * time.Second, 2 * time.Second},
		{map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0, 0},
	} {
		h := http.Header{}
		for k, v := range tc.h {
			h.Set(k, v)
		}
		got := RetryAfter(h)
		if got < tc.want-tc.tol || got > tc.want {
			t.Errorf("RetryAfter(%v) = %s, want %s (-%s)", tc.h, got, tc.want, tc.tol)
		}
	}
}

func TestBackoffIsExponentialWithJitterAndCapped(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}.withDefaults()
	for n, full := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 40: time.Second} {
		for range 50 {
			if d := p.backoff(n); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, full/2, full)
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	if p.MaxAttempts != 4 || p.BaseDelay != 250*time.Millisecond || p.MaxDelay != 4*time.Second || p.MinAttemptTime != time.Second {
		t.Errorf("defaults = %+v", p)
	}
	if (Options{}).timeout() != 25*time.Second {
		t.Errorf("default timeout = %s", (Options{}).timeout())
	}
}

func TestCallMapsCancellationToTimeoutClass(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	err := fastOpts().Call(ctx, "x", func(ctx context.Context) error {
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, ErrTimeout) || err.Error() != "x: call canceled: model provider timed out" {
		t.Errorf("err = %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"key sk-abcdef123456 bad":         "key [redacted] bad",
		"masked sk-proj-ab**********wxyz": "masked [redacted]",
		"own secret hunter2-secret!":      "own secret [redacted]!",
		"task-1234 and desk-lamp":         "task-1234 and desk-lamp",
	} {
		if got := redact(in, "hunter2-secret"); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	if got := RedactURL("https://user:pw@llm.example.com/v1?key=abc"); got != "https://llm.example.com/v1?..." {
		t.Errorf("RedactURL = %q", got)
	}
}

func TestScrub(t *testing.T) {
	for in, want := range map[string]string{
		`Post "http://10.0.0.5:8080/v1/chat/completions": dial tcp 10.0.0.5:8080: connect: connection refused`: `Post "[url]": dial tcp [address]: connect: connection refused`,
		"dial tcp: lookup gateway.internal.corp: no such host":                                                 "dial tcp: lookup [host]: no such host",
		"upstream gw.example.com:8443 said no":                                                                 "upstream [address] said no",
		"GET /api/v1/agents failed":                                                                            "GET [path] failed",
		"Unknown agent 'tenant-acme-support'.":                                                                 "Unknown agent 'tenant-acme-support'.",
		"[::1]:9000 refused":                                                                                   "[address] refused",
		"retry after 12:30 at 2026-11-29T12:30:00Z":                                                            "retry after 12:30 at 2026-11-29T12:30:00Z",
		"localhost:3000 down":                                                                                  "[address] down",
	} {
		if got := Scrub(in); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
	}
}
