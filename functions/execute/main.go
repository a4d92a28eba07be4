// Command execute is the execute Lambda function of the HTTP API: the only
// function that calls models.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/app/withmodels"
)

func main() {
	a := app.Must(context.Background(), app.Options{ModelsFromEnv: withmodels.FromEnv})
	lambda.Start(a.Handler(api.FnExecute).Handle)
}
