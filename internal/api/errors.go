package api

import (
	"errors"
	"net"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Error is an HTTP-level error raised by request handling itself (bad JSON,
// missing key, body too large, unknown route).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

var (
	errMissingKey = errorf(http.StatusUnauthorized, "unauthorized", "Missing API key: send Authorization: Bearer <key>")
	errBadKey     = errorf(http.StatusUnauthorized, "unauthorized", "Invalid or revoked API key")
	errAdminOnly  = errorf(http.StatusForbidden, "forbidden", "This route needs the admin key")
	// errTenantKeyOnly: the OpenAI-compatible routes are for tenants' apps.
	errTenantKeyOnly = errorf(http.StatusForbidden, "forbidden", "This route needs a tenant key (the admin key is not accepted here)")
	errNotFound      = errorf(http.StatusNotFound, "not_found", "No such route")
	errTooLarge      = errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "Request body is larger than 65536 bytes")
	// The local server's answers when a body does not arrive (API Gateway
	// reads it before any function runs).
	errRequestTimeout = errorf(http.StatusRequestTimeout, "request_timeout", "The request was not received in time")
	errUnreadableBody = errorf(http.StatusBadRequest, "validation_error", "Request body could not be read")
)

// BodyReadError is the error answered when reading a request's body failed
// with err: 408 request_timeout when it timed out, else 400.
func BodyReadError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errRequestTimeout
	}
	return errUnreadableBody
}

// ErrNotFound is the answer to a request that matches no route.
var ErrNotFound error = errNotFound

// ErrorEvent is the response to err, from the one mapper (toProblem): its
// status, the error JSON (code, message, type, param) and Retry-After. For
// servers that answer before a function handler runs (the local server).
func ErrorEvent(err error) events.APIGatewayV2HTTPResponse { return errorResponse(toProblem(err)) }

func errOtherTenant(tenantID string) *Error {
	return errorf(http.StatusForbidden, "forbidden", "This key may not access tenant '"+tenantID+"'")
}

// statusOf is the one mapping of domain codes to HTTP statuses.
var statusOf = map[tenancy.Code]int{
	tenancy.CodeValidation:           http.StatusBadRequest,
	tenancy.CodeUnknownModel:         http.StatusBadRequest,
	tenancy.CodeTenantNotFound:       http.StatusNotFound,
	tenancy.CodeAgentNotFound:        http.StatusNotFound,
	tenancy.CodeKeyNotFound:          http.StatusNotFound,
	tenancy.CodeTenantExists:         http.StatusConflict,
	tenancy.CodeAgentExists:          http.StatusConflict,
	tenancy.CodeAgentLimit:           http.StatusTooManyRequests,
	tenancy.CodeQueryLimit:           http.StatusTooManyRequests,
	tenancy.CodeCostLimit:            http.StatusTooManyRequests,
	tenancy.CodeCostLimitInFlight:    http.StatusTooManyRequests,
	tenancy.CodeMonthlyLimit:         http.StatusTooManyRequests,
	tenancy.CodeMonthlyLimitInFlight: http.StatusTooManyRequests,
	tenancy.CodeTenantInactive:       http.StatusForbidden,
	tenancy.CodeModelNotAllowed:      http.StatusForbidden,
	tenancy.CodeToolNotAllowed:       http.StatusForbidden,
	tenancy.CodeUnavailable:          http.StatusServiceUnavailable,
	tenancy.CodeSessionNotFound:      http.StatusNotFound,
}

// ErrorCode is the machine-readable code of an error response.
type ErrorCode string

// httpCodes are the codes the HTTP layer answers besides the domain's.
var httpCodes = []string{"unauthorized", "forbidden", "not_found", "payload_too_large", "request_timeout", "internal_error",
	"provider_timeout", "provider_error", "idempotency_key_reused", "idempotency_in_progress", "idempotency_response_too_large"}

// ErrorCodes lists every code an error response may carry, sorted: the
// domain's (statusOf) and the HTTP layer's. The API document's enum.
func ErrorCodes() []string {
	codes := append([]string{}, httpCodes...)
	for c := range statusOf {
		codes = append(codes, string(c))
	}
	sort.Strings(codes)
	return codes
}

// problem is an error as the client sees it.
type problem struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration
}

// toProblem maps any error to its status, code and client message. Errors
// this does not know become a 500 with a generic message; the cause is only
// logged.
func toProblem(err error) problem {
	var ae *Error
	var te *tenancy.Error
	switch {
	case errors.As(err, &ae):
		return problem{status: ae.Status, code: ae.Code, message: ae.Message}
	case errors.As(err, &te):
		st, ok := statusOf[te.Code]
		if !ok {
			st = http.StatusInternalServerError
		}
		return problem{status: st, code: string(te.Code), message: te.Message, retryAfter: te.RetryAfter}
	case errors.Is(err, provider.ErrTimeout):
		return problem{status: http.StatusGatewayTimeout, code: "provider_timeout", message: provider.PublicMessage(err)}
	case errors.Is(err, provider.ErrUpstream):
		// Never the provider's URL, host, port or path; the log keeps them.
		return problem{status: http.StatusBadGateway, code: "provider_error", message: provider.PublicMessage(err)}
	}
	return problem{status: http.StatusInternalServerError, code: "internal_error", message: "Internal error"}
}

// ErrorClass is an error's "type": its status's class in OpenAI's and
// Anthropic's words (one of ErrorClasses).
type ErrorClass string

// ErrorClasses are the values ErrorType answers (the API document's enum).
var ErrorClasses = []string{"authentication_error", "permission_error", "not_found_error", "conflict_error",
	"request_too_large", "rate_limit_error", "overloaded_error", "api_error", "invalid_request_error"}

// ErrorType is the error's class in OpenAI's and Anthropic's vocabulary
// ("type" in every error body), from its status, so one shape serves the
// platform's routes and the OpenAI-compatible ones.
func ErrorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusConflict:
		return "conflict_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

func (p problem) headers() map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if p.retryAfter > 0 {
		h["Retry-After"] = strconv.Itoa(int((p.retryAfter + time.Second - 1) / time.Second))
	}
	return h
}
