package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// HTTP is the API as an http.Handler: the streaming routes (execute with
// "stream": true or Accept: text/event-stream) and the OpenAI-compatible
// /v1 routes natively, every other route through the event Handler. It is
// the one implementation of streaming: the local server mounts it for those
// routes, and in AWS the execute function serves it in its function URL
// (aws-lambda-go's lambdaurl, InvokeMode RESPONSE_STREAM), where it checks
// the bearer keys in-process with the same authorizer code.
type HTTP struct {
	h    *Handler
	auth *auth.Authorizer // nil: the principal comes with the request (WithPrincipal)
	seq  atomic.Int64
}

// NewHTTP serves h's routes over HTTP, resolving keys with a.
func NewHTTP(h *Handler, a *auth.Authorizer) *HTTP { return &HTTP{h: h, auth: a} }

type principalKey struct{}

// WithPrincipal marks a request's caller as already resolved (API Gateway's
// authorizer did it).
func WithPrincipal(ctx context.Context, p auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// WantsStream reports whether an execute request asks for a stream.
func WantsStream(accept string, body []byte) bool {
	if strings.Contains(accept, "text/event-stream") {
		return true
	}
	var b struct {
		Stream bool `json:"stream"`
	}
	return bytes.Contains(body, []byte(`"stream"`)) && json.Unmarshal(body, &b) == nil && b.Stream
}

// IsHTTPRoute reports whether a request is served natively by HTTP (the
// local server sends these there).
func IsHTTPRoute(rt Route, accept string, body []byte) bool {
	return strings.HasPrefix(rt.Path, "/v1/") || (rt.RouteKey() == executeRoute && WantsStream(accept, body))
}

const executeRoute = "POST /tenants/{tenant_id}/agents/{agent_id}/execute"

// ServeHTTP implements http.Handler.
func (x *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	ev := x.event(r, body)
	rt, params, ok := Match(r.Method, r.URL.EscapedPath())
	if !ok {
		writeProblem(w, toProblem(errNotFound))
		return
	}
	ev.RouteKey, ev.PathParameters = rt.RouteKey(), params
	ev.RequestContext.RouteKey = ev.RouteKey
	var timing *tenancy.Timing
	if rt.Function == FnExecute { // the routes that call models report their overhead
		if timing = tenancy.TimingFrom(r.Context()); timing == nil {
			var ctx context.Context
			ctx, timing = tenancy.StartTiming(r.Context(), start)
			r = r.WithContext(ctx)
		}
	}
	p, known := r.Context().Value(principalKey{}).(auth.Principal)
	if !known && x.auth != nil && rt.Access != Public && r.Header.Get("Authorization") != "" {
		var err error
		if p, err = x.auth.Resolve(r.Context(), r.Header.Get("Authorization")); err != nil {
			x.h.deps.Logger.ErrorContext(r.Context(), "request", "request_id", ev.RequestContext.RequestID, "route", ev.RouteKey,
				"status", http.StatusServiceUnavailable, "error", err.Error())
			writeProblem(w, toProblem(tenancy.Unavailable(err)))
			return
		}
	}
	if p.Role != "" {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: PrincipalContext(p)}
	}
	if !IsHTTPRoute(rt, r.Header.Get("Accept"), body) {
		resp, _ := x.h.Handle(r.Context(), ev)
		WriteEvent(w, resp)
		return
	}
	req := &request{ev: &ev, route: rt, principal: p}
	sw := &statusWriter{ResponseWriter: w, timing: timing}
	var err error
	if err = x.h.authorize(req); err == nil {
		switch rt.Path {
		case "/v1/chat/completions":
			err = x.h.chatCompletions(r.Context(), sw, req)
		case "/v1/models":
			err = x.h.models(r.Context(), sw, req)
		default:
			err = x.h.streamExecute(r.Context(), sw, req)
		}
	}
	sw.finishStream()
	attrs := []any{"request_id", ev.RequestContext.RequestID, "route", ev.RouteKey, "role", string(p.Role), "stream", true}
	if t := params["tenant_id"]; t != "" {
		attrs = append(attrs, "tenant_id", t)
	}
	if err != nil && sw.status == 0 {
		pb := toProblem(err)
		writeProblem(sw, pb)
		attrs = append(attrs, "error_code", pb.code)
		if pb.status >= 500 {
			attrs = append(attrs, "error", err.Error()+causeOf(err))
		}
	}
	attrs = append(attrs, "status", sw.status, "latency_ms", float64(time.Since(start).Microseconds())/1000)
	x.h.deps.Logger.InfoContext(r.Context(), "request", attrs...)
}

// statusWriter remembers the status written and flushes every write. With
// a timing, a response that is not a stream carries X-Tenancy-Overhead-Ms,
// measured when its header is written (after the model answered). A
// stream's header leaves before the model has finished, so it declares
// X-Tenancy-Overhead-Ms as an HTTP trailer (Trailer:), which the stream's
// handler sets when it writes its last event (the same value as the event's
// overhead_ms) and finishStream otherwise sets at the end.
type statusWriter struct {
	http.ResponseWriter
	status int
	timing *tenancy.Timing
	stream bool // a text/event-stream response with a timing: the overhead is a trailer
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
		if h := s.Header(); s.timing != nil {
			if strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
				s.stream = true
				h.Add("Trailer", OverheadHeader)
			} else {
				h.Set(OverheadHeader, FormatMs(s.timing.Overhead()))
			}
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

// finishStream sets a stream's overhead trailer when its handler did not
// (a stream that ended with an error event, or a chat stream without a
// usage chunk): the overhead up to the end of the body.
func (s *statusWriter) finishStream() {
	if s.stream && s.Header().Get(OverheadHeader) == "" {
		s.Header().Set(OverheadHeader, FormatMs(s.timing.Overhead()))
	}
}

// streamOverhead is the overhead of a streamed call when its last event is
// written: the value for that event's overhead_ms (null without a timing),
// also set as the response's X-Tenancy-Overhead-Ms trailer (declared by
// statusWriter), so the two agree.
func streamOverhead(ctx context.Context, w http.ResponseWriter) json.RawMessage {
	t := tenancy.TimingFrom(ctx)
	if t == nil {
		return json.RawMessage("null")
	}
	ms := FormatMs(t.Overhead())
	w.Header().Set(OverheadHeader, ms)
	return json.RawMessage(ms)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.ResponseWriter.Write(b)
	if err == nil {
		// lambdaurl's writer has no Flush: every write goes out at once.
		if ferr := http.NewResponseController(s.ResponseWriter).Flush(); !errors.Is(ferr, http.ErrNotSupported) {
			err = ferr
		}
	}
	return n, err
}

func writeProblem(w http.ResponseWriter, p problem) {
	WriteEvent(w, errorResponse(p))
}

// event is the API Gateway event of an HTTP request.
func (x *HTTP) event(r *http.Request, body []byte) events.APIGatewayV2HTTPRequest {
	now := time.Now()
	return RequestEvent(r, body, "http-"+strconv.FormatInt(now.UnixNano(), 36)+"-"+strconv.FormatInt(x.seq.Add(1), 10), now)
}

// viaHTTP serves an API Gateway event with the HTTP implementation (the
// /v1 routes and streams requested through API Gateway, which cannot
// stream: the whole event stream comes back as one body).
func (h *Handler) viaHTTP(ctx context.Context, r *request) (int, any, error) {
	body, err := r.body()
	if err != nil {
		return 0, nil, err
	}
	u := r.ev.RawPath
	if u == "" {
		u = r.ev.RequestContext.HTTP.Path
	}
	if r.ev.RawQueryString != "" {
		u += "?" + r.ev.RawQueryString
	}
	hr, err := http.NewRequestWithContext(WithPrincipal(ctx, r.principal), r.route.Method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, tenancy.Validationf("Malformed request")
	}
	for k, v := range r.ev.Headers {
		hr.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	(&HTTP{h: h}).ServeHTTP(rec, hr)
	res := rec.Result()
	headers := map[string]string{}
	for k, v := range res.Header {
		headers[k] = strings.Join(v, ",")
	}
	// API Gateway answers the whole stream as one body: its trailers (the
	// overhead) become headers.
	delete(headers, "Trailer")
	for k, v := range res.Trailer {
		headers[k] = strings.Join(v, ",")
	}
	return res.StatusCode, rawBody{contentType: res.Header.Get("Content-Type"), headers: headers, body: rec.Body.String()}, nil
}
