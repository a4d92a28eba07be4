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
	Embedded  *ddblocal.Embedded // nil with DYNAMODB_ENDPOINT
	srv       *http.Server
	l         net.Listener
	emb       *ddblocal.Embedded
}

// Options for Start beyond the environment.
type Options struct {
	App     app.Options // Getenv is required
	Counter *dynamostore.Counter
	Out     io.Writer // start-up lines; nil for none
	// ReadTimeout bounds reading one whole request; default DefaultReadTimeout.
	ReadTimeout time.Duration
}

// Start wires the platform, creates the table before serving, and listens.
func Start(ctx context.Context, o Options) (*Local, error) {
	getenv := o.App.Getenv
	loc := &Local{}
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
	if endpoint == "" {
		emb, err := ddblocal.StartEmbedded("")
		if err != nil {
			return nil, err
		}
		loc.Embedded, loc.emb, endpoint, where = emb, emb, emb.URL, "embedded DynamoDB (minidyn, in-process, in memory)"
	} else {
		where = "DynamoDB at " + endpoint
	}
	env := func(k string) string {
		if k == schema.EnvEndpoint {
			return endpoint
		}
		return getenv(k)
	}
	ao := o.App
	ao.Getenv, ao.Counter = env, o.Counter
	if ao.Models == nil && ao.ModelsFromEnv == nil {
		ao.ModelsFromEnv = withmodels.FromEnv
	}
	a, err := app.New(ctx, ao)
	if err != nil {
		loc.Close()
		return nil, err
	}
	loc.App = a
	db, err := dynamostore.NewClient(ctx, endpoint)
	if err != nil {
		loc.Close()
		return nil, err
	}
	if err := dynamostore.CreateTable(ctx, db, a.Table); err != nil {
		loc.Close()
		return nil, err
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
		fmt.Fprintf(o.Out, "Database: %s, table %q\n", where, a.Table)
		if generated {
			fmt.Fprintf(o.Out, "Admin key (generated; set %s to choose one): %s\n", schema.EnvAdminKey, loc.AdminKey)
		} else {
			fmt.Fprintf(o.Out, "Admin keys: %d from %s\n", len(loc.AdminKeys), schema.EnvAdminKey)
		}
		for _, line := range app.DescribeModels(a) {
			fmt.Fprintf(o.Out, "Models:   %s\n", line)
		}
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

// Close stops serving and the embedded database.
func (l *Local) Close() {
	if l.srv != nil {
		_ = l.srv.Close()
	}
	if l.emb != nil {
		_ = l.emb.Close()
	}
}
