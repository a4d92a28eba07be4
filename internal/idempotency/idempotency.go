// Package idempotency defines the records that make retried requests safe,
// in the manner of Powertools idempotency: a request claims its key (in
// progress), then stores its response (completed); both expire.
package idempotency

import (
	"context"
	"time"
)

// Record statuses.
const (
	InProgress = "INPROGRESS"
	Completed  = "COMPLETED"
)

// Record is a claimed or completed request.
type Record struct {
	Status      string
	PayloadHash string // a retry must send the same request
	StatusCode  int
	Body        string
}

// Store persists records, scoped per tenant.
type Store interface {
	// ClaimRequest claims a key: it writes an in-progress record unless a live one
	// exists, which it returns instead (claimed false).
	ClaimRequest(ctx context.Context, tenantID, keyHash, payloadHash string, now, inProgressUntil, expires time.Time) (rec Record, claimed bool, err error)
	// CompleteRequest stores the response of a claimed key.
	CompleteRequest(ctx context.Context, tenantID, keyHash string, statusCode int, body string, expires time.Time) error
	// AbandonRequest deletes a claimed key whose request failed, so a retry runs again.
	AbandonRequest(ctx context.Context, tenantID, keyHash string) error
}
