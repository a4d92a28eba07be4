package tests

import (
	"context"
	"testing"

	"github.com/openclaw/tenancy/internal/app"
)

// TENANCY_ADMIN_KEY may list several admin keys (a rotation in progress):
// each is the admin; a malformed list stops the server from starting.
func TestAdminKeyList(t *testing.T) {
	s := newServer(t, false, func(o *app.Options) {
		o.Getenv = env(map[string]string{"TENANCY_ADMIN_KEY": " next-admin-key , " + adminKey, "TENANCY_LISTEN": "127.0.0.1:0"})
	})
	eq(t, "local admin keys", s.loc.AdminKeys, []string{"next-admin-key", adminKey})
	s.must(s.do("POST", "/tenants", "next-admin-key", map[string]any{"tenant_id": "acme"}), 201)
	s.must(s.do("GET", "/tenants/acme", adminKey, nil), 200)
	s.must(s.do("GET", "/tenants/acme", "next-admin-key,"+adminKey, nil), 401, "Invalid or revoked API key")
	s.must(s.do("GET", "/tenants/acme", "next-admin", nil), 401, "Invalid or revoked API key")

	_, err := localapiStart(context.Background(), map[string]string{"TENANCY_ADMIN_KEY": "a-key,,b-key", "TENANCY_LISTEN": "127.0.0.1:0"})
	if err == nil || err.Error() != "TENANCY_ADMIN_KEY: admin keys: key 2 of 3 is empty or not a valid bearer token (printable ASCII, no spaces, at most 256 bytes)" {
		t.Fatalf("bad list: %v", err)
	}
}
