package alerts

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
