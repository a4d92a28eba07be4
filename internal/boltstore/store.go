// Package boltstore is the embedded, persistent store of the tenancy domain:
// one bbolt file (pure Go, no cgo) in a data directory. It is the default of
// `make run`. The Lambda functions never link it (they use dynamostore).
//
// Every method is one bbolt transaction. bbolt runs one read-write
// transaction at a time (serialisable) and any number of read-only ones on
// a consistent snapshot, so a quota decision (read the tenant, apply the
// domain's rules, write it back) is atomic under any number of concurrent
// requests in this process. A second process on the same data directory is
// refused: bbolt holds an exclusive lock on the file (flock) while open, and
// Open gives up after OpenTimeout with ErrLocked.
//
// Buckets (keys are ids, which are [A-Za-z0-9_-], so "/" never collides):
//
//	tenants  <t>            tenant: config, state, lifetime totals, live window
//	agents   <t>/<a>        agent
//	calls    <t>/<call id>  admitted, unsettled call (deleted when settled)
//	history  <t>/<day>      archived usage of one day
//	agentdays <t>/<day>/<a> one agent's usage of one day (added to by settles)
//	keys     <sha256>       API key by hash (the authorizer's lookup)
//	keyids   <t>/<key id>   the key's hash, listed under its tenant
//	idem     <t>/<hash>     idempotency record of an execute
//	alerts   <t>/<at>#<period>#<key>#<pct>  a budget alert
//	sched    reset          the scheduled reset's checkpoint
//	sessions <t>/<a>#<s>    a conversation (see sessions.go)
//
// Durability: a commit is written to the file with write(2) before the call
// returns, without fsync by default (Options.Fsync). The page cache belongs
// to the kernel, so a process killed with SIGKILL loses no acknowledged
// write, and bbolt's copy-on-write pages plus a meta page written last mean
// a kill at any instant leaves either the old or the new state. A power
// loss or kernel crash can lose the last writes that the kernel had not
// flushed yet; with Fsync every commit is fsynced before it is acknowledged.
package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/idempotency"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// FileName is the database file inside the data directory.
const FileName = "tenancy.db"

var (
	bTenants  = []byte("tenants")
	bAgents   = []byte("agents")
	bCalls    = []byte("calls")
	bHistory  = []byte("history")
	bKeys     = []byte("keys")
	bKeyIDs   = []byte("keyids")
	bIdem     = []byte("idem")
	bAlerts   = []byte("alerts")
	bSched    = []byte("sched")
	bSessions = []byte("sessions")
	bAgentDay = []byte("agentdays")
	buckets   = [][]byte{bTenants, bAgents, bCalls, bHistory, bKeys, bKeyIDs, bIdem, bAlerts, bSched, bSessions, bAgentDay}
)

// Store implements tenancy.Store, auth.KeyStore and idempotency.Store on
// one bbolt file.
type Store struct {
	db   *bolt.DB
	path string
}

var (
	_ tenancy.Store     = (*Store)(nil)
	_ auth.KeyStore     = (*Store)(nil)
	_ idempotency.Store = (*Store)(nil)
)

// Options tune Open.
type Options struct {
	// Fsync makes every commit durable against power loss (fsync before
	// acknowledging). Without it a commit survives the process being killed
	// (SIGKILL) but not the machine losing power.
	Fsync bool
	// OpenTimeout is how long Open waits for another process to release
	// the data directory (default 1s).
	OpenTimeout time.Duration
}

// ErrLocked says another process has the data directory open.
var ErrLocked = errors.New("the data directory is in use by another process")

// Open opens (creating if needed) the store in dir.
func Open(dir string, o Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("boltstore: no data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if o.OpenTimeout == 0 {
		o.OpenTimeout = time.Second
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.OpenTimeout, NoSync: !o.Fsync,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w (it stays locked while a `make run` or import uses it)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialising %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close flushes the file to disk and releases the data directory.
func (s *Store) Close() error {
	_ = s.db.Sync()
	return s.db.Close()
}

// update runs f in one read-write transaction. A domain error from f rolls
// it back and is returned as is; any other failure is the domain's 503.
func (s *Store) update(ctx context.Context, f func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return tenancy.Unavailable(err)
	}
	return storeErr(s.db.Update(f))
}

// view runs f in one read-only transaction (a consistent snapshot).
func (s *Store) view(ctx context.Context, f func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return tenancy.Unavailable(err)
	}
	return storeErr(s.db.View(f))
}

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	var te *tenancy.Error
	if errors.As(err, &te) {
		return err
	}
	return tenancy.Unavailable(err)
}

func k2(a, b string) []byte { return []byte(a + "/" + b) }

func prefix(t string) []byte { return []byte(t + "/") }

// get decodes the value under key into v; false when there is none.
func get(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decoding %s: %w", key, err)
	}
	return true, nil
}

func put(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// scanPrefix calls f for every key under prefix p, in key order.
func scanPrefix(b *bolt.Bucket, p []byte, f func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := f(k, v); err != nil {
			return err
		}
	}
	return nil
}
