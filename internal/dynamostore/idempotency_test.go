package dynamostore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/idempotency"
)

// Issue 9, finding 5: an idempotency record belongs to its claim. A claim
// that timed out and was taken over can no longer complete or abandon the
// new owner's record.
func TestIdempotencyRecordsBelongToTheirClaim(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		now := v.clock.Now()
		exp := now.Add(24 * time.Hour)
		_, claimed, err := v.store.ClaimRequest(v.ctx, "acme", "k1", "owner-a", "p1", now, now.Add(time.Minute), exp)
		if err != nil || !claimed {
			t.Fatalf("claim a: %v %v", claimed, err)
		}
		// b cannot claim while a is in progress; after a's claim timed out, b takes over.
		rec, claimed, err := v.store.ClaimRequest(v.ctx, "acme", "k1", "owner-b", "p1", now.Add(30*time.Second), now.Add(90*time.Second), exp)
		if err != nil || claimed || rec.Status != idempotency.InProgress {
			t.Fatalf("claim b while a runs: %+v %v %v", rec, claimed, err)
		}
		later := now.Add(2 * time.Minute)
		if _, claimed, err = v.store.ClaimRequest(v.ctx, "acme", "k1", "owner-b", "p1", later, later.Add(time.Minute), exp); err != nil || !claimed {
			t.Fatalf("take-over by b: %v %v", claimed, err)
		}
		// a wakes up: it may neither complete nor abandon b's record.
		if err := v.store.CompleteRequest(v.ctx, "acme", "k1", "owner-a", 200, `{"from":"a"}`, exp); !errors.Is(err, idempotency.ErrNotOwner) {
			t.Fatalf("a completing b's record: %v", err)
		}
		if err := v.store.AbandonRequest(v.ctx, "acme", "k1", "owner-a"); !errors.Is(err, idempotency.ErrNotOwner) {
			t.Fatalf("a abandoning b's record: %v", err)
		}
		rec, claimed, err = v.store.ClaimRequest(v.ctx, "acme", "k1", "owner-c", "p1", later.Add(time.Second), later.Add(time.Minute), exp)
		if err != nil || claimed || rec.Status != idempotency.InProgress {
			t.Fatalf("b's claim must still stand: %+v %v %v", rec, claimed, err)
		}
		if err := v.store.CompleteRequest(v.ctx, "acme", "k1", "owner-b", 200, `{"from":"b"}`, exp); err != nil {
			t.Fatal(err)
		}
		rec, _, _ = v.store.ClaimRequest(v.ctx, "acme", "k1", "owner-c", "p1", later.Add(time.Second), later.Add(time.Minute), exp)
		if rec.Status != idempotency.Completed || rec.Body != `{"from":"b"}` || rec.StatusCode != 200 {
			t.Fatalf("record after b completed: %+v", rec)
		}
		// A completed record is no claim's any more.
		if err := v.store.AbandonRequest(v.ctx, "acme", "k1", "owner-b"); !errors.Is(err, idempotency.ErrNotOwner) {
			t.Fatalf("abandoning a completed record: %v", err)
		}
		if err := v.store.CompleteRequest(v.ctx, "acme", "k1", "owner-b", 500, "x", exp); !errors.Is(err, idempotency.ErrNotOwner) {
			t.Fatalf("completing twice: %v", err)
		}
		// The owner abandons its own claim: the key is free again.
		if _, claimed, _ := v.store.ClaimRequest(v.ctx, "acme", "k2", "owner-d", "p2", now, now.Add(time.Minute), exp); !claimed {
			t.Fatal("claim k2")
		}
		if err := v.store.AbandonRequest(v.ctx, "acme", "k2", "owner-d"); err != nil {
			t.Fatal(err)
		}
		if _, claimed, _ := v.store.ClaimRequest(v.ctx, "acme", "k2", "owner-e", "p2", now, now.Add(time.Minute), exp); !claimed {
			t.Fatal("k2 was not freed by its owner")
		}
	})
}
