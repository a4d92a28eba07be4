package boltstore

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/openclaw/tenancy/internal/auth"
)

// PutKey implements auth.KeyStore: the key under its hash and under its
// tenant, if the tenant exists, in one transaction.
func (s *Store) PutKey(ctx context.Context, k auth.StoredKey) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		if _, err := readTenant(tx, k.TenantID); err != nil {
			return err
		}
		keys, ids := tx.Bucket(bKeys), tx.Bucket(bKeyIDs)
		if keys.Get([]byte(k.Hash)) != nil || ids.Get(k2(k.TenantID, k.KeyID)) != nil {
			return fmt.Errorf("a random key or key id collided")
		}
		rec := keyRec{KeyID: k.KeyID, TenantID: k.TenantID, Hash: k.Hash, CreatedAt: k.CreatedAt.UTC()}
		if err := put(keys, []byte(k.Hash), rec); err != nil {
			return err
		}
		return put(ids, k2(k.TenantID, k.KeyID), rec)
	})
}

// KeyByHash implements auth.KeyStore.
func (s *Store) KeyByHash(ctx context.Context, hash string) (auth.StoredKey, bool, error) {
	var r keyRec
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		ok, err = get(tx.Bucket(bKeys), []byte(hash), &r)
		return err
	})
	if err != nil || !ok {
		return auth.StoredKey{}, false, err
	}
	return auth.StoredKey{KeyID: r.KeyID, TenantID: r.TenantID, Hash: r.Hash, CreatedAt: r.CreatedAt}, true, nil
}

// DeleteKey implements auth.KeyStore: both entries go in one transaction.
func (s *Store) DeleteKey(ctx context.Context, tenantID, keyID string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		ids := tx.Bucket(bKeyIDs)
		var r keyRec
		ok, err := get(ids, k2(tenantID, keyID), &r)
		if err != nil {
			return err
		}
		if !ok {
			return auth.KeyNotFound(keyID, tenantID)
		}
		if err := ids.Delete(k2(tenantID, keyID)); err != nil {
			return err
		}
		return tx.Bucket(bKeys).Delete([]byte(r.Hash))
	})
}
