package alerts

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/openclaw/tenancy/internal/tenancy"
)

var alert = tenancy.Alert{TenantID: "acme", Period: "day", ThresholdPct: 80, Spent: 8_000_000_000, Cap: 10_000_000_000,
	At: time.Date(2026, 11, 28, 14, 30, 0, 0, time.UTC)}

const wantJSON = `{"tenant_id":"acme","period":"day","threshold_pct":80,"spent_usd":8,"cap_usd":10,"at":"2026-11-28T14:30:00Z"}`

func TestSign(t *testing.T) {
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231 style known value.
	got := Sign([]byte("key"), []byte("The quick brown fox jumps over the lazy dog"))
	if want := "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

// The webhook retries a 503, then delivers the alert's JSON signed.
func TestWebhookRetriesAndSigns(t *testing.T) {
	var calls atomic.Int32
	var body, sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		body, sig = string(b), r.Header.Get(SignatureHeader)
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL, Secret: []byte("s3cret"), Backoff: time.Millisecond}
	if err := w.Notify(context.Background(), alert); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2", calls.Load())
	}
	if body != wantJSON {
		t.Fatalf("body = %s, want %s", body, wantJSON)
	}
	if want := Sign([]byte("s3cret"), []byte(wantJSON)); sig != want {
		t.Fatalf("signature = %s, want %s", sig, want)
	}
}

// A 4xx other than 429 is not retried; a hanging server times out on each
// attempt and the retries stop.
func TestWebhookFailures(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	err := (&Webhook{URL: srv.URL, Backoff: time.Millisecond}).Notify(context.Background(), alert)
	if err == nil || err.Error() != "alert webhook answered 400" || calls.Load() != 1 {
		t.Fatalf("err = %v after %d calls, want one call answered 400", err, calls.Load())
	}
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hang)
	calls.Store(0)
	start := time.Now()
	err = (&Webhook{URL: slow.URL, Timeout: 50 * time.Millisecond, Retries: 2, Backoff: time.Millisecond}).Notify(context.Background(), alert)
	if err == nil || calls.Load() != 3 {
		t.Fatalf("err = %v after %d calls, want 3 timed-out attempts", err, calls.Load())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

type fakeBus struct{ in *eventbridge.PutEventsInput }

func (f *fakeBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.in = in
	return &eventbridge.PutEventsOutput{}, nil
}

func TestEventBridgeEvent(t *testing.T) {
	bus := &fakeBus{}
	if err := (&EventBridge{API: bus}).Notify(context.Background(), alert); err != nil {
		t.Fatal(err)
	}
	if len(bus.in.Entries) != 1 {
		t.Fatalf("entries = %d", len(bus.in.Entries))
	}
	e := bus.in.Entries[0]
	var detail map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &detail); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(e.Source) != "tenancy" || aws.ToString(e.DetailType) != "Budget Threshold Reached" ||
		aws.ToString(e.EventBusName) != "default" || aws.ToString(e.Detail) != wantJSON || !aws.ToTime(e.Time).Equal(alert.At) {
		t.Fatalf("entry = %+v (detail %s)", e, aws.ToString(e.Detail))
	}
}

// hanging is a receiver that never answers until the test ends.
func hanging(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, &calls
}

// Bounded gives a hanging receiver its whole budget, retries included,
// and no more: the default webhook (5 s a try, 3 retries) would take 21 s.
func TestBoundedDelivery(t *testing.T) {
	srv, calls := hanging(t)
	b := Bounded{Notifier: &Webhook{URL: srv.URL, Secret: []byte("k"), Timeout: 150 * time.Millisecond}, Budget: 500 * time.Millisecond}
	start := time.Now()
	err := b.Notify(context.Background(), alert)
	took := time.Since(start)
	if err == nil {
		t.Fatal("a hanging receiver was reported delivered")
	}
	// 150 ms, 200 ms backoff, 150 ms, then the budget ends during the 400 ms backoff.
	if took < 500*time.Millisecond || took > 1500*time.Millisecond {
		t.Fatalf("took %v, want the 500ms budget (at most 1.5 s on a loaded machine)", took)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("attempts %d, want 2 within the budget", n)
	}
}

// recorder is a notifier that records, optionally blocking until released.
type recorder struct {
	mu      sync.Mutex
	got     []tenancy.Alert
	block   chan struct{}
	started chan struct{}
}

func (r *recorder) Notify(ctx context.Context, a tenancy.Alert) error {
	if r.started != nil {
		r.started <- struct{}{}
	}
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	r.got = append(r.got, a)
	r.mu.Unlock()
	return nil
}

func (r *recorder) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// The queue returns at once, delivers in order in the background, and Close
// drains what waits.
func TestQueueDeliversInBackground(t *testing.T) {
	rec := &recorder{block: make(chan struct{})}
	q := NewQueue(rec, 8, nil)
	start := time.Now()
	for i := 1; i <= 5; i++ {
		a := alert
		a.ThresholdPct = i
		if err := q.Notify(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("enqueueing 5 alerts took %v", took)
	}
	if n := rec.n(); n != 0 {
		t.Fatalf("delivered %d while the receiver blocks", n)
	}
	close(rec.block)
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := rec.n(); n != 5 {
		t.Fatalf("delivered %d, want 5", n)
	}
	for i, a := range rec.got {
		if a.ThresholdPct != i+1 {
			t.Fatalf("alert %d has threshold %d: out of order", i, a.ThresholdPct)
		}
	}
	if err := q.Notify(context.Background(), alert); err == nil || err.Error() != "alert queue closed: alert dropped" {
		t.Fatalf("after Close: %v", err)
	}
}

// A full queue drops (and says so); Close gives up at its deadline,
// cancelling the delivery in progress.
func TestQueueFullAndDrainDeadline(t *testing.T) {
	rec := &recorder{block: make(chan struct{}), started: make(chan struct{}, 10)}
	q := NewQueue(rec, 2, nil)
	if err := q.Notify(context.Background(), alert); err != nil {
		t.Fatal(err)
	}
	<-rec.started // the worker holds the first; two more fill the queue
	for i := 0; i < 2; i++ {
		if err := q.Notify(context.Background(), alert); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Notify(context.Background(), alert); err == nil || err.Error() != "alert queue full (2 waiting): alert dropped" {
		t.Fatalf("full queue: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := q.Close(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Close = %v, want the deadline", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close took %v past its 100ms deadline", took)
	}
	if n := rec.n(); n != 0 {
		t.Fatalf("delivered %d, want none (the receiver never answered)", n)
	}
}
