package app

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/provider"
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
