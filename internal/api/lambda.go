package api

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdaurl"

	"github.com/openclaw/tenancy/internal/auth"
)

// FunctionURLHandler is the Lambda handler of a function invoked both by
// API Gateway (events of its routes, answered whole) and by its function
// URL (InvokeMode RESPONSE_STREAM), where the request is served by HTTP,
// streaming, with the caller's key checked in-process by a. Both send
// payload format 2.0 events; a function URL's are for route "$default" on a
// "*.lambda-url.*" domain. A *LambdaFunctionURLStreamingResponse is an
// io.Reader, which the Lambda runtime streams.
func FunctionURLHandler(h *Handler, a *auth.Authorizer) func(ctx context.Context, payload json.RawMessage) (any, error) {
	stream := lambdaurl.Wrap(NewHTTP(h, a))
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		var probe struct {
			RouteKey       string `json:"routeKey"`
			RequestContext struct {
				DomainName string `json:"domainName"`
			} `json:"requestContext"`
		}
		_ = json.Unmarshal(payload, &probe)
		if probe.RouteKey == "$default" || strings.Contains(probe.RequestContext.DomainName, ".lambda-url.") {
			var req events.LambdaFunctionURLRequest
			if err := json.Unmarshal(payload, &req); err != nil {
				return nil, err
			}
			return stream(ctx, &req)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		return h.Handle(ctx, ev)
	}
}
