// Command reports is the reports Lambda function of the HTTP API.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
)

func main() {
	a := app.Must(context.Background(), app.Options{})
	lambda.Start(a.Handler(api.FnReports).Handle)
}
