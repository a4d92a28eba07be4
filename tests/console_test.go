package tests

import (
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/openclaw/tenancy/internal/console"
)

func init() {
	// the console's script and style sheet, validated as text
	openapi3filter.RegisterBodyDecoder("text/javascript", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/css", openapi3filter.PlainBodyDecoder)
}

// The console's files are public routes of the reports function with the
// console's security headers; GET /me tells the console whose key it holds.
// The browser tests are in internal/console.
func TestConsoleRoutes(t *testing.T) {
	s := newServer(t, true)
	for path, a := range console.Assets {
		r := s.must(s.do("GET", path, "", nil), 200)
		eq(t, path+" content type", r.header.Get("Content-Type"), a.ContentType)
		eq(t, path+" CSP", r.header.Get("Content-Security-Policy"), console.CSP)
		eq(t, path+" nosniff", r.header.Get("X-Content-Type-Options"), "nosniff")
		eq(t, path+" referrer", r.header.Get("Referrer-Policy"), "no-referrer")
		eq(t, path+" body", r.raw == a.Body, true)
		if !strings.Contains(console.CSP, "frame-ancestors 'none'") || strings.Contains(console.CSP, "unsafe-inline") {
			t.Fatalf("CSP %q", console.CSP)
		}
	}
	s.must(s.do("GET", "/console/nope.js", "", nil), 404, "No such route")

	eq(t, "admin", s.must(s.do("GET", "/me", adminKey, nil), 200).raw, `{"role":"admin"}`)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	k := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201)
	eq(t, "tenant", s.must(s.do("GET", "/me", k.str("key"), nil), 200).raw,
		`{"role":"tenant","tenant_id":"acme","key_id":"`+k.str("key_id")+`"}`)
	s.must(s.do("GET", "/me", "", nil), 401, "Missing API key: send Authorization: Bearer <key>")
	s.must(s.do("DELETE", "/tenants/acme/keys/"+k.str("key_id"), adminKey, nil), 204)
	s.must(s.do("GET", "/me", k.str("key"), nil), 401, "Invalid or revoked API key")
}
