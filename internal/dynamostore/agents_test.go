package dynamostore_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/openclaw/tenancy/internal/tenancy"
)

func TestCreateAgent(t *testing.T) {
	each(t, func(t *testing.T, v *env) {
		v.register(tenantCfg("acme", func(c *tenancy.TenantConfig) {
			c.MaxAgents = 5
			c.MaxCostPerDay = 10 * tenancy.NanosPerUSD
			c.AllowedModels = []string{"claude-sonnet-4-20250514", "gpt-4o-mini"}
			c.AllowedTools = []string{"web_search"}
		}))
		a := v.agent("acme", agentCfg("support", func(c *tenancy.AgentConfig) { c.SystemPrompt = "You are Acme Corp support." }))
		eq(t, "namespaced id", a.NamespacedID(), "tenant-acme-support")
		got, err := v.svc.GetAgent(v.ctx, "acme", "support")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "model default", got.LLMModel, "claude-sonnet-4-20250514")
		eq(t, "max_output_tokens default", got.MaxOutputTokens, 1024)
		eq(t, "system prompt", got.SystemPrompt, "You are Acme Corp support.")
		eq(t, "tools", len(got.Tools), 0)

		cases := []struct {
			name     string
			tenant   string
			cfg      tenancy.AgentConfig
			sentinel error
			msg      string
		}{
			{"duplicate", "acme", agentCfg("support"), tenancy.ErrAgentExists, "Agent 'support' already exists for tenant 'acme'"},
			{"model not allowed", "acme", agentCfg("premium", func(c *tenancy.AgentConfig) { c.LLMModel = "claude-opus-4-20250514" }),
				tenancy.ErrModelNotAllowed, "Model 'claude-opus-4-20250514' not allowed for tenant 'acme'"},
			{"tool not allowed", "acme", agentCfg("ops", func(c *tenancy.AgentConfig) { c.Tools = []string{"web_search", "shell"} }),
				tenancy.ErrToolNotAllowed, "Tool 'shell' not allowed for tenant 'acme'"},
			{"unknown model", "acme", agentCfg("x", func(c *tenancy.AgentConfig) { c.LLMModel = "gpt-9" }),
				tenancy.ErrUnknownModel, "Model 'gpt-9' is not in the model catalog (no route and no price)"},
			{"unknown tenant", "nope", agentCfg("support"), tenancy.ErrTenantNotFound, "Tenant 'nope' not found"},
			{"bad agent id", "acme", agentCfg("a/b"), tenancy.ErrValidation, "agent_id must match ^[a-z0-9][a-z0-9_-]{0,23}$ (lowercase letters, digits, underscores and hyphens, at most 24 characters)"},
			{"zero output tokens", "acme", agentCfg("z", func(c *tenancy.AgentConfig) { c.MaxOutputTokens = 0 }),
				tenancy.ErrValidation, "max_output_tokens must be between 1 and 200000"},
		}
		for _, c := range cases {
			_, err := v.svc.CreateAgent(v.ctx, c.tenant, c.cfg)
			if err == nil {
				t.Fatalf("%s: created", c.name)
			}
			wantErr(t, err, c.sentinel, c.msg)
		}
		eq(t, "agents after refusals", v.report("acme").Agents, 1)

		// The seed's loop: the sixth create hits the limit of 5.
		var limitErr error
		for i := 0; i < 20; i++ {
			if _, err := v.svc.CreateAgent(v.ctx, "acme", agentCfg(fmt.Sprintf("bot-%d", i))); err != nil {
				limitErr = err
				break
			}
		}
		wantErr(t, limitErr, tenancy.ErrAgentLimit, "Tenant 'acme' has reached the agent limit (5)")
		eq(t, "agents at the limit", v.report("acme").Agents, 5)

		// Delete frees the slot.
		if err := v.svc.DeleteAgent(v.ctx, "acme", "bot-0"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, v.svc.DeleteAgent(v.ctx, "acme", "bot-0"), tenancy.ErrAgentNotFound, "Agent 'bot-0' not found for tenant 'acme'")
		wantErr(t, v.svc.DeleteAgent(v.ctx, "nope", "bot-0"), tenancy.ErrTenantNotFound, "Tenant 'nope' not found")
		eq(t, "agents after delete", v.report("acme").Agents, 4)
		v.agent("acme", agentCfg("bot-again"))
		list, err := v.svc.ListAgents(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range list {
			ids = append(ids, a.AgentID)
		}
		eq(t, "listed", fmt.Sprint(ids), "[bot-1 bot-2 bot-3 bot-again support]")
		_, err = v.svc.GetAgent(v.ctx, "acme", "ghost")
		wantErr(t, err, tenancy.ErrAgentNotFound, "Agent 'ghost' not found for tenant 'acme'")
		_, err = v.svc.GetAgent(v.ctx, "nope", "ghost")
		wantErr(t, err, tenancy.ErrTenantNotFound, "Tenant 'nope' not found")
	})
}

func TestConcurrentAgentCreates(t *testing.T) {
	repeated(t, func(t *testing.T, v *env) {
		v.register(tenantCfg("acme", func(c *tenancy.TenantConfig) { c.MaxAgents = 5 }))
		const n = 200
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := v.svc.CreateAgent(v.ctx, "acme", agentCfg(fmt.Sprintf("bot-%d", i)))
				errs <- err
			}(i)
		}
		wg.Wait()
		close(errs)
		created, limited := 0, 0
		for err := range errs {
			switch {
			case err == nil:
				created++
			case errorIs(err, tenancy.ErrAgentLimit):
				limited++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		eq(t, "created", created, 5)
		eq(t, "refused at the limit", limited, n-5)
		list, err := v.svc.ListAgents(v.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "agents stored", len(list), 5)
		eq(t, "agent count", v.report("acme").Agents, 5)
	})
}
