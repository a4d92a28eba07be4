// Package alerts delivers budget alerts: as EventBridge events in AWS, and
// as signed webhook POSTs locally (or wherever TENANCY_ALERT_WEBHOOK is set).
// Every alert is also recorded in the table (GET /tenants/{t}/alerts)
// before it is delivered; a delivery that fails is logged, not retried later.
// The local server delivers from a background Queue (no response waits for
// a receiver); a Lambda function delivers before it answers, within a small
// total budget (Bounded).
package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// Event names shared by EventBridge and the webhook.
const (
	Source     = "tenancy"
	DetailType = "Budget Threshold Reached"
	// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>".
	SignatureHeader = "X-Tenancy-Signature"
)

// Sign is the webhook signature of body: "sha256=" and the hex HMAC-SHA256
// of the body with the secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Webhook POSTs each alert's JSON to URL, signed with Secret, with a
// per-attempt timeout and retries with backoff on network errors, 429 and 5xx.
type Webhook struct {
	URL     string
	Secret  []byte
	Client  *http.Client  // default: a client with Timeout
	Timeout time.Duration // per attempt, default 5s
	Retries int           // after the first attempt, default 3
	Backoff time.Duration // before the first retry, doubling; default 200ms
}

// Notify implements tenancy.Notifier.
func (w *Webhook) Notify(ctx context.Context, a tenancy.Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	timeout, retries, backoff := w.Timeout, w.Retries, w.Backoff
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	if retries == 0 {
		retries = 3
	}
	if backoff == 0 {
		backoff = 200 * time.Millisecond
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	sig := Sign(w.Secret, body)
	for attempt := 0; ; attempt++ {
		retry, err := w.post(ctx, client, timeout, body, sig)
		if err == nil {
			return nil
		}
		if !retry || attempt >= retries {
			return err
		}
		t := time.NewTimer(backoff << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

func (w *Webhook) post(ctx context.Context, client *http.Client, timeout time.Duration, body []byte, sig string) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, sig)
	req.Header.Set("X-Tenancy-Event", DetailType)
	resp, err := client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("alert webhook answered %d", resp.StatusCode)
	default:
		return false, fmt.Errorf("alert webhook answered %d", resp.StatusCode)
	}
}

// EventBridgeAPI is the part of the EventBridge client alerts use.
type EventBridgeAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// EventBridge puts each alert on an event bus (the account's default bus
// in the stack): source "tenancy", detail-type "Budget Threshold Reached",
// the alert's JSON as detail.
type EventBridge struct {
	API EventBridgeAPI
	Bus string // default "default"
}

// Notify implements tenancy.Notifier.
func (e *EventBridge) Notify(ctx context.Context, a tenancy.Alert) error {
	detail, err := json.Marshal(a)
	if err != nil {
		return err
	}
	bus := e.Bus
	if bus == "" {
		bus = "default"
	}
	out, err := e.API.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String(Source), DetailType: aws.String(DetailType), Detail: aws.String(string(detail)),
		EventBusName: aws.String(bus), Time: aws.Time(a.At)}}})
	if err != nil {
		return err
	}
	if out.FailedEntryCount > 0 && len(out.Entries) > 0 {
		return fmt.Errorf("EventBridge refused the alert: %s %s", aws.ToString(out.Entries[0].ErrorCode),
			aws.ToString(out.Entries[0].ErrorMessage))
	}
	return nil
}

// Multi delivers to several notifiers; it reports every failure.
type Multi []tenancy.Notifier

// Notify implements tenancy.Notifier.
func (m Multi) Notify(ctx context.Context, a tenancy.Alert) error {
	var errs []error
	for _, n := range m {
		if err := n.Notify(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Bounded delivers synchronously within a total budget (every attempt and
// backoff included): where no work may follow the response (Lambda), an
// execute whose settlement raised an alert waits at most Budget for it.
type Bounded struct {
	Notifier tenancy.Notifier
	Budget   time.Duration
}

// DefaultLambdaBudget bounds a Lambda function's alert delivery.
const DefaultLambdaBudget = 2 * time.Second

// Notify implements tenancy.Notifier.
func (b Bounded) Notify(ctx context.Context, a tenancy.Alert) error {
	ctx, cancel := context.WithTimeout(ctx, b.Budget)
	defer cancel()
	return b.Notifier.Notify(ctx, a)
}

// Queue delivers in the background (the long-running local server): Notify
// only enqueues, so no client's response waits for a receiver. One worker
// delivers in order through Notifier (its own retries and backoff); when
// Size alerts wait already, a new one is dropped and logged (it stays
// recorded, GET /tenants/{t}/alerts). Close drains the queue until its
// context's deadline, then abandons (and logs) what is left.
type Queue struct {
	notifier tenancy.Notifier
	log      *slog.Logger
	ch       chan tenancy.Alert
	done     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.RWMutex
	closed   bool
}

// DefaultQueueSize is how many alerts may wait for delivery.
const DefaultQueueSize = 1024

// NewQueue starts a queue's worker.
func NewQueue(n tenancy.Notifier, size int, log *slog.Logger) *Queue {
	if size <= 0 {
		size = DefaultQueueSize
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{notifier: n, log: log, ch: make(chan tenancy.Alert, size), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go q.run()
	return q
}

func (q *Queue) run() {
	defer close(q.done)
	for a := range q.ch {
		if q.ctx.Err() != nil {
			q.log.Error("alert not delivered: shutting down", alertAttrs(a)...)
			continue
		}
		if err := q.notifier.Notify(q.ctx, a); err != nil {
			q.log.Error("alert delivery failed", append(alertAttrs(a), "error", err)...)
		}
	}
}

func alertAttrs(a tenancy.Alert) []any {
	return []any{"tenant_id", a.TenantID, "period", a.Period, "threshold_pct", a.ThresholdPct}
}

// Notify implements tenancy.Notifier: it enqueues a and returns at once;
// an error when the queue is full or closed (a is then dropped).
func (q *Queue) Notify(_ context.Context, a tenancy.Alert) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return errors.New("alert queue closed: alert dropped")
	}
	select {
	case q.ch <- a:
		return nil
	default:
		return fmt.Errorf("alert queue full (%d waiting): alert dropped", cap(q.ch))
	}
}

// Close stops accepting alerts and delivers those waiting until ctx is
// done; then the delivery in progress is cancelled and the rest are logged
// as not delivered. It returns ctx's error when it had to abandon any.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		<-q.done
		return ctx.Err()
	}
}
