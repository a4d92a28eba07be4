package dynamostore_test

import (
	"net/http/httptrace"
	"sync/atomic"
	"testing"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// TestConnectionsReused: sequential executes reuse one connection. Without
// keepAlive (client.go), 3-7% of requests to the embedded engine were sent
// on a new connection (18 of 600 in a plain run, 54-67 of 1,000 in three
// runs under -race), because the SDK closes
// a request's body while net/http may still be finishing the request. (On
// minidyn, in-process: a fast answer is what exposes it.)
func TestConnectionsReused(t *testing.T) {
	v := newEnv(t, engines[0])
	eq(t, "engine", v.engine.name, "minidyn")
	v.register(tenantCfg("acme", func(c *tenancy.TenantConfig) {
		c.MaxQueriesPerHour = tenancy.MaxQueriesPerHourCap
		c.MaxCostPerDay = tenancy.MaxMoney
	}))
	a := v.agent("acme", agentCfg("support", func(c *tenancy.AgentConfig) { c.SystemPrompt = prompt }))
	var fresh, reused atomic.Int64
	ctx := httptrace.WithClientTrace(v.ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if i.Reused {
			reused.Add(1)
		} else {
			fresh.Add(1)
		}
	}})
	const executes = 500
	for range executes {
		if _, err := v.svc.ExecuteAgent(ctx, a, query); err != nil {
			t.Fatal(err)
		}
	}
	eq(t, "requests on a new connection", fresh.Load(), 0)
	eq(t, "requests on a kept connection", reused.Load(), 2*executes)
}
