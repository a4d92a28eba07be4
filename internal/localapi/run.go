package localapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/app/withmodels"
	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/boltstore"
	"github.com/openclaw/tenancy/internal/ddblocal"
	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/schema"
)

// DefaultReadTimeout bounds reading a whole request (headers and body),
// like API Gateway's 30-second limit on a request.
const DefaultReadTimeout = 30 * time.Second

// DefaultListen is the local API's address unless TENANCY_LISTEN says otherwise.
const DefaultListen = "127.0.0.1:3000"

// Local is a running local API.
type Local struct {
	URL string
	// AdminKey is the first of AdminKeys, the admin keys the API accepts
	// (TENANCY_ADMIN_KEY, comma-separated, or one generated key).
	AdminKey  string
	AdminKeys []string
	App       *app.App
	Store     string             // bolt, memory or dynamodb
	Embedded  *ddblocal.Embedded // the in-memory DynamoDB (TENANCY_STORE=memory), else nil
	Bolt      *boltstore.Store   // the persistent store (TENANCY_STORE=bolt, the default), else nil
	// Schedule is the hourly reset (Options.Schedule), else nil.
	Schedule *Schedule
	srv      *http.Server
	l        net.Listener
	emb      *ddblocal.Embedded
}

// Options for Start beyond the environment.
type Options struct {
	App     app.Options // Getenv is required
	Counter *dynamostore.Counter
	Out     io.Writer // start-up lines; nil for none
	// ReadTimeout bounds reading one whole request; default DefaultReadTimeout.
	ReadTimeout time.Duration
	// Schedule runs the scheduled reset (as EventBridge does in AWS) at
	// start-up and at the top of every hour (`make run` sets it).
	Schedule bool
	// ResetTick is how often the schedule looks at the clock at least
	// (DefaultResetTick; tests on a Manual clock pass a short one).
	ResetTick time.Duration
}

// Stores the local API can run on (TENANCY_STORE).
const (
	StoreBolt     = "bolt"     // the default: persistent, in TENANCY_DATA_DIR
	StoreMemory   = "memory"   // minidyn, the embedded DynamoDB, in memory
	StoreDynamoDB = "dynamodb" // DynamoDB at DYNAMODB_ENDPOINT (or AWS)
)

// DefaultDataDir is the bolt store's directory unless TENANCY_DATA_DIR says
// otherwise (relative to the working directory).
const DefaultDataDir = ".data"

// StoreKind is the store TENANCY_STORE selects: bolt by default, dynamodb
// when only DYNAMODB_ENDPOINT is set (as before there was a choice).
func StoreKind(getenv func(string) string) (string, error) {
	switch k := getenv(schema.EnvStore); k {
	case StoreBolt, StoreMemory, StoreDynamoDB:
		return k, nil
	case "":
		if getenv(schema.EnvEndpoint) != "" {
			return StoreDynamoDB, nil
		}
		return StoreBolt, nil
	default:
		return "", fmt.Errorf("%s=%q: must be %s, %s or %s", schema.EnvStore, k, StoreBolt, StoreMemory, StoreDynamoDB)
	}
}

// Start wires the platform on the store TENANCY_STORE selects, creates the
// DynamoDB table before serving (DynamoDB stores), and listens.
func Start(ctx context.Context, o Options) (*Local, error) {
	getenv := o.App.Getenv
	loc := &Local{}
	kind, err := StoreKind(getenv)
	if err != nil {
		return nil, err
	}
	loc.Store = kind
	ao := o.App
	generated := getenv(schema.EnvAdminKey) == ""
	if generated {
		loc.AdminKeys = []string{"adm_" + auth.NewKey()[len(auth.KeyPrefix):]}
	} else {
		keys, err := auth.ParseAdminKeys(getenv(schema.EnvAdminKey))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", schema.EnvAdminKey, err)
		}
		loc.AdminKeys = keys
	}
	loc.AdminKey = loc.AdminKeys[0]
	endpoint, where := getenv(schema.EnvEndpoint), ""
	switch kind {
	case StoreBolt:
		dir := getenv(schema.EnvDataDir)
		if dir == "" {
			dir = DefaultDataDir
		}
		bs, err := boltstore.Open(dir, boltstore.Options{})
		if err != nil {
			return nil, err
		}
		loc.Bolt, ao.Store = bs, bs
		where = "bolt (embedded, persistent) in " + bs.Path()
	case StoreMemory:
		emb, err := ddblocal.StartEmbedded("")
		if err != nil {
			return nil, err
		}
		loc.Embedded, loc.emb, endpoint, where = emb, emb, emb.URL, "memory (embedded DynamoDB, minidyn, in-process; lost on exit)"
	case StoreDynamoDB:
		where = "dynamodb at " + endpoint
		if endpoint == "" {
			where = "dynamodb (AWS, from the environment's credentials and region)"
		}
	}
	env := func(k string) string {
		if k == schema.EnvEndpoint {
			return endpoint
		}
		return getenv(k)
	}
	ao.Getenv, ao.Counter = env, o.Counter
	ao.AlertQueue = true // a long-running server: no response waits for a receiver
	if ao.Models == nil && ao.ModelsFromEnv == nil {
		ao.ModelsFromEnv = withmodels.FromEnv
	}
	a, err := app.New(ctx, ao)
	if err != nil {
		loc.Close()
		return nil, err
	}
	loc.App = a
	if kind != StoreBolt {
		db, err := dynamostore.NewClient(ctx, endpoint)
		if err != nil {
			loc.Close()
			return nil, err
		}
		if err := dynamostore.CreateTable(ctx, db, a.Table); err != nil {
			loc.Close()
			return nil, err
		}
		where += fmt.Sprintf(", table %q", a.Table)
	}
	handlers := map[string]*api.Handler{}
	for _, fn := range api.Functions {
		handlers[fn] = a.Handler(fn)
	}
	addr := getenv(schema.EnvListen)
	if addr == "" {
		addr = DefaultListen
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		loc.Close()
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	loc.l, loc.URL = l, "http://"+l.Addr().String()
	readTimeout := o.ReadTimeout
	if readTimeout <= 0 {
		readTimeout = DefaultReadTimeout
	}
	// As API Gateway does, a request must arrive in time: its headers
	// within ReadHeaderTimeout, the whole request (body included) within
	// ReadTimeout; a slow or stalled client cannot hold a handler.
	loc.srv = &http.Server{Handler: New(handlers, a.Authorizer(loc.AdminKeys), a.Logger),
		ReadHeaderTimeout: min(10*time.Second, readTimeout), ReadTimeout: readTimeout, IdleTimeout: 2 * time.Minute}
	if o.Out != nil {
		fmt.Fprintf(o.Out, "API:      %s\n", loc.URL)
		fmt.Fprintf(o.Out, "Console:  %s/console\n", loc.URL)
		fmt.Fprintf(o.Out, "Store:    %s\n", where)
		if generated {
			fmt.Fprintf(o.Out, "Admin key (generated; set %s to choose one): %s\n", schema.EnvAdminKey, loc.AdminKey)
		} else {
			fmt.Fprintf(o.Out, "Admin keys: %d from %s\n", len(loc.AdminKeys), schema.EnvAdminKey)
		}
		for _, line := range app.DescribeModels(a) {
			fmt.Fprintf(o.Out, "Models:   %s\n", line)
		}
		fmt.Fprintf(o.Out, "Alerts:   %s\n", a.AlertsTo)
		if o.Schedule {
			fmt.Fprintf(o.Out, "Reset:    %s\n", ScheduleLine)
		}
	}
	if o.Schedule {
		loc.Schedule = StartSchedule(a.Reset, a.Clock, o.ResetTick)
	}
	return loc, nil
}

// Serve serves until ctx is done, then shuts down gracefully.
func (l *Local) Serve(ctx context.Context) error {
	err := Serve(ctx, l.srv, l.l)
	if err == http.ErrServerClosed {
		err = nil
	}
	return err
}

// AlertDrainTimeout bounds delivering the alerts still queued at Close.
const AlertDrainTimeout = 10 * time.Second

// Close stops serving, delivers the alerts still queued (at most
// AlertDrainTimeout) and closes the embedded database.
func (l *Local) Close() {
	if l.srv != nil {
		_ = l.srv.Close()
	}
	if l.Schedule != nil {
		l.Schedule.Stop()
	}
	if l.App != nil {
		ctx, cancel := context.WithTimeout(context.Background(), AlertDrainTimeout)
		if err := l.App.Close(ctx); err != nil {
			l.App.Logger.Error("alerts left undelivered at shutdown", "error", err)
		}
		cancel()
	}
	if l.emb != nil {
		_ = l.emb.Close()
	}
	if l.Bolt != nil {
		_ = l.Bolt.Close()
	}
}
