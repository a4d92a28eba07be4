// Package auth is API-key authentication: the admin key, per-tenant keys
// stored only as SHA-256 hashes, and the resolution of a bearer token to a
// principal (role and tenant). Keys are never logged.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Role is what a key may do.
type Role string

// Roles. RoleNone is a request without a valid key.
const (
	RoleAdmin  Role = "admin"
	RoleTenant Role = "tenant"
	RoleNone   Role = "none"
)

// Principal is who a request comes from.
type Principal struct {
	Role     Role
	TenantID string // for RoleTenant
	KeyID    string
}

// StoredKey is a tenant key as stored: its hash, never the key.
type StoredKey struct {
	KeyID     string
	TenantID  string
	Hash      string // hex SHA-256 of the key
	CreatedAt time.Time
}

// KeyStore persists tenant keys.
type KeyStore interface {
	// PutKey stores a key for an existing tenant (TenantNotFound otherwise).
	PutKey(ctx context.Context, k StoredKey) error
	// KeyByHash finds a key by its hash; ok is false when there is none.
	KeyByHash(ctx context.Context, hash string) (k StoredKey, ok bool, err error)
	// DeleteKey revokes a key (KeyNotFound when the tenant has no such key).
	DeleteKey(ctx context.Context, tenantID, keyID string) error
}

// Hash is the hex SHA-256 of a key.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// KeyPrefix starts every generated key, so leaked keys are easy to spot.
const KeyPrefix = "tnk_"

// NewKey returns a new random key (256 bits).
func NewKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Keys manages tenant keys.
type Keys struct {
	Store KeyStore
	Clock clock.Clock
}

// Create makes a tenant key; the plain key is returned once and not stored.
func (k *Keys) Create(ctx context.Context, tenantID string) (string, StoredKey, error) {
	if err := tenancy.CheckTenantID(tenantID); err != nil {
		return "", StoredKey{}, err
	}
	key := NewKey()
	sk := StoredKey{KeyID: tenancy.RandomID()[:16], TenantID: tenantID, Hash: Hash(key), CreatedAt: k.Clock.Now()}
	if err := k.Store.PutKey(ctx, sk); err != nil {
		return "", StoredKey{}, err
	}
	return key, sk, nil
}

// Revoke deletes a tenant key.
func (k *Keys) Revoke(ctx context.Context, tenantID, keyID string) error {
	if err := tenancy.CheckTenantID(tenantID); err != nil {
		return err
	}
	if !tenancy.ValidID(keyID) {
		return KeyNotFound(keyID, tenantID)
	}
	return k.Store.DeleteKey(ctx, tenantID, keyID)
}

// KeyNotFound is "Key 'k' not found for tenant 'acme'".
func KeyNotFound(keyID, tenantID string) error {
	return &tenancy.Error{Code: tenancy.CodeKeyNotFound, Message: "Key '" + keyID + "' not found for tenant '" + tenantID + "'"}
}

// ParseBearer extracts the token of an "Authorization: Bearer <token>"
// header value. The scheme is case-insensitive; the token must be one
// printable ASCII word of at most 256 bytes.
func ParseBearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || len(token) > 256 {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return "", false
		}
	}
	return token, true
}

// Authorizer resolves bearer tokens to principals.
type Authorizer struct {
	admin atomic.Pointer[[][sha256.Size]byte] // hashes of the valid admin keys
	store KeyStore

	reloadMu sync.Mutex
	reload   *AdminKeyReload
	loadedAt time.Time
}

// NewAuthorizer builds an authorizer that accepts any of adminKeys as the
// admin key (none: no admin). Several keys let the admin key rotate: add the
// new key, move clients to it, remove the old one.
func NewAuthorizer(adminKeys []string, store KeyStore) *Authorizer {
	a := &Authorizer{store: store}
	a.SetAdminKeys(adminKeys)
	return a
}

// SetAdminKeys replaces the valid admin keys; safe during Resolve.
func (a *Authorizer) SetAdminKeys(keys []string) {
	hashes := make([][sha256.Size]byte, 0, len(keys))
	for _, k := range keys {
		if k != "" {
			hashes = append(hashes, sha256.Sum256([]byte(k)))
		}
	}
	a.admin.Store(&hashes)
}

// AdminKeyReload makes an authorizer read its admin keys again (from the
// admin key secret, in AWS) at most every Every, on the first request after
// that: a key removed from the secret stops passing within Every, plus
// API Gateway's authorizer cache TTL for a header it has already cached.
type AdminKeyReload struct {
	Load    func(ctx context.Context) ([]string, error)
	Every   time.Duration
	Clock   clock.Clock
	OnError func(error) // a failed load keeps the current keys until the next attempt
}

// WithReload reloads the admin keys as r says; the keys given to
// NewAuthorizer count as loaded now.
func (a *Authorizer) WithReload(r AdminKeyReload) *Authorizer {
	if r.Clock == nil {
		r.Clock = clock.System{}
	}
	a.reloadMu.Lock()
	a.reload, a.loadedAt = &r, r.Clock.Now()
	a.reloadMu.Unlock()
	return a
}

func (a *Authorizer) maybeReload(ctx context.Context) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	r := a.reload
	if r == nil || r.Clock.Now().Sub(a.loadedAt) < r.Every {
		return
	}
	// Whatever the outcome, the next attempt is Every from now: a failing
	// secret store is not asked on every request.
	a.loadedAt = r.Clock.Now()
	keys, err := r.Load(ctx)
	if err == nil && len(keys) == 0 {
		err = errors.New("the admin key list is empty")
	}
	if err != nil {
		if r.OnError != nil {
			r.OnError(err)
		}
		return
	}
	a.SetAdminKeys(keys)
}

// isAdmin compares the token's hash with every admin key's in constant time
// (no early exit, so timing does not tell which or how many keys exist).
func (a *Authorizer) isAdmin(sum [sha256.Size]byte) bool {
	match := 0
	for _, h := range *a.admin.Load() {
		match |= subtle.ConstantTimeCompare(sum[:], h[:])
	}
	return match == 1
}

// ParseAdminKeys reads a list of admin keys: a JSON array of strings, or
// keys separated by commas (TENANCY_ADMIN_KEY, the admin key secret). Space
// around a key is ignored. Each key must be usable as a bearer token
// (printable ASCII without spaces, at most 256 bytes; no comma in the comma
// form). Errors name the key's position, never the key.
func ParseAdminKeys(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	var keys []string
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &keys); err != nil {
			return nil, errors.New("admin keys: not a JSON array of strings")
		}
	} else if s != "" {
		keys = strings.Split(s, ",")
	}
	if len(keys) == 0 {
		return nil, errors.New("admin keys: the list is empty")
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(keys))
	for i, k := range keys {
		k = strings.TrimSpace(k)
		if tok, ok := ParseBearer("Bearer " + k); !ok || tok != k {
			return nil, fmt.Errorf("admin keys: key %d of %d is empty or not a valid bearer token (printable ASCII, no spaces, at most 256 bytes)", i+1, len(keys))
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// Resolve returns the principal of an Authorization header value: the admin,
// a tenant, or RoleNone for a missing, malformed or unknown key. Admin keys
// are compared in constant time; tenant keys are found by their hash and the
// stored hash is compared in constant time too.
func (a *Authorizer) Resolve(ctx context.Context, header string) (Principal, error) {
	token, ok := ParseBearer(header)
	if !ok {
		return Principal{Role: RoleNone}, nil
	}
	a.maybeReload(ctx)
	sum := sha256.Sum256([]byte(token))
	if a.isAdmin(sum) {
		return Principal{Role: RoleAdmin}, nil
	}
	if !strings.HasPrefix(token, KeyPrefix) {
		return Principal{Role: RoleNone}, nil
	}
	hash := hex.EncodeToString(sum[:])
	k, found, err := a.store.KeyByHash(ctx, hash)
	if err != nil {
		return Principal{}, err
	}
	if !found || subtle.ConstantTimeCompare([]byte(k.Hash), []byte(hash)) != 1 {
		return Principal{Role: RoleNone}, nil
	}
	return Principal{Role: RoleTenant, TenantID: k.TenantID, KeyID: k.KeyID}, nil
}
