package tenancy

import (
	"fmt"
	"time"
)

// Code classifies a domain error. The HTTP layer maps codes to statuses in
// one place; the codes also appear in error bodies.
type Code string

// Error codes.
const (
	CodeValidation     Code = "validation_error"
	CodeUnknownModel   Code = "unknown_model"
	CodeTenantNotFound Code = "tenant_not_found"
	CodeAgentNotFound  Code = "agent_not_found"
	CodeKeyNotFound    Code = "key_not_found"
	CodeTenantExists   Code = "tenant_exists"
	CodeAgentExists    Code = "agent_exists"
	CodeAgentLimit     Code = "agent_limit"
	CodeQueryLimit     Code = "query_limit"
	CodeCostLimit      Code = "cost_limit"
	// CodeCostLimitInFlight: the budget is held by calls in flight only.
	CodeCostLimitInFlight Code = "cost_limit_in_flight"
	CodeMonthlyLimit      Code = "monthly_cost_limit"
	// CodeMonthlyLimitInFlight: the monthly budget is held by calls in
	// flight only.
	CodeMonthlyLimitInFlight Code = "monthly_cost_limit_in_flight"
	CodeTenantInactive       Code = "tenant_inactive"
	CodeModelNotAllowed      Code = "model_not_allowed"
	CodeToolNotAllowed       Code = "tool_not_allowed"
	CodeUnavailable          Code = "store_unavailable"
	CodeSessionNotFound      Code = "session_not_found"
)

// Error is the one error type of the domain. Message is the exact text a
// client sees; RetryAfter, when set, tells when a refused call may succeed.
type Error struct {
	Code       Code
	Message    string
	RetryAfter time.Duration
	Cause      error // internal cause (never shown to clients)
	// Alerts are the budget alerts a refusal at the wall recorded
	// (WallAlerts), for the service to deliver; never shown to clients.
	Alerts []Alert
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is makes errors.Is(err, ErrTenantNotFound) match any error of that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is; each matches every Error of its code.
var (
	ErrValidation           = &Error{Code: CodeValidation}
	ErrUnknownModel         = &Error{Code: CodeUnknownModel}
	ErrTenantNotFound       = &Error{Code: CodeTenantNotFound}
	ErrAgentNotFound        = &Error{Code: CodeAgentNotFound}
	ErrKeyNotFound          = &Error{Code: CodeKeyNotFound}
	ErrTenantExists         = &Error{Code: CodeTenantExists}
	ErrAgentExists          = &Error{Code: CodeAgentExists}
	ErrAgentLimit           = &Error{Code: CodeAgentLimit}
	ErrQueryLimit           = &Error{Code: CodeQueryLimit}
	ErrCostLimit            = &Error{Code: CodeCostLimit}
	ErrCostLimitInFlight    = &Error{Code: CodeCostLimitInFlight}
	ErrMonthlyLimit         = &Error{Code: CodeMonthlyLimit}
	ErrMonthlyLimitInFlight = &Error{Code: CodeMonthlyLimitInFlight}
	ErrTenantInactive       = &Error{Code: CodeTenantInactive}
	ErrModelNotAllowed      = &Error{Code: CodeModelNotAllowed}
	ErrToolNotAllowed       = &Error{Code: CodeToolNotAllowed}
	ErrUnavailable          = &Error{Code: CodeUnavailable}
	ErrSessionNotFound      = &Error{Code: CodeSessionNotFound}
)

func newErr(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Validationf builds a validation error (HTTP 400).
func Validationf(format string, args ...any) *Error {
	return newErr(CodeValidation, format, args...)
}

// The seed's messages, word for word.

// TenantExists is "Tenant 'acme' already registered".
func TenantExists(tenantID string) *Error {
	return newErr(CodeTenantExists, "Tenant '%s' already registered", tenantID)
}

// TenantNotFound is "Tenant 'acme' not found".
func TenantNotFound(tenantID string) *Error {
	return newErr(CodeTenantNotFound, "Tenant '%s' not found", tenantID)
}

// AgentLimit is "Tenant 'acme' has reached the agent limit (5)".
func AgentLimit(tenantID string, max int) *Error {
	return newErr(CodeAgentLimit, "Tenant '%s' has reached the agent limit (%d)", tenantID, max)
}

// ModelNotAllowed is "Model 'claude-opus-4-20250514' not allowed for tenant 'acme'".
func ModelNotAllowed(model, tenantID string) *Error {
	return newErr(CodeModelNotAllowed, "Model '%s' not allowed for tenant '%s'", model, tenantID)
}

// ToolNotAllowed is "Tool 'shell' not allowed for tenant 'acme'".
func ToolNotAllowed(tool, tenantID string) *Error {
	return newErr(CodeToolNotAllowed, "Tool '%s' not allowed for tenant '%s'", tool, tenantID)
}

// TenantInactive is "Tenant 'acme' is inactive".
func TenantInactive(tenantID string) *Error {
	return newErr(CodeTenantInactive, "Tenant '%s' is inactive", tenantID)
}

// CostLimit is "Tenant 'acme' has exceeded usage limits (cost: $10.50 / $10.00)";
// cost includes in-flight reservations.
func CostLimit(tenantID string, cost, max Money, retryAfter time.Duration) *Error {
	e := newErr(CodeCostLimit, "Tenant '%s' has exceeded usage limits (cost: %s / %s)", tenantID, cost.Cents(), max.Cents())
	e.RetryAfter = retryAfter
	return e
}

// CostLimitInFlight is "Tenant 'acme' has calls in flight holding its daily
// budget (cost: $3.37 + $1.26 reserved / $5.00)": settled spend plus this
// call would fit the cap, but in-flight reservations hold the rest.
func CostLimitInFlight(tenantID string, spent, reserved, max Money, retryAfter time.Duration) *Error {
	e := newErr(CodeCostLimitInFlight, "Tenant '%s' has calls in flight holding its daily budget (cost: %s + %s reserved / %s)",
		tenantID, spent.Cents(), reserved.Cents(), max.Cents())
	e.RetryAfter = retryAfter
	return e
}

// MonthlyCostLimit is "Tenant 'acme' has exceeded its monthly budget (cost: $x / $y)";
// cost includes in-flight reservations.
func MonthlyCostLimit(tenantID string, cost, max Money, retryAfter time.Duration) *Error {
	e := newErr(CodeMonthlyLimit, "Tenant '%s' has exceeded its monthly budget (cost: %s / %s)", tenantID, cost.Cents(), max.Cents())
	e.RetryAfter = retryAfter
	return e
}

// MonthlyCostLimitInFlight is "Tenant 'acme' has calls in flight holding
// its monthly budget (cost: $0.00 + $2.00 reserved / $2.50)": the month's
// settled spend plus this call would fit the budget, but in-flight
// reservations hold the rest.
func MonthlyCostLimitInFlight(tenantID string, spent, reserved, max Money, retryAfter time.Duration) *Error {
	e := newErr(CodeMonthlyLimitInFlight, "Tenant '%s' has calls in flight holding its monthly budget (cost: %s + %s reserved / %s)",
		tenantID, spent.Cents(), reserved.Cents(), max.Cents())
	e.RetryAfter = retryAfter
	return e
}

// QueryLimit is "Tenant 'acme' has exceeded usage limits (queries: 1000 / 1000 per hour)".
func QueryLimit(tenantID string, queries int64, max int, retryAfter time.Duration) *Error {
	e := newErr(CodeQueryLimit, "Tenant '%s' has exceeded usage limits (queries: %d / %d per hour)", tenantID, queries, max)
	e.RetryAfter = retryAfter
	return e
}

// AgentNotFound is "Agent 'support' not found for tenant 'acme'".
func AgentNotFound(agentID, tenantID string) *Error {
	return newErr(CodeAgentNotFound, "Agent '%s' not found for tenant '%s'", agentID, tenantID)
}

// AgentExists is "Agent 'support' already exists for tenant 'acme'".
func AgentExists(agentID, tenantID string) *Error {
	return newErr(CodeAgentExists, "Agent '%s' already exists for tenant '%s'", agentID, tenantID)
}

// UnknownModel refuses a model that has no price (it must never cost 0).
func UnknownModel(model string) *Error {
	return newErr(CodeUnknownModel, "Model '%s' is not in the model catalog (no route and no price)", model)
}

// Unavailable wraps a storage failure (HTTP 503); the cause stays internal.
func Unavailable(cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: "The tenancy store is temporarily unavailable; retry later", Cause: cause}
}

// SessionNotFound is "Session 'u-42' not found for agent 'support'".
func SessionNotFound(sessionID, agentID string) *Error {
	return newErr(CodeSessionNotFound, "Session '%s' not found for agent '%s'", sessionID, agentID)
}
