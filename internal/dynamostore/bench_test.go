package dynamostore_test

import (
	"testing"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// BenchmarkExecuteAccounting is one admit + settle per op (the agent's
// config passed in, the model a no-op fake), reporting the DynamoDB
// requests the SDK sent per op, counted by a client middleware.
func BenchmarkExecuteAccounting(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			v := newEnv(b, e)
			v.register(tenantCfg("acme", func(c *tenancy.TenantConfig) {
				c.MaxQueriesPerHour = tenancy.MaxQueriesPerHourCap
				c.MaxCostPerDay = tenancy.MaxMoney
			}))
			a := v.agent("acme", agentCfg("support", func(c *tenancy.AgentConfig) { c.SystemPrompt = prompt }))
			v.counter.Reset()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.svc.ExecuteAgent(v.ctx, a, query); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if v.dynamo() {
				b.ReportMetric(float64(v.counter.Writes())/float64(b.N), "ddb-writes/op")
				b.ReportMetric(float64(v.counter.Reads())/float64(b.N), "ddb-reads/op")
			}
			if r := v.report("acme"); r.TotalCost != tenancy.Money(b.N)*costNanos {
				b.Fatalf("spent %d for %d calls", r.TotalCost, b.N)
			}
		})
	}
}
