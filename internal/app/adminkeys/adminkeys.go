// Package adminkeys wires the Lambda authorizer's admin keys: a list from
// TENANCY_ADMIN_KEY (local runs, the runtime emulator), else the admin key
// secret named by TENANCY_ADMIN_KEY_SECRET, read at cold start and again every
// ReloadEvery, so a rotation in the secret reaches warm instances. Only the
// authorizer links it (and with it the Secrets Manager client).
package adminkeys

import (
	"context"
	"fmt"
	"time"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/secrets"
)

// ReloadEvery is how often a warm authorizer reads the admin key secret
// again. A key removed from the secret stops passing within ReloadEvery plus
// the HTTP API's authorizer cache TTL (infra/stack: 5 minutes).
const ReloadEvery = time.Minute

// Authorizer is the authorizer of a, with its admin keys from the
// environment. client reads the secret (nil: a client from the default AWS
// configuration, made only when a secret is to be read).
func Authorizer(ctx context.Context, a *app.App, getenv func(string) string, client secrets.API) (*api.AuthorizerHandler, error) {
	if v := getenv(schema.EnvAdminKey); v != "" {
		keys, err := auth.ParseAdminKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", schema.EnvAdminKey, err)
		}
		return a.Authorizer(keys), nil
	}
	name := getenv(schema.EnvAdminKeySecret)
	if name == "" {
		return nil, fmt.Errorf("set %s or %s", schema.EnvAdminKey, schema.EnvAdminKeySecret)
	}
	if client == nil {
		c, err := secrets.NewClient(ctx)
		if err != nil {
			return nil, err
		}
		client = c
	}
	load := func(ctx context.Context) ([]string, error) {
		s, err := secrets.GetString(ctx, client, name)
		if err != nil {
			return nil, err
		}
		keys, err := auth.ParseAdminKeys(s)
		if err != nil {
			return nil, fmt.Errorf("secret %q: %w", name, err)
		}
		return keys, nil
	}
	keys, err := load(ctx)
	if err != nil {
		return nil, err
	}
	h := a.Authorizer(keys)
	h.Auth.WithReload(auth.AdminKeyReload{
		Load: load, Every: ReloadEvery, Clock: a.Clock,
		OnError: func(err error) {
			a.Logger.Error("reloading the admin keys failed; the previous keys stay valid", "error", err)
		},
	})
	return h, nil
}
