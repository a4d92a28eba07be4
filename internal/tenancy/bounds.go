package tenancy

// Bounds the API document states (internal/api/openapi.go); the checks that
// enforce them are in types.go and service.go.
const (
	// DefaultPageSize and MaxPageSize bound one page of ListTenants.
	DefaultPageSize = 50
	MaxPageSize     = 100
	// NamePattern is the pattern of model and tool names.
	NamePattern = `^[a-zA-Z0-9_.:/@+-]{1,128}$`
)

// TenantIDPattern is the regular expression a tenant id matches.
func TenantIDPattern() string { return TenantIDRule }

// AgentIDPattern is the regular expression a (short) agent id matches.
func AgentIDPattern() string { return AgentIDRule }
