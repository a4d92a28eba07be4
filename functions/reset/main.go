// Command reset is the daily reset, invoked by an EventBridge schedule.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openclaw/tenancy/internal/app"
)

func main() {
	a := app.Must(context.Background(), app.Options{})
	lambda.Start(a.Reset)
}
