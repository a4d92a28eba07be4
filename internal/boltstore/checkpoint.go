package boltstore

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/openclaw/tenancy/internal/tenancy"
)

var kReset = []byte("reset")

type checkpointRec struct {
	Hour   string `json:"hour"`
	Cursor string `json:"cursor"`
	Done   bool   `json:"done"`
}

// ResetCheckpoint implements tenancy.Store (the zero checkpoint when none
// was saved).
func (s *Store) ResetCheckpoint(ctx context.Context) (tenancy.ResetCheckpoint, error) {
	var r checkpointRec
	err := s.view(ctx, func(tx *bolt.Tx) error {
		_, err := get(tx.Bucket(bSched), kReset, &r)
		return err
	})
	if err != nil {
		return tenancy.ResetCheckpoint{}, err
	}
	return tenancy.ResetCheckpoint{Hour: r.Hour, Cursor: r.Cursor, Done: r.Done}, nil
}

// SaveResetCheckpoint implements tenancy.Store.
func (s *Store) SaveResetCheckpoint(ctx context.Context, cp tenancy.ResetCheckpoint) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return put(tx.Bucket(bSched), kReset, checkpointRec{Hour: cp.Hour, Cursor: cp.Cursor, Done: cp.Done})
	})
}
