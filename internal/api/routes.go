package api

// Function names: one Lambda function (functions/<name>) each.
const (
	FnTenants    = "tenants"
	FnAgents     = "agents"
	FnExecute    = "execute"
	FnReports    = "reports"
	FnReset      = "reset"
	FnAuthorizer = "authorizer"
)

// Functions lists every Lambda function of the platform, in a stable order.
var Functions = []string{FnTenants, FnAgents, FnExecute, FnReports, FnReset, FnAuthorizer}

// Access says who may call a route.
type Access int

const (
	Public       Access = iota // no key (the OpenAPI document, the console's files)
	AdminOnly                  // the admin key
	AdminOrOwner               // the admin key or the key of the tenant in the path
	AnyKey                     // any valid key (GET /me: who the key belongs to)
	TenantKey                  // a tenant key only (its own tenant); the admin key is refused
)

// Route is one HTTP API route. The table below is the single source for the
// router, the local server, the OpenAPI document and the CDK stack.
type Route struct {
	Method   string
	Path     string // API Gateway route path, with {params}
	Function string
	Access   Access
}

// Routes is every route of the HTTP API.
var Routes = []Route{
	{"POST", "/tenants", FnTenants, AdminOnly},
	{"GET", "/tenants", FnTenants, AdminOnly},
	{"GET", "/tenants/{tenant_id}", FnTenants, AdminOrOwner},
	{"PATCH", "/tenants/{tenant_id}", FnTenants, AdminOnly},
	{"POST", "/tenants/{tenant_id}/deactivate", FnTenants, AdminOnly},
	{"POST", "/tenants/{tenant_id}/activate", FnTenants, AdminOnly},
	{"POST", "/tenants/{tenant_id}/reset", FnTenants, AdminOnly},
	{"POST", "/tenants/{tenant_id}/keys", FnTenants, AdminOnly},
	{"DELETE", "/tenants/{tenant_id}/keys/{key_id}", FnTenants, AdminOnly},

	{"POST", "/tenants/{tenant_id}/agents", FnAgents, AdminOrOwner},
	{"GET", "/tenants/{tenant_id}/agents", FnAgents, AdminOrOwner},
	{"GET", "/tenants/{tenant_id}/agents/{agent_id}", FnAgents, AdminOrOwner},
	{"DELETE", "/tenants/{tenant_id}/agents/{agent_id}", FnAgents, AdminOrOwner},
	{"GET", "/tenants/{tenant_id}/agents/{agent_id}/sessions", FnAgents, AdminOrOwner},
	{"GET", "/tenants/{tenant_id}/agents/{agent_id}/sessions/{session_id}", FnAgents, AdminOrOwner},
	{"DELETE", "/tenants/{tenant_id}/agents/{agent_id}/sessions/{session_id}", FnAgents, AdminOrOwner},

	{"POST", "/tenants/{tenant_id}/agents/{agent_id}/execute", FnExecute, AdminOrOwner},
	{"POST", "/tenants/{tenant_id}/chat", FnExecute, AdminOrOwner},
	{"POST", "/v1/chat/completions", FnExecute, TenantKey},
	{"GET", "/v1/models", FnExecute, TenantKey},

	{"GET", "/tenants/{tenant_id}/usage", FnReports, AdminOrOwner},
	{"GET", "/tenants/{tenant_id}/usage/history", FnReports, AdminOrOwner},
	{"GET", "/tenants/{tenant_id}/alerts", FnReports, AdminOrOwner},
	{"GET", "/openapi.json", FnReports, Public},
	{"GET", "/me", FnReports, AnyKey},

	{"GET", "/console", FnReports, Public},
	{"GET", "/console/app.js", FnReports, Public},
	{"GET", "/console/app.css", FnReports, Public},
}
