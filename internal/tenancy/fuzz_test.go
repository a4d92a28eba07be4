package tenancy

import (
	"regexp"
	"strings"
	"testing"
)

var (
	tenantRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,31}$`)
	agentRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,23}$`)
	gateway  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// FuzzIDs: an id is valid exactly when it matches the documented rule, a
// valid id never contains a key delimiter, and two valid (tenant, agent)
// pairs give the same namespaced id only if they are the same pair, which
// the OpenClaw gateway accepts as it is (lowercase, at most 64 characters).
func FuzzIDs(f *testing.F) {
	for _, s := range []string{"acme", "a-b_c", "", "a#b", "a.b", "TENANT#x", strings.Repeat("a", 32), strings.Repeat("a", 33),
		"é", "a\nb", "a/b", "a b", "\x00", "Acme", "_a", "-a", "a-", strings.Repeat("b", 24)} {
		f.Add(s, "support")
		f.Add("a", s)
		f.Add("a_b", s)
	}
	f.Fuzz(func(t *testing.T, tenant, agent string) {
		if ValidTenantID(tenant) != tenantRE.MatchString(tenant) || (CheckTenantID(tenant) == nil) != tenantRE.MatchString(tenant) {
			t.Fatalf("tenant id %q: valid %v, rule %v", tenant, ValidTenantID(tenant), tenantRE.MatchString(tenant))
		}
		if ValidAgentID(agent) != agentRE.MatchString(agent) || (CheckAgentID(agent) == nil) != agentRE.MatchString(agent) {
			t.Fatalf("agent id %q: valid %v, rule %v", agent, ValidAgentID(agent), agentRE.MatchString(agent))
		}
		for _, s := range []string{tenant, agent} {
			if (ValidTenantID(s) || ValidAgentID(s)) && strings.ContainsAny(s, "#|.:/ ") {
				t.Fatalf("valid id %q contains a delimiter", s)
			}
		}
		if !ValidTenantID(tenant) || !ValidAgentID(agent) {
			return
		}
		ns := NamespacedAgentID(tenant, agent)
		if !gateway.MatchString(ns) {
			t.Fatalf("namespaced id %q is not a valid gateway agent id", ns)
		}
		tt, aa, ok := SplitNamespacedAgentID(ns)
		if !ok || tt != tenant || aa != agent {
			t.Fatalf("%q splits into %q, %q, %v", ns, tt, aa, ok)
		}
	})
}

func TestNamespacedIDsAreUnique(t *testing.T) {
	// The review's collision: tenant a / agent b-c and tenant a-b / agent c.
	if CheckTenantID("a-b") == nil {
		t.Fatal("tenant id a-b is accepted: it would share tenant-a-b-c with tenant a's agent b-c")
	}
	for _, c := range []struct{ id, want string }{
		{"a-b", "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
		{"Acme", "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
		{strings.Repeat("a", 33), "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
	} {
		err := CheckTenantID(c.id)
		if err == nil || err.Error() != c.want {
			t.Errorf("CheckTenantID(%q) = %v", c.id, err)
		}
	}
	for _, id := range []string{"Support", strings.Repeat("a", 25), "-x", "a.b"} {
		err := CheckAgentID(id)
		want := "agent_id must match ^[a-z0-9][a-z0-9_-]{0,23}$ (lowercase letters, digits, underscores and hyphens, at most 24 characters)"
		if err == nil || err.Error() != want {
			t.Errorf("CheckAgentID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"acme", "globex", "support", "sales", "premium"} {
		if CheckTenantID(id) != nil || CheckAgentID(id) != nil {
			t.Errorf("seed id %q refused", id)
		}
	}
	ns := NamespacedAgentID(strings.Repeat("t", 32), strings.Repeat("a", 24))
	if len(ns) != 64 || !gateway.MatchString(ns) {
		t.Errorf("longest namespaced id %q (%d chars)", ns, len(ns))
	}
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
