// Command authorizer is the HTTP API's Lambda authorizer.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/secrets"
)

func main() {
	ctx := context.Background()
	a := app.Must(ctx, app.Options{})
	key, err := secrets.FromEnv(ctx, os.Getenv, schema.EnvAdminKey, schema.EnvAdminKeySecret)
	if err != nil {
		slog.Error("cold start failed: no admin key", "error", err)
		os.Exit(1)
	}
	lambda.Start(a.Authorizer(key).Handle)
}
