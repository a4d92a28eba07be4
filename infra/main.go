// Command infra is the CDK app of the platform: one TenancyStack per stage.
//
//	CDK_OUTDIR=cdk.out go run ./infra          # synth, no CLI, no credentials
//	node_modules/.bin/cdk deploy -c stage=prod # through the CDK CLI (cdk.json)
//
// Context: stage (default dev), corsOrigins (comma-separated origins; none:
// no CORS), throttleRate and throttleBurst (the API's default route
// throttling), tracing (false: no X-Ray active tracing; default on) and
// alarmEmail (an address subscribed to the alarm topic). The CLI passes -c values and cdk.json's context; without the
// CLI, CDK_CONTEXT_JSON does (make synth STAGE=prod).
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/openclaw/tenancy/infra/stack"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(&awscdk.AppProps{AnalyticsReporting: jsii.Bool(false)})
	props, err := propsFromContext(app)
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(2)
	}
	// Env-agnostic (account and region are resolved at deploy time), so the
	// synth needs no credentials.
	stack.NewTenancyStack(app, stack.StackName(props.Stage), props)
	app.Synth(nil)
}

// propsFromContext reads the stack's props from the app's context.
func propsFromContext(app awscdk.App) (*stack.TenancyStackProps, error) {
	props := &stack.TenancyStackProps{
		Stage:       contextString(app, "stage", stack.DefaultStage),
		AssetDir:    stack.DefaultAssetDir,
		CorsOrigins: splitList(contextString(app, "corsOrigins", "")),
		AlarmEmail:  strings.TrimSpace(contextString(app, "alarmEmail", "")),
	}
	var err error
	if props.ThrottleRate, err = contextNumber(app, "throttleRate"); err == nil {
		props.ThrottleBurst, err = contextNumber(app, "throttleBurst")
	}
	if err == nil {
		props.NoTracing, err = contextNoTracing(app)
	}
	if err == nil {
		err = stack.CheckAlarmEmail(props.AlarmEmail)
	}
	if err != nil {
		return nil, err
	}
	return props, nil
}

func contextString(app awscdk.App, key, def string) string {
	switch v := app.Node().TryGetContext(jsii.String(key)).(type) {
	case string:
		if v != "" {
			return v
		}
	case nil:
	default:
		return fmt.Sprint(v)
	}
	return def
}

// contextNumber is a context number (0 when unset): -c gives strings,
// cdk.json gives numbers.
func contextNumber(app awscdk.App, key string) (float64, error) {
	s := contextString(app, key, "")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("context %s=%q: want a positive number", key, s)
	}
	return n, nil
}

// contextNoTracing reads tracing: true (default) or false.
func contextNoTracing(app awscdk.App) (bool, error) {
	switch v := strings.ToLower(contextString(app, "tracing", "true")); v {
	case "true":
		return false, nil
	case "false":
		return true, nil
	default:
		return false, fmt.Errorf("context tracing=%q: want true or false", v)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
