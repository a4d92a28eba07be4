// Package api is the HTTP API of the platform as API Gateway (HTTP API,
// payload 2.0) Lambda handlers: routing, access control, request parsing,
// the one error-to-status mapping and JSON rendering. Every Lambda function
// and the local server run this same code.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Deps are what the handlers use.
type Deps struct {
	Service *tenancy.Service
	Keys    *auth.Keys
	Logger  *slog.Logger
	Idem    *Idempotency // nil: Idempotency-Key is ignored
}

type handlerFunc func(ctx context.Context, r *request) (int, any, error)

// Handler serves the routes of one function ("" for all routes, as the
// local server does).
type Handler struct {
	deps     Deps
	function string
	routes   map[string]routeEntry
}

type routeEntry struct {
	Route
	fn handlerFunc
}

// RouteKey is API Gateway's route key: "POST /tenants/{tenant_id}".
func (r Route) RouteKey() string { return r.Method + " " + r.Path }

// New builds the handler of a function ("" serves every route).
func New(function string, d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := &Handler{deps: d, function: function, routes: map[string]routeEntry{}}
	impl := h.implementations()
	for _, rt := range Routes {
		if function == "" || rt.Function == function {
			h.routes[rt.RouteKey()] = routeEntry{Route: rt, fn: impl[rt.RouteKey()]}
		}
	}
	return h
}

// Handle is the Lambda handler for API Gateway HTTP API events. It never
// returns an error: every failure is an HTTP response.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	var timing *tenancy.Timing
	if h.routes[ev.RouteKey].Function == FnExecute { // the routes that call models
		if timing = tenancy.TimingFrom(ctx); timing == nil {
			ctx, timing = tenancy.StartTiming(ctx, start)
		}
	}
	r := &request{ev: &ev, principal: PrincipalFromEvent(&ev)}
	resp, p := h.serve(ctx, r)
	if timing != nil {
		if resp.Headers == nil {
			resp.Headers = map[string]string{}
		}
		resp.Headers[OverheadHeader] = FormatMs(timing.Overhead())
	}
	attrs := []any{
		"request_id", ev.RequestContext.RequestID,
		"route", ev.RouteKey,
		"status", resp.StatusCode,
		"latency_ms", float64(time.Since(start).Microseconds()) / 1000,
		"role", string(r.principal.Role),
	}
	if t := ev.PathParameters["tenant_id"]; t != "" {
		attrs = append(attrs, "tenant_id", t)
	}
	if a := ev.PathParameters["agent_id"]; a != "" {
		attrs = append(attrs, "agent_id", a)
	}
	level := slog.LevelInfo
	if p != nil {
		attrs = append(attrs, "error_code", p.code)
		if p.status >= 500 {
			level = slog.LevelError
			attrs = append(attrs, "error", p.cause)
		}
	}
	h.deps.Logger.Log(ctx, level, "request", attrs...)
	return resp, nil
}

// OverheadHeader is the response header of the routes that call models
// (execute, chat) giving the call's own overhead in milliseconds: the time
// the request spent in the platform (from the local server's receipt, or
// the function handler's start in Lambda, to the response) less the time it
// waited for the model provider.
const OverheadHeader = "X-Tenancy-Overhead-Ms"

// FormatMs is a duration in milliseconds with microsecond precision ("0.412").
func FormatMs(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64)
}

type loggedProblem struct {
	problem
	cause string
}

func (h *Handler) serve(ctx context.Context, r *request) (resp events.APIGatewayV2HTTPResponse, lp *loggedProblem) {
	defer func() {
		if v := recover(); v != nil { // a bug, never the client's fault: log it, answer 500
			p := problem{status: http.StatusInternalServerError, code: "internal_error", message: "Internal error"}
			resp, lp = errorResponse(p), &loggedProblem{p, "panic: " + slog.AnyValue(v).String()}
		}
	}()
	rt, ok := h.routes[r.ev.RouteKey]
	if !ok {
		p := toProblem(errNotFound)
		return errorResponse(p), &loggedProblem{problem: p}
	}
	r.route = rt.Route
	var status int
	var body any
	err := h.authorize(r)
	if err == nil {
		status, body, err = rt.fn(ctx, r)
	}
	if err != nil {
		p := toProblem(err)
		return errorResponse(p), &loggedProblem{problem: p, cause: err.Error() + causeOf(err)}
	}
	if raw, ok := body.(rawBody); ok {
		h := map[string]string{"Content-Type": raw.contentType}
		for k, v := range raw.headers {
			h[k] = v
		}
		if raw.replayed {
			h["Idempotent-Replayed"] = "true"
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: h, Body: raw.body}, nil
	}
	return jsonResponse(status, body, nil), nil
}

func causeOf(err error) string {
	if c := unwrapAll(err); c != nil && c != err {
		return ": " + c.Error()
	}
	return ""
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// rawBody is a pre-rendered response body (CSV, a replayed response, the
// console's files) with its extra headers.
type rawBody struct {
	contentType, body string
	replayed          bool
	headers           map[string]string
}

// authorize enforces the route's access rule on the principal the
// authorizer resolved.
func (h *Handler) authorize(r *request) error {
	p := r.principal
	switch {
	case r.route.Access == Public:
		return nil
	case p.Role == auth.RoleAdmin && r.route.Access == TenantKey:
		return errTenantKeyOnly
	case p.Role == auth.RoleAdmin:
		return nil
	case p.Role == "": // no Authorization header: the authorizer did not run
		return errMissingKey
	case p.Role != auth.RoleTenant:
		return errBadKey
	case r.route.Access == AnyKey:
		return nil
	case r.route.Access == AdminOnly:
		return errAdminOnly
	case r.route.Access == TenantKey:
		return nil
	case p.TenantID != r.param("tenant_id"):
		return errOtherTenant(r.param("tenant_id"))
	}
	return nil
}
