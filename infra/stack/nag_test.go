package stack_test

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/openclaw/tenancy/infra/stack"
	"github.com/openclaw/tenancy/internal/api"
)

// TestAwsSolutionsPack applies cdk-nag's AwsSolutions rules to a synthesized
// stack (with an alarm email) and fails on any error that is not suppressed
// at its resource with a written reason. It also pins the suppressions
// themselves: only those the design calls for, each with its reason.
func TestAwsSolutionsPack(t *testing.T) {
	outdir, err := os.MkdirTemp("", "tenancy-nag-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outdir)
	app := awscdk.NewApp(&awscdk.AppProps{AnalyticsReporting: jsii.Bool(false), Outdir: jsii.String(outdir)})
	st := stack.NewTenancyStack(app, stack.StackName("nag"), &stack.TenancyStackProps{Stage: "nag", AssetDir: assetDir, AlarmEmail: "ops@example.com"})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	ann := assertions.Annotations_FromStack(st.Stack)

	errs := ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, e := range *errs {
		t.Errorf("unsuppressed %s: %v", *e.Id, e.Entry.Data)
	}
	warns := ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, w := range *warns {
		t.Logf("warning %s: %v", *w.Id, w.Entry.Data)
	}

	// The suppressions, from the template's cdk_nag metadata: rule ->
	// logical ids (and the findings they apply to).
	tmpl := toGo(assertions.Template_FromStack(st.Stack, nil))
	got := map[string][]string{}
	for id, r := range resources(tmpl) {
		md, _ := r["Metadata"].(map[string]any)
		nag, _ := md["cdk_nag"].(map[string]any)
		rules, _ := nag["rules_to_suppress"].([]any)
		for _, x := range rules {
			s := x.(map[string]any)
			reason, _ := s["reason"].(string)
			if len(reason) < 40 {
				t.Errorf("%s: suppression %v has no written reason", id, s)
			}
			key := s["id"].(string)
			if applies, ok := s["applies_to"].([]any); ok {
				b, _ := json.Marshal(applies)
				key += " " + string(b)
			}
			got[key] = append(got[key], r["Type"].(string))
		}
	}
	var keys []string
	for k, types := range got {
		sort.Strings(types)
		keys = append(keys, k+" on "+strings.Join(types, ","))
	}
	sort.Strings(keys)
	public := 0
	for _, r := range api.Routes {
		if r.Access == api.Public {
			public++
		}
	}
	n := len(api.Functions)
	want := []string{
		"AwsSolutions-APIG4 on " + strings.Repeat("AWS::ApiGatewayV2::Route,", public-1) + "AWS::ApiGatewayV2::Route",
		// X-Ray on every role (tracing is on), at the role and its policy
		`AwsSolutions-IAM5 ["Resource::*"] on ` + strings.Repeat("AWS::IAM::Policy,", n) + strings.Repeat("AWS::IAM::Role,", n-1) + "AWS::IAM::Role",
		// Bedrock, execute's role only
		`AwsSolutions-IAM5 ["Resource::arn:\u003cAWS::Partition\u003e:bedrock:*::foundation-model/anthropic.*","Resource::arn:\u003cAWS::Partition\u003e:bedrock:\u003cAWS::Region\u003e:\u003cAWS::AccountId\u003e:inference-profile/us.anthropic.*"] on AWS::IAM::Policy,AWS::IAM::Role`,
		// tenant gateway tokens (openclaw_gateway_token_secret) of this stage ("nag"), execute's role only
		`AwsSolutions-IAM5 ["Resource::arn:\u003cAWS::Partition\u003e:secretsmanager:\u003cAWS::Region\u003e:\u003cAWS::AccountId\u003e:secret:tenancy-nag/tenant-gateway/*"] on AWS::IAM::Policy,AWS::IAM::Role`,
		// the provider keys secret (the admin keys secret rotates)
		"AwsSolutions-SMG4 on AWS::SecretsManager::Secret",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("suppressions\n got %s\nwant %s", strings.Join(keys, "\n     "), strings.Join(want, "\n     "))
	}
}
