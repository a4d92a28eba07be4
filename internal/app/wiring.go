package app

import (
	"context"
	"fmt"
	"net/url"

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

// alertsFromEnv delivers budget alerts to TENANCY_ALERT_WEBHOOK (signed with
// TENANCY_ALERT_SECRET) and to the EventBridge bus TENANCY_ALERT_BUS (set by
// the stack on the functions that settle); nil when neither is set (alerts
// are then only recorded).
func alertsFromEnv(ctx context.Context, getenv func(string) string) (tenancy.Notifier, error) {
	var m alerts.Multi
	if u := getenv(schema.EnvAlertWebhook); u != "" {
		if _, err := url.ParseRequestURI(u); err != nil {
			return nil, fmt.Errorf("%s: %w", schema.EnvAlertWebhook, err)
		}
		m = append(m, &alerts.Webhook{URL: u, Secret: []byte(getenv(schema.EnvAlertSecret))})
	}
	if bus := getenv(schema.EnvAlertBus); bus != "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		m = append(m, &alerts.EventBridge{API: eventbridge.NewFromConfig(cfg), Bus: bus})
	}
	switch len(m) {
	case 0:
		return nil, nil
	case 1:
		return m[0], nil
	}
	return m, nil
}
