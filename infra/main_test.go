package main

import (
	"os"
	"reflect"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/openclaw/tenancy/infra/stack"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// The context the CLI (-c) or CDK_CONTEXT_JSON gives, as the stack's props.
func TestPropsFromContext(t *testing.T) {
	props := func(ctx map[string]any) (*stack.TenancyStackProps, error) {
		return propsFromContext(awscdk.NewApp(&awscdk.AppProps{AnalyticsReporting: jsii.Bool(false), Context: &ctx}))
	}
	p, err := props(map[string]any{})
	if err != nil || p.Stage != stack.DefaultStage || p.NoTracing || p.AlarmEmail != "" || p.CorsOrigins != nil {
		t.Fatalf("defaults: %+v %v", p, err)
	}
	p, err = props(map[string]any{"stage": "prod", "tracing": "false", "alarmEmail": " ops@example.com ",
		"corsOrigins": "https://a.example, https://b.example", "throttleRate": "20", "throttleBurst": 40})
	want := stack.TenancyStackProps{Stage: "prod", AssetDir: stack.DefaultAssetDir, NoTracing: true, AlarmEmail: "ops@example.com",
		CorsOrigins: []string{"https://a.example", "https://b.example"}, ThrottleRate: 20, ThrottleBurst: 40}
	if err != nil || !reflect.DeepEqual(*p, want) {
		t.Fatalf("prod: %+v %v", p, err)
	}
	if p, err := props(map[string]any{"tracing": "TRUE"}); err != nil || p.NoTracing {
		t.Errorf("tracing=TRUE: %+v %v", p, err)
	}
	for ctx, msg := range map[string]string{
		"tracing":      `context tracing="off": want true or false`,
		"alarmEmail":   `alarmEmail "ops" is not an email address`,
		"throttleRate": `context throttleRate="-1": want a positive number`,
	} {
		val := map[string]any{"tracing": "off", "alarmEmail": "ops", "throttleRate": "-1"}[ctx]
		if _, err := props(map[string]any{ctx: val}); err == nil || err.Error() != msg {
			t.Errorf("%s=%v: %v, want %q", ctx, val, err, msg)
		}
	}
}
