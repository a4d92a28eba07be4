package app

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/provider/routing"
	"github.com/openclaw/tenancy/internal/secrets"
	"github.com/openclaw/tenancy/internal/tenancy"
)

func newDB(ctx context.Context, endpoint string, counter *dynamostore.Counter, extra []func(*dynamodb.Options)) (*dynamodb.Client, error) {
	opts := append([]func(*dynamodb.Options){}, extra...)
	if counter != nil {
		opts = append(opts, counter.Option)
	}
	return dynamostore.NewClient(ctx, endpoint, opts...)
}

func loadCatalog(getenv func(string) string) (*catalog.Catalog, error) { return catalog.Load(getenv) }

// modelsFromEnv routes each catalog model to its provider (see
// internal/provider/routing): real providers when their keys are set,
// otherwise the offline development provider.
func modelsFromEnv(ctx context.Context, getenv func(string) string, cat *catalog.Catalog) (tenancy.ModelRouter, error) {
	return routing.FromEnv(ctx, getenv, cat)
}

func readSecret(ctx context.Context, name string) (string, error) {
	c, err := secrets.NewClient(ctx)
	if err != nil {
		return "", err
	}
	return secrets.GetString(ctx, c, name)
}

// DescribeModels says which provider serves which models, for start-up output.
func DescribeModels(a *App) []string {
	if d, ok := a.Models.(interface{ Describe() []string }); ok {
		return d.Describe()
	}
	return []string{fmt.Sprintf("all models -> %T", a.Models)}
}
