package app

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/openclaw/tenancy/internal/alerts"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

func newDB(ctx context.Context, endpoint string, counter *dynamostore.Counter, extra []func(*dynamodb.Options)) (*dynamodb.Client, error) {
	opts := append([]func(*dynamodb.Options){}, extra...)
	if counter != nil {
		opts = append(opts, counter.Option)
	}
	return dynamostore.NewClient(ctx, endpoint, opts...)
}

// noModels is the router of functions that never call a model: they do
// not link or configure the provider clients.
type noModels struct{}

func (noModels) Route(model string) (provider.Provider, string, error) {
	return nil, "", fmt.Errorf("this function does not call models (model %q)", model)
}

// DescribeModels says which provider serves which models, for start-up output.
func DescribeModels(a *App) []string {
	if d, ok := a.Models.(interface{ Describe() []string }); ok {
		return d.Describe()
	}
	return []string{fmt.Sprintf("all models -> %T", a.Models)}
}

// alertsFromEnv delivers budget alerts to TENANCY_ALERT_WEBHOOK (an http or
// https URL, signed with TENANCY_ALERT_SECRET, which must then be set) and to
// the EventBridge bus TENANCY_ALERT_BUS (set by the stack on the functions
// that settle); nil when neither is set (alerts are then only recorded).
// where says where alerts go, for start-up output.
func alertsFromEnv(ctx context.Context, getenv func(string) string) (n tenancy.Notifier, where string, err error) {
	var m alerts.Multi
	var dests []string
	if u := getenv(schema.EnvAlertWebhook); u != "" {
		pu, err := url.ParseRequestURI(u)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", schema.EnvAlertWebhook, err)
		}
		if (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, "", fmt.Errorf("%s=%q: must be an http or https URL", schema.EnvAlertWebhook, u)
		}
		secret := getenv(schema.EnvAlertSecret)
		if secret == "" {
			return nil, "", fmt.Errorf("%s is set but %s is not: alerts would be signed with an empty key",
				schema.EnvAlertWebhook, schema.EnvAlertSecret)
		}
		m = append(m, &alerts.Webhook{URL: u, Secret: []byte(secret)})
		dests = append(dests, "webhook "+pu.Redacted()+" (signed with "+schema.EnvAlertSecret+")")
	}
	if bus := getenv(schema.EnvAlertBus); bus != "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, "", err
		}
		m = append(m, &alerts.EventBridge{API: eventbridge.NewFromConfig(cfg), Bus: bus})
		dests = append(dests, "EventBridge bus "+bus)
	}
	switch len(m) {
	case 0:
		return nil, "recorded only (GET /tenants/{t}/alerts); set " + schema.EnvAlertWebhook + " and " +
			schema.EnvAlertSecret + " to POST them", nil
	case 1:
		return m[0], strings.Join(dests, ", "), nil
	}
	return m, strings.Join(dests, ", "), nil
}
