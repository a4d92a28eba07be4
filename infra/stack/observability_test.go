package stack_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/openclaw/tenancy/infra/stack"
	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/schema"
)

// X-Ray active tracing on every function by default (dev); off with
// tracing=false (prod here), and then no X-Ray permission either.
func TestTracing(t *testing.T) {
	for name, c := range map[string]struct {
		cfn  map[string]any
		want any
	}{"dev": {devCFN, map[string]any{"Mode": "Active"}}, "prod": {prodCFN, nil}} {
		for _, fn := range api.Functions {
			if got := props(resources(c.cfn)[fnID(fn)])["TracingConfig"]; !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s %s: TracingConfig %v, want %v", name, fn, got, c.want)
			}
		}
		xray := 0
		for _, s := range allStatements(c.cfn) {
			if strings.Contains(jsonOf(s["Action"]), "xray:") {
				xray++
			}
		}
		if want := map[string]int{"dev": len(api.Functions), "prod": 0}[name]; xray != want {
			t.Errorf("%s: %d X-Ray statements, want %d", name, xray, want)
		}
	}
}

// One JSON line per request to a log group with retention: request id,
// route key, status, latency, integration error, the authorizer's tenant
// and role, never a key.
func TestAccessLogs(t *testing.T) {
	format := stack.AccessLogFormat()
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		t.Fatalf("the access log format is not a JSON object: %v\n%s", err, format)
	}
	for k, v := range map[string]string{
		"request_id": "$context.requestId", "route_key": "$context.routeKey", "status": "$context.status",
		"latency_ms": "$context.responseLatency", "integration_error": "$context.integrationErrorMessage",
		"tenant_id": "$context.authorizer.tenant_id", "role": "$context.authorizer.role",
	} {
		if fields[k] != v {
			t.Errorf("access log field %s = %q, want %q", k, fields[k], v)
		}
	}
	if len(fields) != len(stack.AccessLogFields) {
		t.Errorf("duplicate field names in %s", format)
	}
	// The authorizer's labels the log reads are the ones it sets.
	labels := api.PrincipalContext(auth.Principal{Role: auth.RoleTenant, TenantID: "acme", KeyID: "k"})
	for _, v := range fields {
		if name, ok := strings.CutPrefix(v, "$context.authorizer."); ok && name != "error" {
			if _, set := labels[name]; !set {
				t.Errorf("access log reads authorizer label %q, which the authorizer does not set (%v)", name, labels)
			}
		}
		if l := strings.ToLower(v); strings.Contains(l, "header") || strings.Contains(l, "apikey") || strings.Contains(l, "authorization") {
			t.Errorf("access log field %s could hold a key", v)
		}
	}
	for name, cfn := range map[string]map[string]any{"dev": devCFN, "prod": prodCFN} {
		_, st := onlyOfType(cfn, "AWS::ApiGatewayV2::Stage")
		als, _ := props(st)["AccessLogSettings"].(map[string]any)
		if als["Format"] != format {
			t.Errorf("%s: access log format %v", name, als["Format"])
		}
		dest, _ := als["DestinationArn"].(map[string]any)["Fn::GetAtt"].([]any)
		if len(dest) != 2 || dest[1] != "Arn" {
			t.Fatalf("%s: access log destination %v", name, als["DestinationArn"])
		}
		lg := resources(cfn)[dest[0].(string)]
		if lg["Type"] != "AWS::Logs::LogGroup" || props(lg)["RetentionInDays"] != float64(30) {
			t.Errorf("%s: access logs go to %s", name, jsonOf(lg))
		}
	}
}

// Every alarm notifies the one topic; the topic takes TLS only; an email is
// subscribed with alarmEmail (prod here) and not without (dev); the topic is
// an output.
func TestAlarmsNotify(t *testing.T) {
	for name, cfn := range map[string]map[string]any{"dev": devCFN, "prod": prodCFN} {
		topicID, _ := onlyOfType(cfn, "AWS::SNS::Topic")
		alarms := ofType(cfn, "AWS::CloudWatch::Alarm")
		if len(alarms) != 2*len(api.Functions)+2 {
			t.Errorf("%s: %d alarms", name, len(alarms))
		}
		for id, a := range alarms {
			if got := props(a)["AlarmActions"]; !reflect.DeepEqual(got, []any{ref(topicID)}) {
				t.Errorf("%s: alarm %s actions %v, want the topic %s", name, id, got, topicID)
			}
		}
		_, pol := onlyOfType(cfn, "AWS::SNS::TopicPolicy")
		sts := props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any)
		if len(sts) != 1 || !reflect.DeepEqual(sts[0].(map[string]any)["Condition"], tlsOnly(nil, "")["Condition"]) ||
			sts[0].(map[string]any)["Effect"] != "Deny" || !reflect.DeepEqual(props(pol)["Topics"], []any{ref(topicID)}) {
			t.Errorf("%s: topic policy %s", name, jsonOf(props(pol)))
		}
		subs := ofType(cfn, "AWS::SNS::Subscription")
		var got []string
		for _, s := range subs {
			p := props(s)
			if !reflect.DeepEqual(p["TopicArn"], ref(topicID)) {
				t.Errorf("%s: subscription to %v", name, p["TopicArn"])
			}
			got = append(got, p["Protocol"].(string)+":"+p["Endpoint"].(string))
		}
		sort.Strings(got)
		want := map[string][]string{"dev": nil, "prod": {"email:" + prodAlarmEmail}}[name]
		if !slices.Equal(got, want) {
			t.Errorf("%s: subscriptions %v, want %v", name, got, want)
		}
		out, _ := cfn["Outputs"].(map[string]any)[stack.OutputAlarmTopicArn].(map[string]any)
		if !reflect.DeepEqual(out["Value"], ref(topicID)) {
			t.Errorf("%s: output %s = %v", name, stack.OutputAlarmTopicArn, out)
		}
	}
}

func TestCheckAlarmEmail(t *testing.T) {
	for s, ok := range map[string]bool{"": true, "ops@example.com": true, "a.b+c@d.example.org": true,
		"ops": false, "ops@example": false, "a@b.c,d@e.f": false, "a b@c.d": false, "@example.com": false} {
		if err := stack.CheckAlarmEmail(s); (err == nil) != ok {
			t.Errorf("CheckAlarmEmail(%q) = %v", s, err)
		}
	}
}

// Secrets Manager rotates the admin keys secret with the reset function
// every schema.AdminKeyRotationDays, after the function may be invoked and
// may rotate.
func TestAdminKeyRotation(t *testing.T) {
	adminID := secretID(t, "AdminKey")
	id, r := onlyOfType(devCFN, "AWS::SecretsManager::RotationSchedule")
	want := map[string]any{
		"SecretId":                  ref(adminID),
		"RotationLambdaARN":         getAtt(fnID(api.FnReset), "Arn"),
		"RotationRules":             map[string]any{"AutomaticallyAfterDays": float64(schema.AdminKeyRotationDays)},
		"RotateImmediatelyOnUpdate": false,
	}
	if !reflect.DeepEqual(props(r), want) {
		t.Errorf("rotation schedule %s\n got %s\nwant %s", id, jsonOf(props(r)), jsonOf(want))
	}
	deps := jsonOf(r["DependsOn"])
	var perm string
	for pid, p := range ofType(devCFN, "AWS::Lambda::Permission") {
		if props(p)["Principal"] == "secretsmanager.amazonaws.com" {
			perm = pid
		}
	}
	if perm == "" || !strings.Contains(deps, `"`+perm+`"`) || !strings.Contains(deps, "ResetRole") {
		t.Errorf("rotation schedule depends on %s, want the invoke permission %q and reset's role", deps, perm)
	}
	if n := len(ofType(prodCFN, "AWS::SecretsManager::RotationSchedule")); n != 1 {
		t.Errorf("prod: %d rotation schedules", n)
	}
}
