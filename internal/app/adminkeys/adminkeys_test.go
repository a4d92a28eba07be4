package adminkeys

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/schema"
)

// fakeSecrets is Secrets Manager holding one secret that the test rotates.
type fakeSecrets struct {
	mu    sync.Mutex
	name  string
	value string // "": the secret does not exist
	reads int
}

func (f *fakeSecrets) put(v string) { f.mu.Lock(); f.value = v; f.mu.Unlock() }

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if aws.ToString(in.SecretId) != f.name || f.value == "" {
		return nil, &types.ResourceNotFoundException{Message: aws.String("not found")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

func newApp(t *testing.T, clk clock.Clock, logs *bytes.Buffer) *app.App {
	t.Helper()
	// No DynamoDB is reached: admin keys are resolved without the store.
	a, err := app.New(context.Background(), app.Options{Clock: clk, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Getenv: func(k string) string {
			if k == schema.EnvEndpoint {
				return "http://127.0.0.1:1"
			}
			return ""
		}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func roleOf(t *testing.T, h *api.AuthorizerHandler, key string) string {
	t.Helper()
	var req events.APIGatewayV2CustomAuthorizerV2Request
	req.Headers = map[string]string{"authorization": "Bearer " + key}
	out, err := h.Handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := out.Context["role"].(string)
	return r
}

func TestAdminKeysFromEnv(t *testing.T) {
	var logs bytes.Buffer
	a := newApp(t, clock.System{}, &logs)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	h, err := Authorizer(context.Background(), a, env(map[string]string{schema.EnvAdminKey: "new-admin,old-admin"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"new-admin": "admin", "old-admin": "admin", "new-admin,old-admin": "none", "x": "none"} {
		if got := roleOf(t, h, key); got != want {
			t.Errorf("%s: role %s, want %s", key, got, want)
		}
	}
	for m, want := range map[string]string{
		"a,,b": "TENANCY_ADMIN_KEY: admin keys: key 2 of 3 is empty or not a valid bearer token (printable ASCII, no spaces, at most 256 bytes)",
		"":     "set TENANCY_ADMIN_KEY or TENANCY_ADMIN_KEY_SECRET",
	} {
		if _, err := Authorizer(context.Background(), a, env(map[string]string{schema.EnvAdminKey: m}), nil); err == nil || err.Error() != want {
			t.Errorf("%q: err %v, want %q", m, err, want)
		}
	}
}

// The rotation the README describes, against the secret: add the new key,
// move clients, remove the old key; a warm authorizer follows within
// ReloadEvery.
func TestAdminKeysRotateInTheSecret(t *testing.T) {
	var logs bytes.Buffer
	clk := clock.NewManual(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
	a := newApp(t, clk, &logs)
	sm := &fakeSecrets{name: "tenancy-admin", value: "old-admin"}
	getenv := func(k string) string {
		if k == schema.EnvAdminKeySecret {
			return "tenancy-admin"
		}
		return ""
	}
	h, err := Authorizer(context.Background(), a, getenv, sm)
	if err != nil {
		t.Fatal(err)
	}
	if roleOf(t, h, "old-admin") != "admin" || sm.reads != 1 {
		t.Fatalf("cold start: reads %d", sm.reads)
	}
	sm.put("new-admin,old-admin")
	clk.Advance(ReloadEvery)
	if roleOf(t, h, "new-admin") != "admin" || roleOf(t, h, "old-admin") != "admin" {
		t.Fatalf("both keys should pass during the rotation")
	}
	sm.put(`["new-admin"]`)
	clk.Advance(ReloadEvery - time.Second)
	if roleOf(t, h, "old-admin") != "admin" {
		t.Fatalf("the old key stopped before the reload")
	}
	clk.Advance(time.Second)
	if roleOf(t, h, "old-admin") != "none" || roleOf(t, h, "new-admin") != "admin" || sm.reads != 3 {
		t.Fatalf("after removal: old %s, reads %d", roleOf(t, h, "old-admin"), sm.reads)
	}
	// A broken secret value keeps the keys and is logged without the value.
	sm.put("new-admin,bad key")
	clk.Advance(ReloadEvery)
	if roleOf(t, h, "new-admin") != "admin" {
		t.Fatalf("a bad secret value dropped the keys")
	}
	want := `secret \"tenancy-admin\": admin keys: key 2 of 2 is empty or not a valid bearer token`
	if !strings.Contains(logs.String(), want) || strings.Contains(logs.String(), "new-admin") {
		t.Fatalf("log %s", logs.String())
	}

	// Cold start without the secret fails.
	sm.put("")
	if _, err := Authorizer(context.Background(), a, getenv, sm); err == nil || err.Error() != `reading secret "tenancy-admin": secret not found` {
		t.Fatalf("missing secret: %v", err)
	}
}
