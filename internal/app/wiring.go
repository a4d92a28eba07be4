package app

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/tenancy"
)

func newDB(ctx context.Context, endpoint string, counter *dynamostore.Counter, extra []func(*dynamodb.Options)) (*dynamodb.Client, error) {
	opts := append([]func(*dynamodb.Options){}, extra...)
	if counter != nil {
		opts = append(opts, counter.Option)
	}
	return dynamostore.NewClient(ctx, endpoint, opts...)
}

// interim wiring until the provider packages land (issue 4)
func loadCatalog(func(string) string) (*catalog.Catalog, error) { return catalog.Default(), nil }

func modelsFromEnv(context.Context, func(string) string, *catalog.Catalog) (tenancy.ModelRouter, error) {
	return tenancy.DevRouter{}, nil
}

func readSecret(_ context.Context, name string) (string, error) {
	return "", fmt.Errorf("reading secret %s: secrets support not wired yet", name)
}

// DescribeModels says which provider serves which models, for start-up output.
func DescribeModels(a *App) []string {
	if d, ok := a.Models.(interface{ Describe() []string }); ok {
		return d.Describe()
	}
	if _, ok := a.Models.(tenancy.DevRouter); ok {
		return []string{"all catalog models -> dev (offline development provider: deterministic replies, \"provider\": \"dev\")"}
	}
	return []string{fmt.Sprintf("all models -> %T", a.Models)}
}
