// Command execute is the execute Lambda function of the HTTP API: the only
// function that calls models. It also serves its function URL
// (RESPONSE_STREAM: streamed executes and the OpenAI-compatible /v1 routes),
// checking bearer keys in-process with the authorizer's code.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/app/adminkeys"
	"github.com/openclaw/tenancy/internal/app/withmodels"
	"github.com/openclaw/tenancy/internal/schema"
)

func main() {
	ctx := context.Background()
	a := app.Must(ctx, app.Options{ModelsFromEnv: withmodels.FromEnv})
	authz := a.Authorizer(nil) // no admin key configured: tenant keys only through the URL
	if os.Getenv(schema.EnvAdminKey) != "" || os.Getenv(schema.EnvAdminKeySecret) != "" {
		var err error
		if authz, err = adminkeys.Authorizer(ctx, a, os.Getenv, nil); err != nil {
			slog.Error("cold start failed: no admin keys", "error", err)
			os.Exit(1)
		}
	}
	lambda.Start(api.FunctionURLHandler(a.Handler(api.FnExecute), authz.Auth))
}
