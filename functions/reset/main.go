// Command reset is the daily reset, invoked by an EventBridge schedule. It
// is also the rotation function of the admin keys secret (Secrets Manager
// invokes it every schema.AdminKeyRotationDays).
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/app/adminkeys"
	"github.com/openclaw/tenancy/internal/secrets"
)

func main() {
	a := app.Must(context.Background(), app.Options{})
	reset := func(ctx context.Context, raw json.RawMessage) (any, error) {
		var ev events.CloudWatchEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return a.Reset(ctx, ev)
	}
	lambda.Start(adminkeys.WithRotation(reset, func(ctx context.Context) (adminkeys.RotationAPI, error) {
		return secrets.NewClient(ctx)
	}))
}
