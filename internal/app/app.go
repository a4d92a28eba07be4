// Package app wires the platform from the environment, once: the DynamoDB
// client, the store, the catalog, the model router, the service, the keys
// and the logger. Every Lambda main and the local server call it, so they
// run the same code with the same configuration.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/openclaw/tenancy/internal/alerts"
	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/idempotency"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Store is everything the platform keeps: tenants, agents and usage, API
// keys, idempotency records. dynamostore implements it (the Lambda
// functions), and so does the local server's embedded store (boltstore),
// passed in Options.Store so that the functions never link it.
type Store interface {
	tenancy.Store
	auth.KeyStore
	idempotency.Store
}

// App is the wired platform.
type App struct {
	Store   Store
	Service *tenancy.Service
	Keys    *auth.Keys
	Catalog *catalog.Catalog
	Models  tenancy.ModelRouter
	Logger  *slog.Logger
	Clock   clock.Clock
	Table   string
	Getenv  func(string) string
	// AlertsTo says where budget alerts go (start-up output).
	AlertsTo string
	queue    *alerts.Queue
}

// Options override parts of the wiring (tests, the local server).
type Options struct {
	Getenv func(string) string // default os.Getenv
	Clock  clock.Clock         // default the system clock
	Logger *slog.Logger        // default JSON logs on stdout (Lambda's logger in Lambda)
	Models tenancy.ModelRouter // a fixed router (tests); else ModelsFromEnv
	// ModelsFromEnv builds the model router (the execute function and the
	// local server pass routing.FromEnv through ModelsFromRouting); nil: this
	// function calls no model and does not link the provider clients.
	ModelsFromEnv func(ctx context.Context, getenv func(string) string, cat *catalog.Catalog) (tenancy.ModelRouter, error)
	Counter       *dynamostore.Counter
	// Store, when set, is used instead of DynamoDB (the local server's
	// embedded store); no DynamoDB client is built.
	Store Store
	// DynamoOptions are extra DynamoDB client options (fault injection).
	DynamoOptions []func(*dynamodb.Options)
	// SettleTimeout bounds settling after a model call (default 10s).
	SettleTimeout time.Duration
	// AlertQueue delivers alerts from a background queue (the long-running
	// local server; App.Close drains it). Otherwise (Lambda: no work after
	// the response) delivery is synchronous, bounded by
	// alerts.DefaultLambdaBudget in all, retries included.
	AlertQueue bool
}

// New wires the platform from the environment: TENANCY_TABLE (default
// "tenancy"), DYNAMODB_ENDPOINT (a local engine; unset in AWS), the model
// catalog and providers.
func New(ctx context.Context, o Options) (*App, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Logger == nil {
		o.Logger = NewLogger(o.Getenv)
	}
	table := o.Getenv(schema.EnvTable)
	if table == "" {
		table = schema.DefaultTableName
	}
	store := o.Store
	if store == nil {
		db, err := newDB(ctx, o.Getenv(schema.EnvEndpoint), o.Counter, o.DynamoOptions)
		if err != nil {
			return nil, err
		}
		store = dynamostore.New(db, table)
	}
	cat, err := catalog.Load(o.Getenv)
	if err != nil {
		return nil, err
	}
	models := o.Models
	switch {
	case models != nil:
	case o.ModelsFromEnv != nil:
		r, err := o.ModelsFromEnv(ctx, o.Getenv, cat)
		if err != nil {
			return nil, err
		}
		models = r
	default:
		models = noModels{}
	}
	notifier, alertsTo, err := alertsFromEnv(ctx, o.Getenv)
	if err != nil {
		return nil, err
	}
	var queue *alerts.Queue
	switch {
	case notifier == nil:
	case o.AlertQueue:
		queue = alerts.NewQueue(notifier, alerts.DefaultQueueSize, o.Logger)
		notifier = queue
		alertsTo += fmt.Sprintf(" from a background queue (%d, retried with backoff, drained on shutdown)", alerts.DefaultQueueSize)
	default:
		notifier = alerts.Bounded{Notifier: notifier, Budget: alerts.DefaultLambdaBudget}
		alertsTo += fmt.Sprintf(" before the response, within %s", alerts.DefaultLambdaBudget)
	}
	a := &App{
		Store: store, Catalog: cat, Models: models, Logger: o.Logger, Clock: o.Clock, Table: table, Getenv: o.Getenv,
		AlertsTo: alertsTo, queue: queue,
		Service: tenancy.New(tenancy.Options{Store: store, Clock: o.Clock, Catalog: cat, Models: models, Logger: o.Logger,
			SettleTimeout: o.SettleTimeout, Alerts: notifier}),
		Keys: &auth.Keys{Store: store, Clock: o.Clock},
	}
	return a, nil
}

// Close delivers the alerts still queued (AlertQueue) until ctx is done.
func (a *App) Close(ctx context.Context) error {
	if a.queue == nil {
		return nil
	}
	return a.queue.Close(ctx)
}

// Must is New for Lambda mains: a wiring error is fatal at cold start.
func Must(ctx context.Context, o Options) *App {
	a, err := New(ctx, o)
	if err != nil {
		slog.Error("cold start failed", "error", err)
		os.Exit(1)
	}
	return a
}

// NewLogger is slog JSON: Lambda's logger (request id, AWS_LAMBDA_LOG_LEVEL)
// inside Lambda or the runtime emulator, stdout otherwise.
func NewLogger(getenv func(string) string) *slog.Logger {
	if getenv("AWS_LAMBDA_FUNCTION_NAME") != "" {
		return lambdacontext.NewLogger()
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, nil))
}

// Handler is the API handler of a function ("" for every route).
func (a *App) Handler(function string) *api.Handler {
	return api.New(function, api.Deps{Service: a.Service, Keys: a.Keys, Logger: a.Logger,
		Idem: &api.Idempotency{Store: a.Store, Clock: a.Clock}})
}

// Authorizer is the Lambda authorizer accepting any of adminKeys as the
// admin key.
func (a *App) Authorizer(adminKeys []string) *api.AuthorizerHandler {
	return &api.AuthorizerHandler{Auth: auth.NewAuthorizer(adminKeys, a.Store), Logger: a.Logger}
}

// Reset is the handler of the scheduled daily reset. A tenant that failed
// makes the invocation fail, so Lambda's asynchronous retries run it again
// (the reset is idempotent) and finally send the event to the dead-letter
// queue (the stack configures both).
func (a *App) Reset(ctx context.Context, ev events.CloudWatchEvent) (tenancy.ResetSummary, error) {
	sum, err := a.Service.DailyReset(ctx)
	a.Logger.InfoContext(ctx, "scheduled reset", "event_id", ev.ID, "tenants", sum.Tenants, "due", sum.Due,
		"archived", sum.Archived, "applied", sum.Applied, "released", sum.Released, "open", sum.Open,
		"failed", len(sum.Failed), "resumed", sum.Resumed, "skipped", sum.Skipped)
	if err != nil {
		return sum, err
	}
	if len(sum.Failed) > 0 {
		return sum, fmt.Errorf("daily reset failed for %d tenants: %v", len(sum.Failed), sum.Failed)
	}
	return sum, nil
}
