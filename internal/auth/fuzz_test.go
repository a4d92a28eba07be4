package auth

import (
	"strings"
	"testing"
)

// FuzzParseBearer: any header value parses to a token that is one printable
// word of at most 256 bytes, and formatting it back parses to the same
// token; nothing panics.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer tnk_abc", "bearer   x  ", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b",
		"Bearer \x00", "BEARER " + strings.Repeat("k", 300), "", " Bearer t", "Bearer\tt", "Bearer é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := ParseBearer(header)
		if !ok {
			if tok != "" {
				t.Fatalf("refused %q but returned %q", header, tok)
			}
			return
		}
		if tok == "" || len(tok) > 256 || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("%q parsed to bad token %q", header, tok)
		}
		again, ok := ParseBearer("Bearer " + tok)
		if !ok || again != tok {
			t.Fatalf("round trip of %q: %q %v", tok, again, ok)
		}
	})
}

func TestParseBearer(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer abc": "abc", " Bearer  abc ": "abc",
		"Basic abc": "", "Bearer": "", "Bearer a b": ""} {
		if got, _ := ParseBearer(in); got != want {
			t.Errorf("ParseBearer(%q) = %q, want %q", in, got, want)
		}
	}
}
