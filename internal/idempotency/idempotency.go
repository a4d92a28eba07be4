// Package idempotency defines the records that make retried requests safe,
// in the manner of Powertools idempotency: a request claims its key (in
// progress), then stores its response (completed); both expire.
package idempotency

import (
	"context"
	"errors"
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

// ErrNotOwner: the record no longer belongs to this claim (it timed out and
// another request took the key over, or it is already complete). Nothing
// was changed.
var ErrNotOwner = errors.New("the idempotency record belongs to another claim")

// Store persists records, scoped per tenant. Every claim has its own owner
// token; only the claim that holds the record can complete or abandon it.
type Store interface {
	// ClaimRequest claims a key for owner: it writes an in-progress record
	// unless a live one exists, which it returns instead (claimed false).
	// An in-progress record past inProgressUntil is taken over.
	ClaimRequest(ctx context.Context, tenantID, keyHash, owner, payloadHash string, now, inProgressUntil, expires time.Time) (rec Record, claimed bool, err error)
	// CompleteRequest stores the response of owner's in-progress claim;
	// ErrNotOwner if the record is not (or no longer) owner's.
	CompleteRequest(ctx context.Context, tenantID, keyHash, owner string, statusCode int, body string, expires time.Time) error
	// AbandonRequest deletes owner's in-progress claim whose request
	// failed, so a retry runs again; ErrNotOwner if it is not owner's.
	AbandonRequest(ctx context.Context, tenantID, keyHash, owner string) error
}
