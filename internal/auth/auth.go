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
	"strings"
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
	adminHash [sha256.Size]byte
	hasAdmin  bool
	store     KeyStore
}

// NewAuthorizer builds an authorizer for an admin key (empty: no admin).
func NewAuthorizer(adminKey string, store KeyStore) *Authorizer {
	a := &Authorizer{store: store}
	if adminKey != "" {
		a.adminHash, a.hasAdmin = sha256.Sum256([]byte(adminKey)), true
	}
	return a
}

// Resolve returns the principal of an Authorization header value: the admin,
// a tenant, or RoleNone for a missing, malformed or unknown key. The admin key
// is compared in constant time; tenant keys are found by their hash and the
// stored hash is compared in constant time too.
func (a *Authorizer) Resolve(ctx context.Context, header string) (Principal, error) {
	token, ok := ParseBearer(header)
	if !ok {
		return Principal{Role: RoleNone}, nil
	}
	sum := sha256.Sum256([]byte(token))
	if a.hasAdmin && subtle.ConstantTimeCompare(sum[:], a.adminHash[:]) == 1 {
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
