// Command authorizer is the HTTP API's Lambda authorizer.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openclaw/tenancy/internal/app"
)

func main() {
	ctx := context.Background()
	a := app.Must(ctx)
	key, err := a.AdminKey(ctx)
	if err != nil {
		slog.Error("cold start failed", "error", err)
		os.Exit(1)
	}
	lambda.Start(a.Authorizer(key).Handle)
}
