package dynamostore_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/openclaw/tenancy/internal/tenancy"
)

func TestRegisterTenantDefaults(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.register(tenancy.TenantConfig{TenantID: "globex", Name: "Globex Inc", MaxAgents: 10, MaxQueriesPerHour: 1000,
			MaxCostPerDay: 50 * tenancy.NanosPerUSD, AllowedModels: []string{"gpt-4o-mini"},
			AllowedTools: []string{"web_search"}, Metadata: map[string]any{"plan": "enterprise"}, Timezone: "Europe/Paris"})
		v.register(tenantCfg("acme"))
		got, err := v.svc.GetTenant(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		want := tenancy.NewTenantConfig("acme")
		if !reflect.DeepEqual(got.TenantConfig, want) {
			t.Fatalf("config = %+v, want %+v", got.TenantConfig, want)
		}
		eq(t, "is_active", got.IsActive, true)
		eq(t, "created_at", got.CreatedAt.Equal(t0), true)
		g, err := v.svc.GetTenant(v.ctx, "globex")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "max_cost", g.MaxCostPerDay, 50_000_000_000)
		eq(t, "metadata.plan", g.Metadata["plan"], any("enterprise"))
		eq(t, "allowed_tools", len(g.AllowedTools), 1)
		eq(t, "allowed_tools[0]", g.AllowedTools[0], "web_search")
		eq(t, "timezone", g.Timezone, "Europe/Paris")
	})
}

func TestTenantErrors(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.register(tenantCfg("acme"))
		_, err := v.svc.RegisterTenant(v.ctx, tenantCfg("acme"))
		wantErr(t, err, tenancy.ErrTenantExists, "Tenant 'acme' already registered")
		_, err = v.svc.GetTenant(v.ctx, "nope")
		wantErr(t, err, tenancy.ErrTenantNotFound, "Tenant 'nope' not found")
		_, err = v.svc.DeactivateTenant(v.ctx, "nope")
		wantErr(t, err, tenancy.ErrTenantNotFound, "Tenant 'nope' not found")
		_, err = v.svc.UpdateTenant(v.ctx, "nope", tenancy.TenantPatch{})
		wantErr(t, err, tenancy.ErrTenantNotFound, "Tenant 'nope' not found")
		for _, bad := range []struct {
			name string
			cfg  tenancy.TenantConfig
			msg  string
		}{
			{"delimiter in id", tenantCfg("a#b"), "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
			{"dot in id", tenantCfg("a.b"), "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
			{"empty id", tenantCfg(""), "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
			{"long id", tenantCfg(strings.Repeat("a", 33)), "tenant_id must match ^[a-z0-9][a-z0-9_]{0,31}$ (lowercase letters, digits and underscores, at most 32 characters, no hyphen)"},
			{"negative agents", tenantCfg("x", func(c *tenancy.TenantConfig) { c.MaxAgents = -1 }), "max_agents must be between 0 and 10000"},
			{"negative queries", tenantCfg("x", func(c *tenancy.TenantConfig) { c.MaxQueriesPerHour = -5 }), "max_queries_per_hour must be between 0 and 10000000"},
			{"negative cost", tenantCfg("x", func(c *tenancy.TenantConfig) { c.MaxCostPerDay = -1 }), "max_cost_usd_per_day must be between 0 and 1000000"},
			{"empty name", tenantCfg("x", func(c *tenancy.TenantConfig) { c.Name = "" }), "name must be 1 to 256 characters"},
			{"bad model name", tenantCfg("x", func(c *tenancy.TenantConfig) { c.AllowedModels = []string{"a b"} }), "allowed_models entries must match ^[a-zA-Z0-9_.:/@+-]{1,128}$"},
		} {
			_, err := v.svc.RegisterTenant(v.ctx, bad.cfg)
			wantErr(t, err, tenancy.ErrValidation, bad.msg)
		}
		page, _, err := v.svc.ListTenants(v.ctx, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "tenants after refused registrations", len(page), 1)
	})
}

func TestListTenantsPages(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		for _, id := range []string{"delta", "alpha", "echo", "charlie", "bravo"} {
			v.register(tenantCfg(id))
		}
		var got []string
		token, pages := "", 0
		for {
			page, next, err := v.svc.ListTenants(v.ctx, 2, token)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, tn := range page {
				got = append(got, tn.TenantID)
			}
			if next == "" {
				break
			}
			token = next
		}
		want := []string{"alpha", "bravo", "charlie", "delta", "echo"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		if pages != 3 && pages != 4 { // a last empty page is allowed when the previous one was full
			t.Fatalf("pages = %d", pages)
		}
		_, _, err := v.svc.ListTenants(v.ctx, 2, "!!not-a-token")
		wantErr(t, err, tenancy.ErrValidation, "next_token is not a valid page token")
		_, _, err = v.svc.ListTenants(v.ctx, 101, "")
		wantErr(t, err, tenancy.ErrValidation, "limit must be between 1 and 100")
		if v.dynamo() {
			eq(t, "reads for one page (query + batch get)", v.readsOf(func() { _, _, _ = v.svc.ListTenants(v.ctx, 2, "") }), 2)
		}
	})
}

func (v *env) readsOf(f func()) int64 {
	before := v.counter.Reads()
	f()
	return v.counter.Reads() - before
}

func TestUpdateTenant(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.register(tenantCfg("acme"))
		name, agents, models := "Acme Corporation", 3, []string{}
		cost := 12 * tenancy.NanosPerUSD
		got, err := v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{Name: &name, MaxAgents: &agents,
			MaxCostPerDay: &cost, AllowedModels: &models})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "name", got.Name, "Acme Corporation")
		eq(t, "max_agents", got.MaxAgents, 3)
		eq(t, "max_queries_per_hour (untouched)", got.MaxQueriesPerHour, 1000)
		eq(t, "allowed_models", len(got.AllowedModels), 0)
		eq(t, "budget left follows the cap", got.Usage.BudgetLeft, 12*tenancy.NanosPerUSD)
		neg := -1
		_, err = v.svc.UpdateTenant(v.ctx, "acme", tenancy.TenantPatch{MaxAgents: &neg})
		wantErr(t, err, tenancy.ErrValidation, "max_agents must be between 0 and 10000")
		again, _ := v.svc.GetTenant(v.ctx, "acme")
		eq(t, "refused patch changed nothing", again.MaxAgents, 3)

		off, err := v.svc.DeactivateTenant(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "deactivated", off.IsActive, false)
		on, err := v.svc.ActivateTenant(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "activated", on.IsActive, true)
	})
}
