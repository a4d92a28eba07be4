package stack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/openclaw/tenancy/infra/samtemplate"
	"github.com/openclaw/tenancy/infra/stack"
	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/schema"
)

// One app with two stages, synthesized once for the whole test binary
// (jsii starts one node process; each synth costs seconds).
var (
	dev, prod         assertions.Template // the assertion API
	devCFN, prodCFN   map[string]any      // the same templates as Go values
	prodCorsOrigins   = []string{"https://app.example.com", "https://admin.example.com"}
	prodThrottle      = [2]float64{20, 40} // rate, burst
	prodAlarmEmail    = "ops@example.com"
	devStack, prodStk *stack.TenancyStack
	assetDir          string // dummy bootstraps
)

func TestMain(m *testing.M) {
	code := func() int {
		defer jsii.Close()
		dir, err := os.MkdirTemp("", "tenancy-assets-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		assetDir = dir
		// Dummy bootstraps: the tests need no `make build`.
		for _, fn := range api.Functions {
			if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err == nil {
				err = os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("dummy "+fn), 0o755)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		outdir, err := os.MkdirTemp("", "tenancy-cdkout-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(outdir)

		// Like infra/main.go: no analytics, env-agnostic.
		app := awscdk.NewApp(&awscdk.AppProps{AnalyticsReporting: jsii.Bool(false), Outdir: jsii.String(outdir)})
		devStack = stack.NewTenancyStack(app, stack.StackName("dev"), &stack.TenancyStackProps{Stage: "dev", AssetDir: dir})
		prodStk = stack.NewTenancyStack(app, stack.StackName("prod"), &stack.TenancyStackProps{
			Stage: "prod", AssetDir: dir, CorsOrigins: prodCorsOrigins,
			ThrottleRate: prodThrottle[0], ThrottleBurst: prodThrottle[1],
			NoTracing: true, AlarmEmail: prodAlarmEmail,
		})
		dev = assertions.Template_FromStack(devStack.Stack, nil)
		prod = assertions.Template_FromStack(prodStk.Stack, nil)
		devCFN, prodCFN = toGo(dev), toGo(prod)
		return m.Run()
	}()
	os.Exit(code)
}

// toGo round-trips the template through JSON so it holds plain Go values.
func toGo(t assertions.Template) map[string]any {
	b, err := json.Marshal(t.ToJSON())
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

// check runs a CDK assertion; a failed one panics, which becomes a test error.
func check(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

type res = map[string]any

func resources(cfn map[string]any) map[string]res {
	out := map[string]res{}
	for id, r := range cfn["Resources"].(map[string]any) {
		out[id] = r.(map[string]any)
	}
	return out
}

func ofType(cfn map[string]any, typ string) map[string]res {
	out := map[string]res{}
	for id, r := range resources(cfn) {
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func props(r res) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

func ref(id string) map[string]any          { return map[string]any{"Ref": id} }
func getAtt(id, attr string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }
func jsonOf(v any) string                   { b, _ := json.Marshal(v); return string(b) }
func mentions(v any, logicalID string) bool { return strings.Contains(jsonOf(v), `"`+logicalID+`"`) }
func onlyOfType(cfn map[string]any, typ string) (string, res) {
	for id, r := range ofType(cfn, typ) {
		return id, r
	}
	return "", nil
}

func fnID(fn string) string { return samtemplate.LogicalID(fn) }

func TestResourceCounts(t *testing.T) {
	check(t, "six functions", func() { dev.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(6)) })
	want := map[string]int{
		"AWS::Lambda::Function":                 len(api.Functions),  // no CDK helper functions (log retention, custom resources)
		"AWS::Lambda::EventInvokeConfig":        1,                   // reset's async retries
		"AWS::Lambda::Permission":               len(api.Routes) + 5, // one per route, the authorizer, the schedule, the admin key rotation, two for the function URL
		"AWS::Lambda::Url":                      1,                   // execute's, RESPONSE_STREAM
		"AWS::IAM::Role":                        len(api.Functions),
		"AWS::IAM::Policy":                      len(api.Functions),
		"AWS::Logs::LogGroup":                   len(api.Functions) + 1, // and the API's access logs
		"AWS::SNS::Topic":                       1,                      // alarms
		"AWS::SNS::TopicPolicy":                 1,                      // TLS only
		"AWS::DynamoDB::Table":                  1,
		"AWS::SecretsManager::Secret":           2,
		"AWS::SecretsManager::RotationSchedule": 1, // the admin keys
		"AWS::ApiGatewayV2::Api":                1,
		"AWS::ApiGatewayV2::Stage":              1,
		"AWS::ApiGatewayV2::Authorizer":         1,
		"AWS::ApiGatewayV2::Route":              len(api.Routes),
		"AWS::ApiGatewayV2::Integration":        4, // tenants, agents, execute, reports
		"AWS::Events::Rule":                     1,
		"AWS::SQS::Queue":                       1,
		"AWS::SQS::QueuePolicy":                 1,
		"AWS::CloudWatch::Alarm":                2*len(api.Functions) + 2,
	}
	for name, cfn := range map[string]map[string]any{"dev": devCFN, "prod": prodCFN} {
		got := map[string]int{}
		for _, r := range resources(cfn) {
			got[r["Type"].(string)]++
		}
		want := maps.Clone(want) // map order: prod's subscription must not leak into dev
		if name == "prod" {      // alarmEmail
			want["AWS::SNS::Subscription"] = 1
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: resource counts\n got %v\nwant %v", name, got, want)
		}
	}
}

func TestTable(t *testing.T) {
	check(t, "table", func() {
		dev.HasResource(jsii.String("AWS::DynamoDB::Table"), &map[string]any{
			"DeletionPolicy":      "Retain",
			"UpdateReplacePolicy": "Retain",
			"Properties": map[string]any{
				"BillingMode": "PAY_PER_REQUEST",
				"KeySchema": []any{
					map[string]any{"AttributeName": schema.PartitionKey, "KeyType": "HASH"},
					map[string]any{"AttributeName": schema.SortKey, "KeyType": "RANGE"},
				},
				"AttributeDefinitions": assertions.Match_ArrayEquals(&[]any{
					map[string]any{"AttributeName": schema.PartitionKey, "AttributeType": "S"},
					map[string]any{"AttributeName": schema.SortKey, "AttributeType": "S"},
				}),
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"TimeToLiveSpecification":          map[string]any{"AttributeName": schema.TTLAttribute, "Enabled": true},
				"GlobalSecondaryIndexes":           assertions.Match_Absent(),
				"LocalSecondaryIndexes":            assertions.Match_Absent(),
				"ProvisionedThroughput":            assertions.Match_Absent(),
			},
		})
	})
	if _, ok := resources(devCFN)[samtemplate.TableLogicalID]; !ok {
		t.Errorf("the table's logical id is not %s", samtemplate.TableLogicalID)
	}
}

func TestFunctions(t *testing.T) {
	fns := ofType(devCFN, "AWS::Lambda::Function")
	logGroups := ofType(devCFN, "AWS::Logs::LogGroup")
	for _, fn := range api.Functions {
		t.Run(fn, func(t *testing.T) {
			r, ok := fns[fnID(fn)]
			if !ok {
				t.Fatalf("no function %s", fnID(fn))
			}
			p := props(r)
			spec := stack.Functions[fn]
			for k, want := range map[string]any{
				"Runtime": "provided.al2023", "Handler": "bootstrap", "Architectures": []any{"arm64"},
				"MemorySize": spec.MemoryMB, "Timeout": spec.TimeoutSeconds,
			} {
				if !reflect.DeepEqual(p[k], want) {
					t.Errorf("%s = %v, want %v", k, p[k], want)
				}
			}
			if !strings.Contains(jsonOf(p["Code"]), ".zip") {
				t.Errorf("code is not an asset: %v", p["Code"])
			}
			if p["FunctionName"] != nil {
				t.Errorf("FunctionName %v: leave it to CloudFormation so stages coexist", p["FunctionName"])
			}
			lc, _ := p["LoggingConfig"].(map[string]any)
			if lc["LogFormat"] != "JSON" {
				t.Errorf("LogFormat = %v, want JSON", lc["LogFormat"])
			}
			lg, _ := lc["LogGroup"].(map[string]any)
			lgID, _ := lg["Ref"].(string)
			if g, ok := logGroups[lgID]; !ok || props(g)["RetentionInDays"] != float64(30) {
				t.Errorf("log group %v: want a log group of the stack with 30 days retention", lc["LogGroup"])
			}

			env := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			want := map[string]any{schema.EnvTable: ref(samtemplate.TableLogicalID)}
			switch fn {
			case api.FnAuthorizer:
				want[schema.EnvAdminKeySecret] = env[schema.EnvAdminKeySecret]
				if !mentions(env[schema.EnvAdminKeySecret], secretID(t, "AdminKey")) {
					t.Errorf("%s does not name the admin key secret: %v", schema.EnvAdminKeySecret, env[schema.EnvAdminKeySecret])
				}
			case api.FnExecute:
				want[schema.EnvAdminKeySecret] = env[schema.EnvAdminKeySecret]
				if !mentions(env[schema.EnvAdminKeySecret], secretID(t, "AdminKey")) {
					t.Errorf("%s does not name the admin key secret: %v", schema.EnvAdminKeySecret, env[schema.EnvAdminKeySecret])
				}
				want[schema.EnvProviderSecret] = env[schema.EnvProviderSecret]
				want[stack.EnvClaudeProvider] = "bedrock"
				if !mentions(env[schema.EnvProviderSecret], secretID(t, "ProviderKeys")) {
					t.Errorf("%s does not name the provider keys secret: %v", schema.EnvProviderSecret, env[schema.EnvProviderSecret])
				}
			}
			if slices.Contains(stack.SettlingFunctions, fn) {
				want[schema.EnvAlertBus] = "default"
			}
			if !reflect.DeepEqual(env, want) {
				t.Errorf("env\n got %s\nwant %s", jsonOf(env), jsonOf(want))
			}
		})
	}
	// execute's timeout is the API's 30 s integration maximum, above the
	// provider timeout (25 s).
	if ex := stack.Functions[api.FnExecute].TimeoutSeconds; ex != 30 || ex <= 25 {
		t.Errorf("execute timeout %v", ex)
	}
	for _, fn := range api.Functions {
		if fn != api.FnReset && stack.Functions[fn].TimeoutSeconds > 30 {
			t.Errorf("%s: timeout above the HTTP API's 30 s", fn)
		}
	}
	if stack.Functions[api.FnReset].TimeoutSeconds < 60 {
		t.Errorf("reset timeout too short")
	}
}

// secretID is the logical id of the secret whose id starts with prefix.
func secretID(t *testing.T, prefix string) string {
	t.Helper()
	for id := range ofType(devCFN, "AWS::SecretsManager::Secret") {
		if strings.HasPrefix(id, prefix) {
			return id
		}
	}
	t.Fatalf("no secret %s*", prefix)
	return ""
}

func TestSecrets(t *testing.T) {
	admin := props(resources(devCFN)[secretID(t, "AdminKey")])
	gen, _ := admin["GenerateSecretString"].(map[string]any)
	if gen["ExcludePunctuation"] != true || gen["PasswordLength"] == nil || gen["PasswordLength"].(float64) < 40 ||
		gen["SecretStringTemplate"] != nil || gen["GenerateStringKey"] != nil || admin["SecretString"] != nil {
		t.Errorf("admin key secret: want a generated plain string, >= 40 chars, no punctuation: %s", jsonOf(admin))
	}
	prov := props(resources(devCFN)[secretID(t, "ProviderKeys")])
	s, _ := prov["SecretString"].(string)
	var keys map[string]string
	if err := json.Unmarshal([]byte(s), &keys); err != nil {
		t.Fatalf("provider keys secret: %v (%q)", err, s)
	}
	var names []string
	for k, v := range keys {
		names = append(names, k)
		if v != "" {
			t.Errorf("provider key %s has a value in the template", k)
		}
	}
	sort.Strings(names)
	if !slices.Equal(names, stack.ProviderSecretKeys) || !slices.Contains(names, "OPENAI_API_KEY") {
		t.Errorf("provider keys %v, want %v", names, stack.ProviderSecretKeys)
	}
	for id, r := range ofType(devCFN, "AWS::SecretsManager::Secret") {
		if props(r)["Name"] != nil {
			t.Errorf("secret %s has a fixed name", id)
		}
	}
}

func TestRoutes(t *testing.T) {
	authID, auth := onlyOfType(devCFN, "AWS::ApiGatewayV2::Authorizer")
	ap := props(auth)
	for k, want := range map[string]any{
		"AuthorizerType": "REQUEST", "EnableSimpleResponses": true, "AuthorizerPayloadFormatVersion": "2.0",
		"IdentitySource": []any{"$request.header.Authorization"}, "AuthorizerResultTtlInSeconds": float64(300),
	} {
		if !reflect.DeepEqual(ap[k], want) {
			t.Errorf("authorizer %s = %v, want %v", k, ap[k], want)
		}
	}
	if !mentions(ap["AuthorizerUri"], fnID(api.FnAuthorizer)) {
		t.Errorf("authorizer invokes %v", ap["AuthorizerUri"])
	}

	integrations := ofType(devCFN, "AWS::ApiGatewayV2::Integration")
	routes := map[string]map[string]any{}
	for _, r := range ofType(devCFN, "AWS::ApiGatewayV2::Route") {
		p := props(r)
		routes[p["RouteKey"].(string)] = p
	}
	if len(routes) != len(api.Routes) {
		t.Errorf("%d routes, want %d (api.Routes)", len(routes), len(api.Routes))
	}
	for _, r := range api.Routes {
		key := r.Method + " " + r.Path
		p, ok := routes[key]
		if !ok {
			t.Errorf("no route %s", key)
			continue
		}
		if r.Access == api.Public {
			if p["AuthorizationType"] != "NONE" || p["AuthorizerId"] != nil {
				t.Errorf("%s: public route has authorization %v %v", key, p["AuthorizationType"], p["AuthorizerId"])
			}
		} else if p["AuthorizationType"] != "CUSTOM" || !reflect.DeepEqual(p["AuthorizerId"], ref(authID)) {
			t.Errorf("%s: authorization %v %v, want CUSTOM with the Lambda authorizer", key, p["AuthorizationType"], p["AuthorizerId"])
		}
		// Target is integrations/<integration>; the integration invokes r.Function.
		target := jsonOf(p["Target"])
		found := false
		for id, in := range integrations {
			if strings.Contains(target, `"`+id+`"`) {
				found = true
				ip := props(in)
				if !reflect.DeepEqual(ip["IntegrationUri"], getAtt(fnID(r.Function), "Arn")) || ip["PayloadFormatVersion"] != "2.0" {
					t.Errorf("%s: integration %s invokes %v (format %v), want %s", key, id, ip["IntegrationUri"], ip["PayloadFormatVersion"], fnID(r.Function))
				}
			}
		}
		if !found {
			t.Errorf("%s: target %s is no integration", key, target)
		}
	}
	public := []string{"GET /openapi.json", "GET /console", "GET /console/app.js", "GET /console/app.css"}
	for _, key := range public {
		check(t, key+" is public", func() {
			dev.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), &map[string]any{
				"RouteKey": key, "AuthorizationType": "NONE",
			})
		})
	}
	check(t, "exactly these public routes (the OpenAPI document and the console's files)", func() {
		dev.ResourcePropertiesCountIs(jsii.String("AWS::ApiGatewayV2::Route"),
			&map[string]any{"AuthorizationType": "NONE"}, jsii.Number(float64(len(public))))
	})
}

func TestStageThrottlingAndCORS(t *testing.T) {
	for _, c := range []struct {
		name        string
		cfn         map[string]any
		rate, burst float64
		origins     []string
	}{
		{"dev", devCFN, stack.DefaultThrottleRate, stack.DefaultThrottleBurst, nil},
		{"prod", prodCFN, prodThrottle[0], prodThrottle[1], prodCorsOrigins},
	} {
		_, st := onlyOfType(c.cfn, "AWS::ApiGatewayV2::Stage")
		sp := props(st)
		want := map[string]any{"ThrottlingRateLimit": c.rate, "ThrottlingBurstLimit": c.burst}
		if sp["StageName"] != "$default" || sp["AutoDeploy"] != true || !reflect.DeepEqual(sp["DefaultRouteSettings"], want) {
			t.Errorf("%s: stage %s", c.name, jsonOf(sp))
		}
		_, a := onlyOfType(c.cfn, "AWS::ApiGatewayV2::Api")
		apiProps := props(a)
		if apiProps["Name"] != "tenancy-"+c.name {
			t.Errorf("%s: API name %v", c.name, apiProps["Name"])
		}
		cors, _ := apiProps["CorsConfiguration"].(map[string]any)
		if c.origins == nil {
			if cors != nil {
				t.Errorf("%s: CORS without origins: %v", c.name, cors)
			}
			continue
		}
		if !reflect.DeepEqual(cors["AllowOrigins"], toAny(c.origins)) {
			t.Errorf("%s: CORS origins %v", c.name, cors["AllowOrigins"])
		}
		for _, h := range []string{"authorization", "content-type", strings.ToLower(api.IdempotencyHeader)} {
			if !slices.Contains(cors["AllowHeaders"].([]any), any(h)) {
				t.Errorf("%s: CORS does not allow header %s", c.name, h)
			}
		}
		for _, r := range api.Routes {
			if !slices.Contains(cors["AllowMethods"].([]any), any(r.Method)) {
				t.Errorf("%s: CORS does not allow %s", c.name, r.Method)
			}
		}
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestSchedule(t *testing.T) {
	queueID, _ := onlyOfType(devCFN, "AWS::SQS::Queue")
	check(t, "hourly reset rule", func() {
		dev.HasResourceProperties(jsii.String("AWS::Events::Rule"), &map[string]any{
			"ScheduleExpression": "cron(0 * * * ? *)",
			"State":              "ENABLED",
			"Targets": assertions.Match_ArrayEquals(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Arn":              getAtt(fnID(api.FnReset), "Arn"),
				"RetryPolicy":      map[string]any{"MaximumRetryAttempts": assertions.Match_AnyValue(), "MaximumEventAgeInSeconds": assertions.Match_AnyValue()},
				"DeadLetterConfig": map[string]any{"Arn": getAtt(queueID, "Arn")},
			})}),
		})
	})
	_, rule := onlyOfType(devCFN, "AWS::Events::Rule")
	rp := props(rule)["Targets"].([]any)[0].(map[string]any)["RetryPolicy"].(map[string]any)
	if n := rp["MaximumRetryAttempts"].(float64); n < 1 {
		t.Errorf("no retries: %v", rp)
	}
	ruleID, _ := onlyOfType(devCFN, "AWS::Events::Rule")
	check(t, "events may invoke reset", func() {
		dev.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), &map[string]any{
			"Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
			"FunctionName": getAtt(fnID(api.FnReset), "Arn"), "SourceArn": getAtt(ruleID, "Arn"),
		})
	})
	check(t, "failed runs of reset are retried, then go to the dead-letter queue", func() {
		dev.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), &map[string]any{
			"FunctionName":         ref(fnID(api.FnReset)),
			"MaximumRetryAttempts": 2,
			"DestinationConfig":    assertions.Match_Absent(),
		})
		dev.HasResourceProperties(jsii.String("AWS::Lambda::Function"), &map[string]any{
			"Description":      "tenancy reset",
			"DeadLetterConfig": map[string]any{"TargetArn": getAtt(queueID, "Arn")},
		})
	})
	check(t, "only the rule may send to the queue, over TLS only", func() {
		dev.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), &map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayEquals(&[]any{
				tlsOnly(getAtt(queueID, "Arn"), "sqs:*"),
				map[string]any{
					"Action": "sqs:SendMessage", "Effect": "Allow",
					"Principal": map[string]any{"Service": "events.amazonaws.com"},
					"Resource":  getAtt(queueID, "Arn"),
					"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": getAtt(ruleID, "Arn")}},
					"Sid":       assertions.Match_AnyValue(),
				},
			}), "Version": "2012-10-17"},
		})
	})
	for _, fn := range api.Functions {
		if dlc := props(resources(devCFN)[fnID(fn)])["DeadLetterConfig"]; (dlc != nil) != (fn == api.FnReset) {
			t.Errorf("%s: DeadLetterConfig %v", fn, dlc)
		}
	}
	// No other function is invoked by events or Secrets Manager (which
	// rotates the admin keys with reset).
	for id, r := range ofType(devCFN, "AWS::Lambda::Permission") {
		p := props(r)
		if p["Principal"] == "*" {
			// execute's function URL (auth type NONE: the function checks
			// the bearer keys): InvokeFunctionUrl, and InvokeFunction only
			// through the URL.
			urlOnly := p["FunctionUrlAuthType"] == "NONE" && p["Action"] == "lambda:InvokeFunctionUrl" ||
				p["InvokedViaFunctionUrl"] == true && p["Action"] == "lambda:InvokeFunction"
			if !urlOnly || !mentions(p["FunctionName"], fnID(api.FnExecute)) {
				t.Errorf("permission %s lets anyone invoke %v: %s", id, p["FunctionName"], jsonOf(p))
			}
			continue
		}
		if (p["Principal"] == "events.amazonaws.com" || p["Principal"] == "secretsmanager.amazonaws.com") && !mentions(p["FunctionName"], fnID(api.FnReset)) {
			t.Errorf("permission %s lets %v invoke %v", id, p["Principal"], p["FunctionName"])
		}
		if p["Principal"] == "secretsmanager.amazonaws.com" && !reflect.DeepEqual(p["SourceArn"], ref(secretID(t, "AdminKey"))) {
			t.Errorf("permission %s lets Secrets Manager invoke reset for %v", id, p["SourceArn"])
		}
		if p["Principal"] != "events.amazonaws.com" && p["Principal"] != "apigateway.amazonaws.com" && p["Principal"] != "secretsmanager.amazonaws.com" {
			t.Errorf("permission %s for %v", id, p["Principal"])
		}
		if p["SourceArn"] == nil {
			t.Errorf("permission %s has no SourceArn", id)
		}
	}
}

// statement is one IAM statement, normalized.
type statement struct {
	Effect    string
	Actions   []string
	Resources []any
}

func normalize(s map[string]any) statement {
	var st statement
	st.Effect, _ = s["Effect"].(string)
	switch a := s["Action"].(type) {
	case string:
		st.Actions = []string{a}
	case []any:
		for _, x := range a {
			st.Actions = append(st.Actions, x.(string))
		}
	}
	switch r := s["Resource"].(type) {
	case []any:
		st.Resources = r
	case nil:
	default:
		st.Resources = []any{r}
	}
	return st
}

// allStatements is every statement of every policy in the template.
func allStatements(cfn map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if sts, ok := x["Statement"].([]any); ok {
				for _, s := range sts {
					out = append(out, s.(map[string]any))
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(cfn["Resources"])
	return out
}

// tlsOnly is the statement enforceSSL adds to a queue or topic policy.
func tlsOnly(resource any, action string) map[string]any {
	return map[string]any{
		"Action": action, "Effect": "Deny", "Principal": map[string]any{"AWS": "*"}, "Resource": resource,
		"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
	}
}

// xrayStatement is what active tracing adds to a function's role: X-Ray has
// no resource-level permissions.
var xrayStatement = statement{"Allow", []string{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}, []any{"*"}}

// No wildcard in what is allowed. Denies (enforceSSL: deny everyone
// everything without TLS) are checked to be exactly that; X-Ray's two
// actions are the only Resource "*" (they have no resource-level
// permissions).
func TestNoWildcards(t *testing.T) {
	for name, cfn := range map[string]map[string]any{"dev": devCFN, "prod": prodCFN} {
		sts := allStatements(cfn)
		if len(sts) < 10 {
			t.Fatalf("%s: only %d statements found", name, len(sts))
		}
		denies := 0
		for _, s := range sts {
			st := normalize(s)
			if st.Effect == "Deny" {
				denies++
				everyone := s["Principal"] == "*" || reflect.DeepEqual(s["Principal"], map[string]any{"AWS": "*"})
				if !reflect.DeepEqual(s["Condition"], tlsOnly(nil, "")["Condition"]) || !everyone {
					t.Errorf("%s: a Deny other than TLS-only: %s", name, jsonOf(s))
				}
				continue
			}
			if sameStatements([]statement{st}, []statement{xrayStatement}) {
				continue
			}
			if s["NotAction"] != nil || s["NotResource"] != nil {
				t.Errorf("%s: NotAction/NotResource in %s", name, jsonOf(s))
			}
			for _, a := range st.Actions {
				if a == "*" || strings.HasSuffix(a, ":*") || a == "dynamodb:*" {
					t.Errorf("%s: wildcard action %q in %s", name, a, jsonOf(s))
				}
			}
			for _, r := range st.Resources {
				if r == "*" || jsonOf(r) == `{"Fn::Sub":"*"}` {
					t.Errorf("%s: Resource \"*\" in %s", name, jsonOf(s))
				}
			}
			if p, ok := s["Principal"]; ok && (p == "*" || jsonOf(p) == `{"AWS":"*"}`) {
				t.Errorf("%s: Principal \"*\" in %s", name, jsonOf(s))
			}
		}
		if denies != 2 { // the queue and the topic
			t.Errorf("%s: %d TLS-only denies, want 2", name, denies)
		}
	}
}

func TestIAMPerFunction(t *testing.T) {
	fns := ofType(devCFN, "AWS::Lambda::Function")
	roles := ofType(devCFN, "AWS::IAM::Role")
	policies := ofType(devCFN, "AWS::IAM::Policy")
	queueID, _ := onlyOfType(devCFN, "AWS::SQS::Queue")
	adminID, providerID := secretID(t, "AdminKey"), secretID(t, "ProviderKeys")

	for id, r := range roles {
		p := props(r)
		if p["ManagedPolicyArns"] != nil || p["Policies"] != nil || p["RoleName"] != nil {
			t.Errorf("role %s: managed or inline policies or a fixed name: %s", id, jsonOf(p))
		}
		want := map[string]any{"Statement": []any{map[string]any{
			"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"},
		}}, "Version": "2012-10-17"}
		if !reflect.DeepEqual(p["AssumeRolePolicyDocument"], want) {
			t.Errorf("role %s trust policy %s", id, jsonOf(p["AssumeRolePolicyDocument"]))
		}
	}

	bedrockSeen := 0
	for _, fn := range api.Functions {
		t.Run(fn, func(t *testing.T) {
			roleRef := props(fns[fnID(fn)])["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
			var sts []statement
			for pid, pol := range policies {
				pp := props(pol)
				if !reflect.DeepEqual(pp["Roles"], []any{ref(roleRef)}) {
					if mentions(pp["Roles"], roleRef) {
						t.Errorf("policy %s is shared: %v", pid, pp["Roles"])
					}
					continue
				}
				for _, s := range pp["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					sts = append(sts, normalize(s.(map[string]any)))
				}
			}
			logGroup := props(fns[fnID(fn)])["LoggingConfig"].(map[string]any)["LogGroup"].(map[string]any)["Ref"].(string)
			want := []statement{
				{"Allow", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []any{getAtt(logGroup, "Arn")}},
				{"Allow", schema.FunctionActions[fn], []any{getAtt(samtemplate.TableLogicalID, "Arn")}},
			}
			secretRead := []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
			switch fn {
			case api.FnAuthorizer:
				want = append(want, statement{"Allow", secretRead, []any{ref(adminID)}})
			case api.FnExecute:
				want = append(want, statement{"Allow", secretRead, []any{ref(adminID)}}, statement{"Allow", secretRead, []any{ref(providerID)}},
					statement{"Allow", []string{"secretsmanager:GetSecretValue"}, []any{map[string]any{"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:tenancy-dev/tenant-gateway/*"}}})
			case api.FnReset:
				want = append(want, statement{"Allow", []string{"sqs:SendMessage"}, []any{getAtt(queueID, "Arn")}},
					statement{"Allow", []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}, []any{ref(adminID)}})
			}
			if slices.Contains(stack.SettlingFunctions, fn) { // budget alerts, on the default bus only
				want = append(want, statement{"Allow", []string{"events:PutEvents"}, []any{map[string]any{
					"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"}}})
			}
			want = append(want, xrayStatement) // dev traces
			var bedrock []statement
			var rest []statement
			for _, s := range sts {
				if strings.HasPrefix(s.Actions[0], "bedrock:") {
					bedrock = append(bedrock, s)
				} else {
					rest = append(rest, s)
				}
			}
			if !sameStatements(rest, want) {
				t.Errorf("statements\n got %s\nwant %s", jsonOf(rest), jsonOf(want))
			}
			if fn != api.FnExecute {
				if len(bedrock) > 0 {
					t.Errorf("%s may call Bedrock: %s", fn, jsonOf(bedrock))
				}
				return
			}
			bedrockSeen++
			if len(bedrock) != 1 || !slices.Equal(bedrock[0].Actions, []string{"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}) || len(bedrock[0].Resources) != 2 {
				t.Fatalf("execute's Bedrock statements: %s", jsonOf(bedrock))
			}
			res := jsonOf(bedrock[0].Resources)
			for _, part := range []string{":foundation-model/anthropic.*", ":inference-profile/" + stack.BedrockProfilePrefix + ".anthropic.*", "${AWS::AccountId}"} {
				if !strings.Contains(res, part) {
					t.Errorf("Bedrock resources %s lack %q", res, part)
				}
			}
		})
	}
	if bedrockSeen != 1 {
		t.Errorf("execute's Bedrock grant not checked")
	}
}

func sameStatements(got, want []statement) bool {
	key := func(s statement) string {
		a := slices.Clone(s.Actions)
		sort.Strings(a)
		return s.Effect + jsonOf(a) + jsonOf(s.Resources)
	}
	var g, w []string
	for _, s := range got {
		g = append(g, key(s))
	}
	for _, s := range want {
		w = append(w, key(s))
	}
	sort.Strings(g)
	sort.Strings(w)
	return slices.Equal(g, w)
}

func TestAlarms(t *testing.T) {
	alarms := ofType(devCFN, "AWS::CloudWatch::Alarm")
	find := func(pred func(p map[string]any) bool) []map[string]any {
		var out []map[string]any
		for _, a := range alarms {
			if p := props(a); pred(p) {
				out = append(out, p)
			}
		}
		return out
	}
	for _, fn := range api.Functions {
		for _, metric := range []string{"Errors", "Throttles"} {
			got := find(func(p map[string]any) bool {
				return p["Namespace"] == "AWS/Lambda" && p["MetricName"] == metric &&
					reflect.DeepEqual(p["Dimensions"], []any{map[string]any{"Name": "FunctionName", "Value": ref(fnID(fn))}})
			})
			if len(got) != 1 || got[0]["Threshold"] != float64(1) || got[0]["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" {
				t.Errorf("%s %s alarm: %s", fn, metric, jsonOf(got))
			}
		}
	}
	ddb := find(func(p map[string]any) bool { return strings.Contains(jsonOf(p["Metrics"]), `"ThrottledRequests"`) })
	if len(ddb) != 1 || !mentions(ddb[0]["Metrics"], samtemplate.TableLogicalID) {
		t.Fatalf("DynamoDB throttling alarm: %s", jsonOf(ddb))
	}
	for _, op := range []string{"GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "TransactWriteItems"} {
		if !strings.Contains(jsonOf(ddb[0]["Metrics"]), `"`+op+`"`) {
			t.Errorf("DynamoDB throttling alarm misses operation %s", op)
		}
	}
	queueID, _ := onlyOfType(devCFN, "AWS::SQS::Queue")
	dlq := find(func(p map[string]any) bool {
		return p["Namespace"] == "AWS/SQS" && p["MetricName"] == "ApproximateNumberOfMessagesVisible"
	})
	if len(dlq) != 1 || dlq[0]["Threshold"] != float64(0) || dlq[0]["ComparisonOperator"] != "GreaterThanThreshold" ||
		!mentions(dlq[0]["Dimensions"], queueID) {
		t.Errorf("dead-letter queue alarm: %s", jsonOf(dlq))
	}
	for id, a := range alarms {
		if props(a)["AlarmName"] != nil {
			t.Errorf("alarm %s has a fixed name", id)
		}
	}
}

func TestOutputs(t *testing.T) {
	outs := devCFN["Outputs"].(map[string]any)
	val := func(k string) any {
		o, _ := outs[k].(map[string]any)
		return o["Value"]
	}
	if v := jsonOf(val(stack.OutputAPIURL)); !strings.Contains(v, "https://") || !strings.Contains(v, ".execute-api.") {
		t.Errorf("ApiUrl = %s", v)
	}
	if !reflect.DeepEqual(val(stack.OutputTableName), ref(samtemplate.TableLogicalID)) {
		t.Errorf("TableName = %v", val(stack.OutputTableName))
	}
	if !mentions(val(stack.OutputAdminSecretName), secretID(t, "AdminKey")) {
		t.Errorf("AdminKeySecretName = %v", val(stack.OutputAdminSecretName))
	}
	if !mentions(val(stack.OutputProviderSecretName), secretID(t, "ProviderKeys")) {
		t.Errorf("ProviderKeysSecretName = %v", val(stack.OutputProviderSecretName))
	}
	if v := jsonOf(val(stack.OutputStreamURL)); !strings.Contains(v, "FunctionUrl") {
		t.Errorf("StreamUrl = %v, want the function URL", v)
	}
	check(t, "execute's function URL", func() {
		dev.HasResourceProperties(jsii.String("AWS::Lambda::Url"), &map[string]any{
			"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM",
			"TargetFunctionArn": map[string]any{"Fn::GetAtt": []any{stack.FunctionLogicalID(api.FnExecute), "Arn"}}})
	})
	check(t, "outputs via assertions", func() {
		dev.HasOutput(jsii.String(stack.OutputTableName), &map[string]any{"Value": ref(samtemplate.TableLogicalID)})
	})
	for k, o := range outs {
		if o.(map[string]any)["Export"] != nil {
			t.Errorf("output %s is exported (export names are account-wide)", k)
		}
	}
}

// Two stages in one account: no physical name is fixed unless it carries
// the stage.
func TestStagesCoexist(t *testing.T) {
	nameProps := []string{"TableName", "FunctionName", "RoleName", "PolicyName", "Name", "QueueName", "AlarmName", "LogGroupName", "ApiName", "StageName", "AuthorizerName"}
	for stage, cfn := range map[string]map[string]any{"dev": devCFN, "prod": prodCFN} {
		for id, r := range resources(cfn) {
			p := props(r)
			for _, k := range nameProps {
				v, ok := p[k].(string)
				if !ok {
					continue
				}
				scoped := strings.Contains(v, stage) ||
					(r["Type"] == "AWS::IAM::Policy" && k == "PolicyName") || // inline in a generated role
					(r["Type"] == "AWS::ApiGatewayV2::Stage" && v == "$default") ||
					(r["Type"] == "AWS::ApiGatewayV2::Authorizer") // per API
				if !scoped {
					t.Errorf("%s: %s %s = %q is fixed across stages", stage, id, k, v)
				}
			}
		}
	}
	if devStack.StackName() == nil || *devStack.StackName() == *prodStk.StackName() {
		t.Errorf("stack names collide")
	}
}

func TestBadStage(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("a stage with upper case and _ was accepted")
		}
	}()
	stack.NewTenancyStack(awscdk.NewApp(nil), "Bad", &stack.TenancyStackProps{Stage: "Bad_Stage"})
}

// template.yaml at the repo root is generated from this stack (make
// template); the test fails when it drifts.
func TestSAMTemplateUpToDate(t *testing.T) {
	got, err := samtemplate.Generate(devCFN)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "template.yaml")
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run make template)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("template.yaml is stale: run make template\n%s", firstDiff(string(want), string(got)))
	}
	for _, fn := range api.Functions {
		if !strings.Contains(string(got), "CodeUri: bin/lambda/"+fn+"\n") {
			t.Errorf("template.yaml: no CodeUri bin/lambda/%s", fn)
		}
		if !strings.Contains(string(got), "\n  "+fnID(fn)+":\n    Type: AWS::Serverless::Function\n") {
			t.Errorf("template.yaml: no function %s", fnID(fn))
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  committed: %q\n  generated: %q", i+1, x, y)
		}
	}
	return ""
}
