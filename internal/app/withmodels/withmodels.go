// Package withmodels plugs the provider router into the wiring of the
// functions that call models (execute, the local server). It is its own
// package so that the other functions do not link the provider clients.
package withmodels

import (
	"context"

	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/provider/routing"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// FromEnv routes each catalog model to its provider (real providers when
// their keys are set, else the offline development provider).
func FromEnv(ctx context.Context, getenv func(string) string, cat *catalog.Catalog) (tenancy.ModelRouter, error) {
	return routing.FromEnv(ctx, getenv, cat)
}
