package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/clock"
)

func TestParseAdminKeys(t *testing.T) {
	for in, want := range map[string][]string{
		"one":                   {"one"},
		"new-key,old-key":       {"new-key", "old-key"},
		"  new-key , old-key  ": {"new-key", "old-key"},
		"a,b,a":                 {"a", "b"},
		`["new-key","old-key"]`: {"new-key", "old-key"},
		` [ "x" ] `:             {"x"},
		`["a,b"]`:               {"a,b"}, // a comma only in the JSON form
	} {
		got, err := ParseAdminKeys(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseAdminKeys(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	long := strings.Repeat("s", 257)
	for in, want := range map[string]string{
		"":                   "admin keys: the list is empty",
		"   ":                "admin keys: the list is empty",
		"[]":                 "admin keys: the list is empty",
		"secret-a,,secret-b": "admin keys: key 2 of 3 is empty or not a valid bearer token (printable ASCII, no spaces, at most 256 bytes)",
		"secret-a,secret b":  "admin keys: key 2 of 2 is empty or not a valid bearer token (printable ASCII, no spaces, at most 256 bytes)",
		"secret-é":           "admin keys: key 1 of 1 is empty or not a valid bearer token (printable ASCII, no spaces, at most 256 bytes)",
		long:                 "admin keys: key 1 of 1 is empty or not a valid bearer token (printable ASCII, no spaces, at most 256 bytes)",
		`["secret-a",1]`:     "admin keys: not a JSON array of strings",
		`["secret-a"`:        "admin keys: not a JSON array of strings",
		`["secret-a",""]`:    "admin keys: key 2 of 2 is empty or not a valid bearer token (printable ASCII, no spaces, at most 256 bytes)",
	} {
		got, err := ParseAdminKeys(in)
		if err == nil || err.Error() != want {
			t.Errorf("ParseAdminKeys(%.20q) = %q, %v; want error %q", in, got, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error quotes a key: %v", err)
		}
	}
}

// noKeys is a KeyStore without tenant keys.
type noKeys struct{}

func (noKeys) PutKey(context.Context, StoredKey) error { return nil }
func (noKeys) KeyByHash(context.Context, string) (StoredKey, bool, error) {
	return StoredKey{}, false, nil
}
func (noKeys) DeleteKey(context.Context, string, string) error { return nil }

func role(t *testing.T, a *Authorizer, key string) Role {
	t.Helper()
	p, err := a.Resolve(context.Background(), "Bearer "+key)
	if err != nil {
		t.Fatal(err)
	}
	return p.Role
}

func TestAuthorizerAcceptsEveryAdminKey(t *testing.T) {
	a := NewAuthorizer([]string{"new-key", "old-key"}, noKeys{})
	for key, want := range map[string]Role{"new-key": RoleAdmin, "old-key": RoleAdmin, "other": RoleNone, "new-ke": RoleNone, "new-key,old-key": RoleNone} {
		if got := role(t, a, key); got != want {
			t.Errorf("%s: role %s, want %s", key, got, want)
		}
	}
	a.SetAdminKeys([]string{"new-key"})
	if role(t, a, "old-key") != RoleNone || role(t, a, "new-key") != RoleAdmin {
		t.Errorf("a removed admin key still passes")
	}
	if got := role(t, NewAuthorizer(nil, noKeys{}), ""); got != RoleNone {
		t.Errorf("no admin keys: role %s", got)
	}
	if got := role(t, NewAuthorizer([]string{""}, noKeys{}), "x"); got != RoleNone {
		t.Errorf("an empty admin key: role %s", got)
	}
}

// source is an admin key list that a test changes, as an operator changes
// the secret.
type source struct {
	mu    sync.Mutex
	keys  []string
	err   error
	loads int
}

func (s *source) set(keys []string, err error) {
	s.mu.Lock()
	s.keys, s.err = keys, err
	s.mu.Unlock()
}

func (s *source) load(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	return slices.Clone(s.keys), s.err
}

func TestAdminKeyReload(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	src := &source{keys: []string{"old-key"}}
	var failures []string
	a := NewAuthorizer([]string{"old-key"}, noKeys{}).WithReload(AdminKeyReload{
		Load: src.load, Every: time.Minute, Clock: clk,
		OnError: func(err error) { failures = append(failures, err.Error()) },
	})

	// Rotation step 1: the new key is added to the secret; it passes once
	// the authorizer reloads (at most a minute later).
	src.set([]string{"new-key", "old-key"}, nil)
	clk.Advance(59 * time.Second)
	if role(t, a, "new-key") != RoleNone || src.loads != 0 {
		t.Fatalf("reloaded before a minute (loads %d)", src.loads)
	}
	clk.Advance(time.Second)
	if role(t, a, "new-key") != RoleAdmin || role(t, a, "old-key") != RoleAdmin || src.loads != 1 {
		t.Fatalf("after a minute: new %s old %s loads %d", role(t, a, "new-key"), role(t, a, "old-key"), src.loads)
	}

	// Step 3: the old key is removed; it passes until the next reload.
	src.set([]string{"new-key"}, nil)
	clk.Advance(30 * time.Second)
	if role(t, a, "old-key") != RoleAdmin {
		t.Fatalf("the old key stopped before the reload")
	}
	clk.Advance(30 * time.Second)
	if role(t, a, "old-key") != RoleNone || role(t, a, "new-key") != RoleAdmin || src.loads != 2 {
		t.Fatalf("after the reload: old %s new %s loads %d", role(t, a, "old-key"), role(t, a, "new-key"), src.loads)
	}

	// A failed load (Secrets Manager down, an empty list) keeps the keys,
	// is reported, and is retried a minute later, not on every request.
	src.set(nil, errors.New("secrets manager unavailable"))
	clk.Advance(time.Minute)
	for range 3 {
		if role(t, a, "new-key") != RoleAdmin {
			t.Fatalf("a failed reload dropped the keys")
		}
	}
	src.set(nil, nil)
	clk.Advance(time.Minute)
	if role(t, a, "new-key") != RoleAdmin {
		t.Fatalf("an empty list dropped the keys")
	}
	if src.loads != 4 || !slices.Equal(failures, []string{"secrets manager unavailable", "the admin key list is empty"}) {
		t.Fatalf("loads %d, failures %q", src.loads, failures)
	}
	src.set([]string{"newest-key"}, nil)
	clk.Advance(time.Minute)
	if role(t, a, "newest-key") != RoleAdmin || role(t, a, "new-key") != RoleNone || src.loads != 5 {
		t.Fatalf("recovery: loads %d", src.loads)
	}
}

// Requests racing with reloads (the local server resolves concurrently): one
// load per interval, and every request sees either the old or the new list.
func TestAdminKeyReloadConcurrent(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	src := &source{keys: []string{"key-1", "key-2"}}
	a := NewAuthorizer([]string{"key-1"}, noKeys{}).WithReload(AdminKeyReload{Load: src.load, Every: time.Minute, Clock: clk})
	clk.Advance(time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	roles := map[Role]int{}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				p, err := a.Resolve(context.Background(), "Bearer key-1")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				roles[p.Role]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if src.loads != 1 || roles[RoleAdmin] != 640 || len(roles) != 1 {
		t.Fatalf("loads %d, roles %v", src.loads, roles)
	}
	if role(t, a, "key-2") != RoleAdmin {
		t.Fatalf("the reloaded key does not pass")
	}
}
