package samtemplate

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/schema"
)

// fixture is a minimal synthesized template: the six functions, the table,
// the HTTP API's routes, integrations and authorizer, and the schedule.
func fixture() map[string]any {
	res := map[string]any{
		"Table": map[string]any{"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
			"Properties": map[string]any{"BillingMode": "PAY_PER_REQUEST", "Tags": []any{"x"}}},
		"SomeRole": map[string]any{"Type": "AWS::IAM::Role"},
		"HttpApiKeyAuthorizer4E36FD8A": map[string]any{"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": map[string]any{
			"AuthorizerPayloadFormatVersion": "2.0", "AuthorizerResultTtlInSeconds": 300.0, "AuthorizerType": "REQUEST",
			"AuthorizerUri":         map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Fn::GetAtt": []any{"Authorizer", "Arn"}}, "/invocations"}}},
			"EnableSimpleResponses": true, "IdentitySource": []any{"$request.header.Authorization"},
		}},
		"DailyResetD4933ED1": map[string]any{"Type": "AWS::Events::Rule", "Properties": map[string]any{
			"Description": "Daily quota reset at 00:00 UTC", "ScheduleExpression": "cron(0 0 * * ? *)", "State": "ENABLED",
			"Targets": []any{map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{"Reset", "Arn"}}, "Id": "Target0"}},
		}},
		"PatternRule": map[string]any{"Type": "AWS::Events::Rule", "Properties": map[string]any{
			"EventPattern": map[string]any{"source": []any{"x"}},
			"Targets":      []any{map[string]any{"Arn": map[string]any{"Fn::GetAtt": []any{"Reset", "Arn"}}}},
		}},
	}
	for i, r := range api.Routes {
		in := fmt.Sprintf("Integration%d", i)
		res[in] = map[string]any{"Type": "AWS::ApiGatewayV2::Integration", "Properties": map[string]any{
			"IntegrationUri": map[string]any{"Fn::GetAtt": []any{LogicalID(r.Function), "Arn"}}, "PayloadFormatVersion": "2.0"}}
		p := map[string]any{"RouteKey": r.Method + " " + r.Path, "AuthorizationType": "CUSTOM",
			"Target": map[string]any{"Fn::Join": []any{"", []any{"integrations/", map[string]any{"Ref": in}}}}}
		if r.Access == api.Public {
			p["AuthorizationType"] = "NONE"
		}
		res[fmt.Sprintf("Route%d", i)] = map[string]any{"Type": "AWS::ApiGatewayV2::Route", "Properties": p}
	}
	for _, fn := range api.Functions {
		vars := map[string]any{schema.EnvTable: map[string]any{"Ref": "Table"}}
		if fn == api.FnAuthorizer {
			vars[schema.EnvAdminKeySecret] = map[string]any{"Fn::Join": []any{"-", []any{"a", "b"}}}
		}
		if fn == api.FnExecute {
			vars["PLAIN"] = "value"
		}
		res[LogicalID(fn)] = map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{
			"Handler": "bootstrap", "Runtime": "provided.al2023", "Architectures": []any{"arm64"},
			"MemorySize": 128.0, "Timeout": 5.0, "Code": map[string]any{"S3Key": "abc.zip"},
			"LoggingConfig": map[string]any{"LogFormat": "JSON", "LogGroup": map[string]any{"Ref": "Logs"}},
			"Environment":   map[string]any{"Variables": vars},
		}}
	}
	return map[string]any{"Resources": res}
}

func TestGenerate(t *testing.T) {
	b, err := Generate(fixture())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Transform  string                    `yaml:"Transform"`
		Parameters map[string]map[string]any `yaml:"Parameters"`
		Resources  map[string]struct {
			Type       string         `yaml:"Type"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Transform != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform %q", doc.Transform)
	}
	if len(doc.Resources) != len(api.Functions)+2 {
		t.Errorf("%d resources, want the functions, the table and the API", len(doc.Resources))
	}
	httpAPI := doc.Resources[HTTPAPILogicalID]
	wantAuth := map[string]any{"DefaultAuthorizer": "KeyAuthorizer", "Authorizers": map[string]any{"KeyAuthorizer": map[string]any{
		"FunctionArn":                    map[string]any{"Fn::GetAtt": []any{"Authorizer", "Arn"}},
		"AuthorizerPayloadFormatVersion": "2.0", "EnableSimpleResponses": true, "EnableFunctionDefaultPermissions": true,
		"Identity": map[string]any{"Headers": []any{"Authorization"}, "ReauthorizeEvery": 300},
	}}}
	if httpAPI.Type != "AWS::Serverless::HttpApi" || !reflect.DeepEqual(httpAPI.Properties["Auth"], wantAuth) {
		t.Errorf("HttpApi %s %v", httpAPI.Type, httpAPI.Properties)
	}
	// One HttpApi event per route, on its function, public routes without
	// the authorizer; the schedule on reset.
	n := 0
	for _, r := range api.Routes {
		evs, _ := doc.Resources[LogicalID(r.Function)].Properties["Events"].(map[string]any)
		ev, _ := evs[EventName(r.Method, r.Path)].(map[string]any)
		want := map[string]any{"ApiId": map[string]any{"Ref": "HttpApi"}, "Method": r.Method, "Path": r.Path, "PayloadFormatVersion": "2.0"}
		if r.Access == api.Public {
			want["Auth"] = map[string]any{"Authorizer": "NONE"}
		}
		if ev["Type"] != "HttpApi" || !reflect.DeepEqual(ev["Properties"], want) {
			t.Errorf("%s %s: event %v", r.Method, r.Path, ev)
		}
		n++
	}
	total := 0
	for _, fn := range api.Functions {
		evs, _ := doc.Resources[LogicalID(fn)].Properties["Events"].(map[string]any)
		total += len(evs)
	}
	if total != n+1 {
		t.Errorf("%d events, want %d routes and the schedule", total, n)
	}
	sched := doc.Resources["Reset"].Properties["Events"].(map[string]any)["DailyReset"]
	wantSched := map[string]any{"Type": "Schedule", "Properties": map[string]any{
		"Schedule": "cron(0 0 * * ? *)", "Enabled": true, "Description": "Daily quota reset at 00:00 UTC"}}
	if !reflect.DeepEqual(sched, wantSched) {
		t.Errorf("reset's schedule %v", sched)
	}
	for _, fn := range api.Functions {
		r := doc.Resources[LogicalID(fn)]
		if r.Type != "AWS::Serverless::Function" || r.Properties["CodeUri"] != "bin/lambda/"+fn || r.Properties["Code"] != nil {
			t.Errorf("%s: %v %v", fn, r.Type, r.Properties)
		}
		if lc := r.Properties["LoggingConfig"].(map[string]any); lc["LogGroup"] != nil || lc["LogFormat"] != "JSON" {
			t.Errorf("%s: LoggingConfig %v", fn, lc)
		}
		vars := r.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		if v := vars[schema.EnvTable].(map[string]any); v["Ref"] != "TableName" {
			t.Errorf("%s: %s = %v", fn, schema.EnvTable, v)
		}
		if v := vars[schema.EnvEndpoint].(map[string]any); v["Ref"] != "DynamoDBEndpoint" {
			t.Errorf("%s: %s = %v", fn, schema.EnvEndpoint, v)
		}
		_, hasKey := vars[schema.EnvAdminKey]
		if hasKey != (fn == api.FnAuthorizer) {
			t.Errorf("%s: %s declared = %v", fn, schema.EnvAdminKey, hasKey)
		}
	}
	if vars := doc.Resources["Execute"].Properties["Environment"].(map[string]any)["Variables"].(map[string]any); vars["PLAIN"] != "value" {
		t.Errorf("plain env value not kept: %v", vars)
	}
	table := doc.Resources["Table"].Properties
	if table["Tags"] != nil || table["TableName"].(map[string]any)["Ref"] != "TableName" {
		t.Errorf("table %v", table)
	}
	if doc.Parameters["TableName"]["Default"] != schema.DefaultTableName || doc.Parameters["AdminKey"]["NoEcho"] != true {
		t.Errorf("parameters %v", doc.Parameters)
	}
	again, _ := Generate(fixture())
	if string(again) != string(b) {
		t.Errorf("output is not deterministic")
	}
}

func TestGenerateErrors(t *testing.T) {
	for name, c := range map[string]struct {
		mutate func(res map[string]any)
		want   string
	}{
		"unpinned function": {func(res map[string]any) { res["ExecuteABC123"] = res["Execute"]; delete(res, "Execute") }, "not one of api.Functions"},
		"missing function":  {func(res map[string]any) { delete(res, "Reset") }, "no AWS::Lambda::Function Reset"},
		"missing table":     {func(res map[string]any) { delete(res, "Table") }, "no AWS::DynamoDB::Table"},
		"unknown reference": {func(res map[string]any) {
			p := res["Agents"].(map[string]any)["Properties"].(map[string]any)
			p["Environment"].(map[string]any)["Variables"].(map[string]any)["QUEUE"] = map[string]any{"Ref": "Q"}
		}, "env QUEUE refers to a stack resource"},
		"route missing from the stack": {func(res map[string]any) { delete(res, "Route0") }, "the stack has"},
		"route renamed in the stack": {func(res map[string]any) {
			res["Route0"].(map[string]any)["Properties"].(map[string]any)["RouteKey"] = "POST /tenantz"
		}, "route POST /tenants of api.Routes is not in the stack"},
		"route to another function": {func(res map[string]any) {
			res["Integration0"].(map[string]any)["Properties"].(map[string]any)["IntegrationUri"] = map[string]any{"Fn::GetAtt": []any{"Agents", "Arn"}}
		}, "route POST /tenants: the stack sends it to Agents (public false), api.Routes to Tenants (public false)"},
		"public in the stack only": {func(res map[string]any) {
			res["Route0"].(map[string]any)["Properties"].(map[string]any)["AuthorizationType"] = "NONE"
		}, "route POST /tenants: the stack sends it to Tenants (public true)"},
		"no authorizer": {func(res map[string]any) { delete(res, "HttpApiKeyAuthorizer4E36FD8A") }, "no AWS::ApiGatewayV2::Authorizer"},
		"token authorizer": {func(res map[string]any) {
			res["HttpApiKeyAuthorizer4E36FD8A"].(map[string]any)["Properties"].(map[string]any)["EnableSimpleResponses"] = false
		}, "is not a REQUEST authorizer with simple responses"},
	} {
		cfn := fixture()
		c.mutate(cfn["Resources"].(map[string]any))
		if _, err := Generate(cfn); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
}

func TestEventName(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"GET", "/tenants/{tenant_id}"}:                            "GetTenantsTenantId",
		{"POST", "/tenants/{tenant_id}/agents/{agent_id}/execute"}: "PostTenantsTenantIdAgentsAgentIdExecute",
		{"GET", "/openapi.json"}:                                   "GetOpenapiJson",
		{"DELETE", "/tenants/{tenant_id}/keys/{key_id}"}:           "DeleteTenantsTenantIdKeysKeyId",
		{"GET", "/tenants/{tenant_id}/usage/history"}:              "GetTenantsTenantIdUsageHistory",
	} {
		if got := EventName(in[0], in[1]); got != want {
			t.Errorf("EventName(%s %s) = %s, want %s", in[0], in[1], got, want)
		}
	}
	seen := map[string]string{}
	for _, r := range api.Routes {
		n := EventName(r.Method, r.Path)
		if prev, dup := seen[n]; dup {
			t.Errorf("%s %s and %s share the event name %s", r.Method, r.Path, prev, n)
		}
		seen[n] = r.Method + " " + r.Path
	}
}
