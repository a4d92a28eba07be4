// Command authorizer is the HTTP API's Lambda authorizer.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/app/adminkeys"
)

func main() {
	ctx := context.Background()
	a := app.Must(ctx, app.Options{})
	h, err := adminkeys.Authorizer(ctx, a, os.Getenv, nil)
	if err != nil {
		slog.Error("cold start failed: no admin keys", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}
