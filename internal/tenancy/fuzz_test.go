package tenancy

import (
	"regexp"
	"strings"
	"testing"
)

var idRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// FuzzIDs: an id is valid exactly when it matches the documented pattern,
// and a valid id can never contain a key delimiter.
func FuzzIDs(f *testing.F) {
	for _, s := range []string{"acme", "a-b_c", "", "a#b", "a.b", "TENANT#x", strings.Repeat("a", 64), strings.Repeat("a", 65),
		"é", "a\nb", "a/b", "a b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidID(s) != idRE.MatchString(s) {
			t.Fatalf("ValidID(%q) = %v", s, ValidID(s))
		}
		if ValidID(s) && strings.ContainsAny(s, "#|.:/ ") {
			t.Fatalf("valid id %q contains a delimiter", s)
		}
		err := CheckTenantID(s)
		if (err == nil) != ValidID(s) {
			t.Fatalf("CheckTenantID(%q) = %v", s, err)
		}
	})
}

// FuzzParseUSD: amounts parse exactly or not at all, and the decimal form
// parses back to the same nano-USD.
func FuzzParseUSD(f *testing.F) {
	for _, s := range []string{"10", "10.5", "0.000000001", "1e-9", "1e-10", "-0", "1000000", "1000000.000000001",
		"1e400", "abc", `"10"`, "null", "", "0x10", "1_000", ".5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseUSD(s)
		if err != nil {
			return
		}
		if m > MaxMoney || m < -MaxMoney {
			t.Fatalf("%q parsed out of range: %d", s, m)
		}
		back, err := ParseUSD(m.Decimal())
		if err != nil || back != m {
			t.Fatalf("%q -> %d -> %q -> %d (%v)", s, m, m.Decimal(), back, err)
		}
	})
}

func TestMoneyFormats(t *testing.T) {
	for _, c := range []struct {
		m          Money
		dec, cents string
	}{
		{10_500_000_000, "10.5", "$10.50"}, {0, "0", "$0.00"}, {123, "0.000000123", "$0.00"},
		{94_500_000, "0.0945", "$0.09"}, {95_000_000, "0.095", "$0.10"}, {-1_250_000_000, "-1.25", "-$1.25"},
	} {
		if c.m.Decimal() != c.dec || c.m.Cents() != c.cents {
			t.Errorf("%d: %s %s, want %s %s", c.m, c.m.Decimal(), c.m.Cents(), c.dec, c.cents)
		}
	}
}
