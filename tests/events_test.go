package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/localapi"
)

// The sample events are real API Gateway payloads for existing routes: they
// round-trip through aws-lambda-go's types and their route key and path
// parameters agree with the route table.
func TestSampleEvents(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "events")
	for _, name := range []string{"tenants.json", "agents.json", "execute.json", "reports.json"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			rt, params, ok := localapi.Match(ev.RequestContext.HTTP.Method, ev.RawPath)
			if !ok || rt.RouteKey() != ev.RouteKey {
				t.Fatalf("route %q does not match %s %s", ev.RouteKey, ev.RequestContext.HTTP.Method, ev.RawPath)
			}
			if len(params) > 0 && !reflect.DeepEqual(params, ev.PathParameters) {
				t.Fatalf("path parameters %v, want %v", ev.PathParameters, params)
			}
			if p := api.PrincipalFromEvent(&ev); p.Role != "admin" {
				t.Fatalf("authorizer context role %q", p.Role)
			}
			again, _ := json.Marshal(ev)
			var back events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(again, &back); err != nil || !reflect.DeepEqual(back, ev) {
				t.Fatalf("round trip changed the event")
			}
		})
	}
	var a events.APIGatewayV2CustomAuthorizerV2Request
	raw, _ := os.ReadFile(filepath.Join(dir, "authorizer.json"))
	if err := json.Unmarshal(raw, &a); err != nil || a.Type != "REQUEST" || len(a.IdentitySource) != 1 {
		t.Fatalf("authorizer event: %v %+v", err, a)
	}
	var s events.CloudWatchEvent
	raw, _ = os.ReadFile(filepath.Join(dir, "reset.json"))
	if err := json.Unmarshal(raw, &s); err != nil || s.DetailType != "Scheduled Event" {
		t.Fatalf("reset event: %v %+v", err, s)
	}
}
