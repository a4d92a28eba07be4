package boltstore

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/openclaw/tenancy/internal/idempotency"
)

// ClaimRequest implements idempotency.Store: the key is claimed when it is
// free, expired, or held by an in-progress claim whose process died;
// otherwise the live record comes back.
func (s *Store) ClaimRequest(ctx context.Context, tenantID, keyHash, owner, payloadHash string, now, inProgressUntil, expires time.Time) (idempotency.Record, bool, error) {
	var rec idempotency.Record
	var claimed bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bIdem)
		key := k2(tenantID, keyHash)
		var cur idemRec
		ok, err := get(b, key, &cur)
		if err != nil {
			return err
		}
		n := now.Unix()
		if ok && cur.Expires >= n && !(cur.Status == idempotency.InProgress && cur.InProgUntil < n) {
			rec = idempotency.Record{Status: cur.Status, PayloadHash: cur.PayloadHash, StatusCode: cur.StatusCode, Body: cur.Body}
			return nil
		}
		claimed = true
		rec = idempotency.Record{Status: idempotency.InProgress, PayloadHash: payloadHash}
		return put(b, key, idemRec{Status: idempotency.InProgress, PayloadHash: payloadHash, Body: "-",
			InProgUntil: inProgressUntil.Unix(), Expires: expires.Unix(), Owner: owner})
	})
	if err != nil {
		return idempotency.Record{}, false, err
	}
	return rec, claimed, nil
}

// CompleteRequest implements idempotency.Store.
func (s *Store) CompleteRequest(ctx context.Context, tenantID, keyHash, owner string, statusCode int, body string, expires time.Time) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bIdem)
		key := k2(tenantID, keyHash)
		var cur idemRec
		ok, err := get(b, key, &cur)
		if err != nil {
			return err
		}
		if !ok || cur.Owner != owner || cur.Status != idempotency.InProgress {
			return idempotency.ErrNotOwner
		}
		cur.Status, cur.StatusCode, cur.Body, cur.Expires = idempotency.Completed, statusCode, body, expires.Unix()
		return put(b, key, cur)
	})
}

// AbandonRequest implements idempotency.Store: only owner's in-progress
// claim is deleted.
func (s *Store) AbandonRequest(ctx context.Context, tenantID, keyHash, owner string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bIdem)
		key := k2(tenantID, keyHash)
		var cur idemRec
		ok, err := get(b, key, &cur)
		if err != nil {
			return err
		}
		if !ok || cur.Owner != owner || cur.Status != idempotency.InProgress {
			return idempotency.ErrNotOwner
		}
		return b.Delete(key)
	})
}
