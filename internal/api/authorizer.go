package api

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/auth"
)

// Authorizer context keys, as the functions read them from
// requestContext.authorizer.lambda.
const (
	ctxRole     = "role"
	ctxTenantID = "tenant_id"
	ctxKeyID    = "key_id"
)

// AuthorizerHandler is the HTTP API Lambda authorizer (simple responses).
// It labels every request with the caller's principal instead of denying:
// a missing, malformed or unknown key becomes role "none", which the
// functions answer with 401 in the API's own error format (a denial would be
// API Gateway's bare 403). A store failure is returned as an error, which
// API Gateway does not cache.
type AuthorizerHandler struct {
	Auth   *auth.Authorizer
	Logger *slog.Logger
}

// Handle implements the Lambda authorizer.
func (a *AuthorizerHandler) Handle(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	header := ""
	for k, v := range req.Headers {
		if k == "authorization" || k == "Authorization" {
			header = v
		}
	}
	if header == "" && len(req.IdentitySource) > 0 {
		header = req.IdentitySource[0]
	}
	p, err := a.Auth.Resolve(ctx, header)
	if err != nil {
		if a.Logger != nil {
			a.Logger.ErrorContext(ctx, "authorizer could not resolve a key", "request_id", req.RequestContext.RequestID, "error", err)
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: PrincipalContext(p)}, nil
}

// PrincipalContext is the authorizer context of a principal.
func PrincipalContext(p auth.Principal) map[string]any {
	return map[string]any{ctxRole: string(p.Role), ctxTenantID: p.TenantID, ctxKeyID: p.KeyID}
}

// PrincipalFromEvent reads the principal the authorizer put in the request
// context; Role is "" when the authorizer did not run.
func PrincipalFromEvent(ev *events.APIGatewayV2HTTPRequest) auth.Principal {
	if ev.RequestContext.Authorizer == nil {
		return auth.Principal{}
	}
	c := ev.RequestContext.Authorizer.Lambda
	str := func(k string) string { s, _ := c[k].(string); return s }
	role := auth.Role(str(ctxRole))
	switch role {
	case auth.RoleAdmin, auth.RoleTenant, auth.RoleNone:
	default:
		role = ""
	}
	return auth.Principal{Role: role, TenantID: str(ctxTenantID), KeyID: str(ctxKeyID)}
}
