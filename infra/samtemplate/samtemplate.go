// Package samtemplate turns the synthesized CloudFormation template of the
// CDK stack (infra/stack) into template.yaml: a SAM template for running the
// same functions locally (`sam local start-api`, `sam local invoke -t
// template.yaml Execute -e events/execute.json`), with code at the local
// build output of `make build` instead of CDK's S3 assets.
//
// What it keeps from the synth: each function's runtime, architecture,
// handler, memory, timeout, logging format and environment, and the table;
// the HTTP API as an AWS::Serverless::HttpApi with the stack's Lambda
// authorizer (REQUEST, simple responses, payload 2.0, its identity source
// and cache TTL) and one HttpApi event per route of api.Routes, each checked
// against the synth's route (method, path, function, authorization); and
// every schedule rule as a Schedule event on the function it targets.
// References to stack resources in the environment (the table name, secret
// names) become template parameters with local defaults. Two local-only
// variables are declared too, because SAM passes a function only the
// variables its template declares: DYNAMODB_ENDPOINT (a local DynamoDB) on
// every function and TENANCY_ADMIN_KEY (the admin keys themselves) wherever
// the admin key secret is named. Roles, alarms, access logs and throttling
// stay in the CDK stack: this template is for local runs, not for
// deployment.
//
// The package needs no CDK, so `make template` compiles in seconds.
//
// YAML: gopkg.in/yaml.v3 was already in the module graph (a dependency of
// aws-lambda-go and minidyn); emitting JSON would have been valid YAML too,
// but SAM users read and edit template.yaml by hand.
package samtemplate

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/schema"
)

// TableLogicalID is the table's logical id, in the stack and in template.yaml.
const TableLogicalID = "Table"

// Logical ids template.yaml adds.
const (
	HTTPAPILogicalID   = "HttpApi"
	AuthorizerName     = "KeyAuthorizer"
	apiGatewayV2Route  = "AWS::ApiGatewayV2::Route"
	apiGatewayV2Integr = "AWS::ApiGatewayV2::Integration"
	apiGatewayV2Authzr = "AWS::ApiGatewayV2::Authorizer"
	eventsRule         = "AWS::Events::Rule"
)

// CodeRoot is where `make build` puts <fn>/bootstrap, relative to the repo
// root (where template.yaml lives).
const CodeRoot = "bin/lambda"

// LogicalID is a function's logical id, in the stack and in template.yaml:
// "execute" -> "Execute".
func LogicalID(fn string) string {
	if fn == "" {
		return ""
	}
	return strings.ToUpper(fn[:1]) + fn[1:]
}

// parameter is a template parameter standing for a stack reference.
type parameter struct {
	Name, Default, Description string
	NoEcho                     bool
}

// refParams: the parameter that replaces a reference in an env variable.
var refParams = map[string]parameter{
	schema.EnvTable:          {"TableName", schema.DefaultTableName, "DynamoDB table the functions use", false},
	schema.EnvAdminKeySecret: {"AdminKeySecretName", "", "Secrets Manager secret holding the admin keys (empty: use AdminKey)", false},
	schema.EnvProviderSecret: {"ProviderKeysSecretName", "", "Secrets Manager secret holding the provider keys (empty: none)", false},
}

// Local-only variables.
var (
	endpointParam = parameter{"DynamoDBEndpoint", "", "Local DynamoDB endpoint, e.g. http://host.docker.internal:8000 (empty: AWS)", false}
	adminKeyParam = parameter{"AdminKey", "", "The admin keys themselves (comma-separated), for local runs without Secrets Manager", true}
)

// Generate converts the stack's synthesized template (decoded JSON) into
// template.yaml.
func Generate(cfn map[string]any) ([]byte, error) {
	resources, _ := cfn["Resources"].(map[string]any)
	if resources == nil {
		return nil, fmt.Errorf("samtemplate: the template has no Resources")
	}
	want := map[string]string{} // logical id -> function
	for _, fn := range api.Functions {
		want[LogicalID(fn)] = fn
	}
	for id, r := range resources {
		if typeOf(r) == "AWS::Lambda::Function" && want[id] == "" {
			return nil, fmt.Errorf("samtemplate: function %s is not one of api.Functions (logical ids must be pinned)", id)
		}
	}

	events, err := routeEvents(resources)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	if err := scheduleEvents(resources, events); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	httpAPI, err := httpAPIResource(resources)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}

	params := map[string]parameter{}
	out := map[string]any{HTTPAPILogicalID: httpAPI}
	for _, fn := range api.Functions {
		id := LogicalID(fn)
		r, ok := resources[id].(map[string]any)
		if !ok || typeOf(r) != "AWS::Lambda::Function" {
			return nil, fmt.Errorf("samtemplate: no AWS::Lambda::Function %s in the template", id)
		}
		f, err := function(fn, props(r), params)
		if err != nil {
			return nil, fmt.Errorf("samtemplate: %s: %w", id, err)
		}
		f.Properties.Events = events[id]
		out[id] = f
	}

	table, ok := resources[TableLogicalID].(map[string]any)
	if !ok || typeOf(table) != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("samtemplate: no AWS::DynamoDB::Table %s in the template", TableLogicalID)
	}
	tp := map[string]any{}
	for k, v := range props(table) {
		if k != "Tags" {
			tp[k] = v
		}
	}
	tp["TableName"] = ref(refParams[schema.EnvTable].Name)
	params[refParams[schema.EnvTable].Name] = refParams[schema.EnvTable]
	out[TableLogicalID] = resource{
		Type:                "AWS::DynamoDB::Table",
		DeletionPolicy:      table["DeletionPolicy"],
		UpdateReplacePolicy: table["UpdateReplacePolicy"],
		Properties:          tp,
	}

	doc := document{
		AWSTemplateFormatVersion: "2010-09-09",
		Transform:                "AWS::Serverless-2016-10-31",
		Description:              "OpenClaw tenancy API and functions for local runs (sam local start-api, sam local invoke). Generated from the CDK stack by make template; do not edit.",
		Parameters:               map[string]templateParameter{},
		Resources:                out,
	}
	for _, p := range params {
		doc.Parameters[p.Name] = templateParameter{Type: "String", Default: p.Default, Description: p.Description, NoEcho: p.NoEcho}
	}

	var b bytes.Buffer
	b.WriteString("# Generated by `make template` from the CDK stack (infra/stack) via infra/samtemplate: do not edit.\n")
	b.WriteString("# Local runs of the Lambda functions built by `make build`, for users who have AWS SAM:\n")
	b.WriteString("#   sam local start-api --parameter-overrides AdminKey=dev-admin-key DynamoDBEndpoint=http://host.docker.internal:8000\n")
	b.WriteString("#   sam local invoke -t template.yaml Execute -e events/execute.json \\\n")
	b.WriteString("#     --parameter-overrides DynamoDBEndpoint=http://host.docker.internal:8000\n")
	b.WriteString("# Deploy with the CDK stack (make deploy), not with this template.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	return b.Bytes(), nil
}

// document fixes the order of the top-level keys (maps below are sorted).
type document struct {
	AWSTemplateFormatVersion string                       `yaml:"AWSTemplateFormatVersion"`
	Transform                string                       `yaml:"Transform"`
	Description              string                       `yaml:"Description"`
	Parameters               map[string]templateParameter `yaml:"Parameters"`
	Resources                map[string]any               `yaml:"Resources"`
}

type templateParameter struct {
	Type        string `yaml:"Type"`
	Default     string `yaml:"Default"`
	Description string `yaml:"Description"`
	NoEcho      bool   `yaml:"NoEcho,omitempty"`
}

type resource struct {
	Type                string         `yaml:"Type"`
	DeletionPolicy      any            `yaml:"DeletionPolicy,omitempty"`
	UpdateReplacePolicy any            `yaml:"UpdateReplacePolicy,omitempty"`
	Properties          map[string]any `yaml:"Properties"`
}

type serverlessFunction struct {
	Type       string             `yaml:"Type"`
	Properties functionProperties `yaml:"Properties"`
}

type functionProperties struct {
	Description   any            `yaml:"Description,omitempty"`
	CodeUri       string         `yaml:"CodeUri"`
	Handler       any            `yaml:"Handler"`
	Runtime       any            `yaml:"Runtime"`
	Architectures any            `yaml:"Architectures"`
	MemorySize    any            `yaml:"MemorySize"`
	Timeout       any            `yaml:"Timeout"`
	LoggingConfig map[string]any `yaml:"LoggingConfig,omitempty"`
	Environment   map[string]any `yaml:"Environment"`
	Events        map[string]any `yaml:"Events,omitempty"`
}

func function(fn string, p map[string]any, params map[string]parameter) (serverlessFunction, error) {
	for _, k := range []string{"Handler", "Runtime", "Architectures", "MemorySize", "Timeout"} {
		if p[k] == nil {
			return serverlessFunction{}, fmt.Errorf("no %s", k)
		}
	}
	vars := map[string]any{}
	env, _ := p["Environment"].(map[string]any)
	src, _ := env["Variables"].(map[string]any)
	names := make([]string, 0, len(src))
	for k := range src {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch v := src[k].(type) {
		case string:
			vars[k] = v
		default: // a reference to a stack resource
			param, ok := refParams[k]
			if !ok {
				return serverlessFunction{}, fmt.Errorf("env %s refers to a stack resource and has no template parameter (add it to refParams)", k)
			}
			vars[k] = ref(param.Name)
			params[param.Name] = param
		}
		if k == schema.EnvAdminKeySecret {
			vars[schema.EnvAdminKey] = ref(adminKeyParam.Name)
			params[adminKeyParam.Name] = adminKeyParam
		}
	}
	vars[schema.EnvEndpoint] = ref(endpointParam.Name)
	params[endpointParam.Name] = endpointParam

	var logging map[string]any
	if lc, ok := p["LoggingConfig"].(map[string]any); ok {
		logging = map[string]any{}
		for k, v := range lc {
			if k != "LogGroup" { // the stack's log group; SAM local logs to the terminal
				logging[k] = v
			}
		}
	}
	return serverlessFunction{
		Type: "AWS::Serverless::Function",
		Properties: functionProperties{
			Description:   p["Description"],
			CodeUri:       path.Join(CodeRoot, fn),
			Handler:       p["Handler"],
			Runtime:       p["Runtime"],
			Architectures: p["Architectures"],
			MemorySize:    p["MemorySize"],
			Timeout:       p["Timeout"],
			LoggingConfig: logging,
			Environment:   map[string]any{"Variables": vars},
		},
	}, nil
}

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func typeOf(r any) string {
	m, _ := r.(map[string]any)
	t, _ := m["Type"].(string)
	return t
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// event is a function's event source in template.yaml.
type event struct {
	Type       string         `yaml:"Type"`
	Properties map[string]any `yaml:"Properties"`
}

// synthRoute is a route of the synthesized HTTP API.
type synthRoute struct {
	function string // logical id of the function its integration invokes
	public   bool
}

// synthRoutes reads the synth's routes by route key ("GET /tenants").
func synthRoutes(resources map[string]any) (map[string]synthRoute, error) {
	out := map[string]synthRoute{}
	for id, r := range resources {
		if typeOf(r) != apiGatewayV2Route {
			continue
		}
		p := props(r.(map[string]any))
		key, _ := p["RouteKey"].(string)
		// Target is {"Fn::Join": ["", ["integrations/", {"Ref": <integration>}]]}.
		var integration string
		if join, ok := p["Target"].(map[string]any)["Fn::Join"].([]any); ok && len(join) == 2 {
			parts, _ := join[1].([]any)
			for _, part := range parts {
				if m, ok := part.(map[string]any); ok {
					integration, _ = m["Ref"].(string)
				}
			}
		}
		in, _ := resources[integration].(map[string]any)
		if typeOf(in) != apiGatewayV2Integr {
			return nil, fmt.Errorf("route %s (%s): target %v is no integration", key, id, p["Target"])
		}
		fn := getAttArn(props(in)["IntegrationUri"])
		if fn == "" {
			return nil, fmt.Errorf("route %s: integration %s invokes no function of the stack", key, integration)
		}
		out[key] = synthRoute{function: fn, public: p["AuthorizationType"] == "NONE"}
	}
	return out, nil
}

// getAttArn is X of {"Fn::GetAtt": [X, "Arn"]}, else "".
func getAttArn(v any) string {
	m, _ := v.(map[string]any)
	att, _ := m["Fn::GetAtt"].([]any)
	if len(att) != 2 || att[1] != "Arn" {
		return ""
	}
	id, _ := att[0].(string)
	return id
}

// routeEvents is one HttpApi event per route of api.Routes, by function
// logical id, after checking that the synth has exactly these routes.
func routeEvents(resources map[string]any) (map[string]map[string]any, error) {
	synth, err := synthRoutes(resources)
	if err != nil {
		return nil, err
	}
	if len(synth) != len(api.Routes) {
		return nil, fmt.Errorf("the stack has %d routes, api.Routes %d", len(synth), len(api.Routes))
	}
	events := map[string]map[string]any{}
	for _, r := range api.Routes {
		key := r.Method + " " + r.Path
		s, ok := synth[key]
		if !ok {
			return nil, fmt.Errorf("route %s of api.Routes is not in the stack", key)
		}
		fn := LogicalID(r.Function)
		if s.function != fn || s.public != (r.Access == api.Public) {
			return nil, fmt.Errorf("route %s: the stack sends it to %s (public %v), api.Routes to %s (public %v)", key, s.function, s.public, fn, r.Access == api.Public)
		}
		name := EventName(r.Method, r.Path)
		if events[fn] == nil {
			events[fn] = map[string]any{}
		}
		if events[fn][name] != nil {
			return nil, fmt.Errorf("two routes of %s are named event %s", fn, name)
		}
		p := map[string]any{"ApiId": ref(HTTPAPILogicalID), "Method": r.Method, "Path": r.Path, "PayloadFormatVersion": "2.0"}
		if s.public {
			p["Auth"] = map[string]any{"Authorizer": "NONE"}
		}
		events[fn][name] = event{Type: "HttpApi", Properties: p}
	}
	return events, nil
}

// EventName names a route's event: "GET /tenants/{tenant_id}" ->
// "GetTenantsTenantId" (letters and digits only, as SAM requires).
func EventName(method, path string) string {
	var b strings.Builder
	upper := true
	for _, c := range strings.ToLower(method) + "/" + path {
		switch {
		case c >= 'a' && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
			b.WriteRune(c)
			upper = false
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			b.WriteRune(c)
			upper = false
		default:
			upper = true
		}
	}
	return b.String()
}

// cdkSuffix is the hash CDK appends to a logical id.
var cdkSuffix = regexp.MustCompile(`[0-9A-F]{8}$`)

// scheduleEvents adds a Schedule event for every scheduled rule's target
// function, named after the rule.
func scheduleEvents(resources map[string]any, events map[string]map[string]any) error {
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := resources[id]
		if typeOf(r) != eventsRule {
			continue
		}
		p := props(r.(map[string]any))
		expr, _ := p["ScheduleExpression"].(string)
		if expr == "" {
			continue // an event pattern, not a schedule
		}
		targets, _ := p["Targets"].([]any)
		for _, t := range targets {
			fn := getAttArn(t.(map[string]any)["Arn"])
			if typeOf(resources[fn]) != "AWS::Lambda::Function" {
				continue
			}
			name := cdkSuffix.ReplaceAllString(id, "")
			if events[fn] == nil {
				events[fn] = map[string]any{}
			}
			if events[fn][name] != nil {
				return fmt.Errorf("two events of %s are named %s", fn, name)
			}
			sp := map[string]any{"Schedule": expr, "Enabled": p["State"] != "DISABLED"}
			if d, ok := p["Description"].(string); ok {
				sp["Description"] = d
			}
			events[fn][name] = event{Type: "Schedule", Properties: sp}
		}
	}
	return nil
}

// httpAPIResource is the AWS::Serverless::HttpApi with the stack's Lambda
// authorizer as the default (public routes opt out).
func httpAPIResource(resources map[string]any) (resource, error) {
	var authz map[string]any
	for id, r := range resources {
		if typeOf(r) != apiGatewayV2Authzr {
			continue
		}
		if authz != nil {
			return resource{}, fmt.Errorf("more than one authorizer (%s)", id)
		}
		authz = props(r.(map[string]any))
	}
	if authz == nil {
		return resource{}, fmt.Errorf("no %s in the template", apiGatewayV2Authzr)
	}
	if authz["AuthorizerType"] != "REQUEST" || authz["EnableSimpleResponses"] != true || authz["AuthorizerPayloadFormatVersion"] != "2.0" {
		return resource{}, fmt.Errorf("the authorizer is not a REQUEST authorizer with simple responses and payload 2.0: %v", authz)
	}
	if !strings.Contains(fmt.Sprint(authz["AuthorizerUri"]), "[Authorizer Arn]") {
		return resource{}, fmt.Errorf("the authorizer does not invoke the Authorizer function: %v", authz["AuthorizerUri"])
	}
	sources, _ := authz["IdentitySource"].([]any)
	var headers []any
	for _, s := range sources {
		h, ok := strings.CutPrefix(fmt.Sprint(s), "$request.header.")
		if !ok {
			return resource{}, fmt.Errorf("identity source %v is not a header", s)
		}
		headers = append(headers, h)
	}
	if len(headers) == 0 {
		return resource{}, fmt.Errorf("the authorizer has no identity source")
	}
	identity := map[string]any{"Headers": headers}
	if ttl, ok := authz["AuthorizerResultTtlInSeconds"]; ok {
		identity["ReauthorizeEvery"] = ttl
	}
	return resource{
		Type: "AWS::Serverless::HttpApi",
		Properties: map[string]any{
			"Auth": map[string]any{
				"DefaultAuthorizer": AuthorizerName,
				"Authorizers": map[string]any{AuthorizerName: map[string]any{
					"FunctionArn":                      map[string]any{"Fn::GetAtt": []any{LogicalID(api.FnAuthorizer), "Arn"}},
					"AuthorizerPayloadFormatVersion":   "2.0",
					"EnableSimpleResponses":            true,
					"EnableFunctionDefaultPermissions": true,
					"Identity":                         identity,
				}},
			},
		},
	}, nil
}
