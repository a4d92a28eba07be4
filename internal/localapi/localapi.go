// Package localapi serves the API over plain HTTP the way `sam local
// start-api` would: each request becomes an API Gateway HTTP API (payload
// 2.0) event, the Lambda authorizer runs on its Authorization header, and the
// route's function handler answers. The handlers are the Lambda functions'
// own code.
package localapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Server is the local API gateway.
type Server struct {
	functions  map[string]*api.Handler
	authorizer *api.AuthorizerHandler
	log        *slog.Logger
	seq        atomic.Int64
	stream     http.Handler // the streaming and /v1 routes (api.HTTP)
}

// New builds a server from one handler per function and the authorizer.
func New(functions map[string]*api.Handler, authorizer *api.AuthorizerHandler, log *slog.Logger) *Server {
	return &Server{functions: functions, authorizer: authorizer, log: log,
		stream: api.NewHTTP(functions[api.FnExecute], authorizer.Auth)}
}

// Match finds the route of a method and path, with its path parameters.
func Match(method, path string) (api.Route, map[string]string, bool) { return api.Match(method, path) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if rt, _, ok := Match(r.Method, r.URL.EscapedPath()); ok && s.stream != nil {
		body, rerr := io.ReadAll(io.LimitReader(r.Body, api.MaxBodyBytes+1))
		if rerr != nil { // keep the read error for the event path (400 or 408)
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{rerr}))
		} else {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if rerr == nil && api.IsHTTPRoute(rt, r.Header.Get("Accept"), body) {
			if rt.Function == api.FnExecute { // its overhead counts this server's share too
				ctx, _ := tenancy.StartTiming(r.Context(), start)
				r = r.WithContext(ctx)
			}
			s.stream.ServeHTTP(w, r)
			return
		}
	}
	ev, err := s.event(r)
	if err != nil {
		// The body did not arrive (in time): answer without running a handler
		// (408 on a timeout, else 400).
		resp := api.ErrorEvent(api.BodyReadError(err))
		w.Header().Set("Connection", "close")
		api.WriteEvent(w, resp)
		s.log.Info("request", "request_id", ev.RequestContext.RequestID, "route", r.Method+" "+r.URL.Path, "status", resp.StatusCode,
			"latency_ms", ms(start), "error", err.Error())
		return
	}
	rt, params, ok := Match(r.Method, r.URL.EscapedPath())
	ctx := r.Context()
	if ok && rt.Function == api.FnExecute {
		// The overhead a model-calling route reports counts this server's
		// share (event, authorizer) too, as API Gateway's would be in AWS.
		ctx, _ = tenancy.StartTiming(ctx, start)
	}
	if !ok {
		api.WriteEvent(w, api.ErrorEvent(api.ErrNotFound))
		s.log.Info("request", "request_id", ev.RequestContext.RequestID, "route", r.Method+" "+r.URL.Path, "status", 404,
			"latency_ms", ms(start))
		return
	}
	ev.RouteKey, ev.PathParameters = rt.RouteKey(), params
	ev.RequestContext.RouteKey = ev.RouteKey
	if rt.Access != api.Public && ev.Headers["authorization"] != "" {
		resp, err := s.authorizer.Handle(ctx, s.authorizerRequest(&ev))
		if err != nil {
			// API Gateway answers a failing authorizer with 500; locally the
			// store being down is reported as what it is.
			api.WriteEvent(w, api.ErrorEvent(tenancy.Unavailable(err)))
			s.log.Error("request", "request_id", ev.RequestContext.RequestID, "route", ev.RouteKey, "status", 503,
				"latency_ms", ms(start), "error", err.Error())
			return
		}
		if !resp.IsAuthorized {
			api.WriteEvent(w, events.APIGatewayV2HTTPResponse{StatusCode: http.StatusForbidden,
				Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"message":"Forbidden"}`})
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: resp.Context}
	}
	resp, _ := s.functions[rt.Function].Handle(ctx, ev)
	api.WriteEvent(w, resp)
}

func ms(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }

// event converts an HTTP request into an API Gateway HTTP API event. The
// body is read up to one byte over the API's limit, so the handler can
// refuse it with 413 without this server reading more.
func (s *Server) event(r *http.Request) (events.APIGatewayV2HTTPRequest, error) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, api.MaxBodyBytes+1))
	now := time.Now()
	ev := api.RequestEvent(r, body, "local-"+strconv.FormatInt(now.UnixNano(), 36)+"-"+strconv.FormatInt(s.seq.Add(1), 10), now)
	ev.RequestContext.AccountID, ev.RequestContext.APIID = "local", "local"
	return ev, readErr
}

func (s *Server) authorizerRequest(ev *events.APIGatewayV2HTTPRequest) events.APIGatewayV2CustomAuthorizerV2Request {
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version: "2.0", Type: "REQUEST", RouteArn: "arn:aws:execute-api:local:local:local/$default/" + strings.Replace(ev.RouteKey, " ", "", 1),
		IdentitySource: []string{ev.Headers["authorization"]}, RouteKey: ev.RouteKey, RawPath: ev.RawPath,
		RawQueryString: ev.RawQueryString, Headers: ev.Headers, QueryStringParameters: ev.QueryStringParameters,
		RequestContext: ev.RequestContext, PathParameters: ev.PathParameters,
	}
}

// Shutdown-friendly serving.

// Serve runs srv on l until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, srv *http.Server, l net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
