package routing

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/provider"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var req = provider.Request{Model: "gpt-4o-mini", AgentID: "tenant-acme-support", SessionID: "call1",
	SystemPrompt: "You are the ACME support agent.", Query: "Hello?", MaxTokens: 64}

func fastOptions() Options {
	return Options{Provider: provider.Options{Timeout: 3 * time.Second,
		Retry: provider.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MinAttemptTime: time.Millisecond}}}
}

func mustNew(t *testing.T, vars map[string]string, cat *catalog.Catalog, o Options) *Router {
	t.Helper()
	r, err := New(context.Background(), env(vars), cat, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func eqLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Describe() =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func wantRoute(t *testing.T, r *Router, model, providerName, modelID string) provider.Provider {
	t.Helper()
	p, id, err := r.Route(model)
	if err != nil {
		t.Fatalf("Route(%q): %v", model, err)
	}
	if p.Name() != providerName || id != modelID {
		t.Errorf("Route(%q) = %s, %q; want %s, %q", model, p.Name(), id, providerName, modelID)
	}
	return p
}

func TestNoCredentialsMeansDev(t *testing.T) {
	r := mustNew(t, nil, catalog.Default(), Options{})
	wantRoute(t, r, "gpt-4o-mini", "dev", "gpt-4o-mini")
	wantRoute(t, r, "claude-sonnet-4-20250514", "dev", "claude-sonnet-4-20250514")
	eqLines(t, r.Describe(), []string{
		"claude-* (4 models) -> dev (offline development provider)",
		"gpt-* (4 models) -> dev (offline development provider)",
	})
}

func TestUnknownModel(t *testing.T) {
	r := mustNew(t, nil, catalog.Default(), Options{})
	_, _, err := r.Route("gpt-5-turbo")
	if !errors.Is(err, ErrUnknownModel) || err.Error() != "Model 'gpt-5-turbo' is not in the model catalog" {
		t.Errorf("err = %v", err)
	}
}

// fakeOpenAI answers Chat Completions and records the bearer token and model.
func fakeOpenAI(t *testing.T, seen *[]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Model string `json:"model"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		*seen = append(*seen, r.URL.Path+" "+r.Header.Get("Authorization")+" "+body.Model)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"x",
			"choices":[{"index":0,"message":{"role":"assistant","content":"from the fake"},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":40,"completion_tokens":7,"total_tokens":47,"prompt_tokens_details":{"cached_tokens":8}}}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOpenAIKeyRoutesGPTModelsToTheConfiguredServer(t *testing.T) {
	var seen []string
	srv := fakeOpenAI(t, &seen)
	r := mustNew(t, map[string]string{EnvOpenAIKey: "sk-local-123456", EnvOpenAIBaseURL: srv.URL + "/v1/"}, catalog.Default(), fastOptions())
	p := wantRoute(t, r, "gpt-4o-mini", "openai", "gpt-4o-mini")
	wantRoute(t, r, "claude-haiku-4-5-20251001", "dev", "claude-haiku-4-5-20251001")
	resp, err := p.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "from the fake" || resp.Usage != (provider.Usage{InputTokens: 32, OutputTokens: 7, CacheReadTokens: 8}) {
		t.Errorf("response = %+v", resp)
	}
	if len(seen) != 1 || seen[0] != "/v1/chat/completions Bearer sk-local-123456 gpt-4o-mini" {
		t.Errorf("server saw %q", seen)
	}
	eqLines(t, r.Describe(), []string{
		"claude-* (4 models) -> dev (offline development provider)",
		"gpt-* (4 models) -> openai (" + srv.URL + "/v1)",
		"provider calls time out after 3s, retries included (TENANCY_PROVIDER_TIMEOUT)",
	})
}

func TestAnthropicKeyRoutesClaudeModels(t *testing.T) {
	r := mustNew(t, map[string]string{EnvAnthropicKey: "sk-ant-123456"}, catalog.Default(), Options{})
	wantRoute(t, r, "claude-opus-4-20250514", "anthropic", "claude-opus-4-20250514")
	wantRoute(t, r, "gpt-4.1", "dev", "gpt-4.1")
	eqLines(t, r.Describe(), []string{
		"claude-* (4 models) -> anthropic (https://api.anthropic.com)",
		"gpt-* (4 models) -> dev (offline development provider)",
		"provider calls time out after 25s, retries included (TENANCY_PROVIDER_TIMEOUT)",
	})
	for _, line := range r.Describe() {
		if strings.Contains(line, "sk-") {
			t.Errorf("Describe shows a key: %s", line)
		}
	}
}

func TestBedrockForClaudeInAWS(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"output":{"message":{"role":"assistant","content":[{"text":"hi from bedrock"}]}},"stopReason":"end_turn",
			"usage":{"inputTokens":12,"outputTokens":3,"totalTokens":15},"metrics":{"latencyMs":80}}`)
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	o := fastOptions()
	o.AWSConfig = &cfg
	// Even with an Anthropic key around, the stack's setting wins.
	r := mustNew(t, map[string]string{EnvClaudeProvider: "bedrock", EnvAnthropicKey: "sk-ant-123456"}, catalog.Default(), o)
	p := wantRoute(t, r, "claude-sonnet-4-20250514", "bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0")
	resp, err := p.Complete(context.Background(), provider.Request{Model: "claude-sonnet-4-20250514",
		ProviderModelID: "us.anthropic.claude-sonnet-4-20250514-v1:0", Query: "hi", MaxTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "hi from bedrock" || resp.Usage != (provider.Usage{InputTokens: 12, OutputTokens: 3}) {
		t.Errorf("response = %+v", resp)
	}
	if len(paths) != 1 || paths[0] != "POST /model/us.anthropic.claude-sonnet-4-20250514-v1:0/converse" {
		t.Errorf("paths = %q", paths)
	}
	eqLines(t, r.Describe(), []string{
		"claude-* (4 models) -> bedrock (Amazon Bedrock Converse, us-west-2)",
		"gpt-* (4 models) -> dev (offline development provider)",
		"provider calls time out after 3s, retries included (TENANCY_PROVIDER_TIMEOUT)",
	})
}

func overrides(t *testing.T, file string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Override(catalog.Default(), []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const forcedRoutes = `{"version": "test-1", "models": [
  {"name": "acme-agent", "family": "anthropic", "route": "openclaw", "price": {"input": 3000, "output": 15000}},
  {"name": "llama3.1-8b", "family": "openai", "route": "openai", "provider_model_id": "llama3.1:8b", "price": {"input": 10, "output": 20}},
  {"name": "gpt-4o", "family": "openai", "route": "dev", "price": {"input": 2500, "output": 10000}}
]}`

func TestForcedRoutes(t *testing.T) {
	var seen []string
	srv := fakeOpenAI(t, &seen)
	gw := fakeOpenAI(t, &seen)
	r := mustNew(t, map[string]string{
		EnvOpenAIKey: "ollama", EnvOpenAIBaseURL: srv.URL + "/v1",
		EnvOpenClawURL: gw.URL, EnvOpenClawToken: "gw-secret-token",
	}, overrides(t, forcedRoutes), fastOptions())
	claw := wantRoute(t, r, "acme-agent", "openclaw", "acme-agent")
	llama := wantRoute(t, r, "llama3.1-8b", "openai", "llama3.1:8b")
	wantRoute(t, r, "gpt-4o", "dev", "gpt-4o")
	wantRoute(t, r, "gpt-4o-mini", "openai", "gpt-4o-mini")
	if _, err := claw.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	r2 := req
	r2.Model, r2.ProviderModelID = "llama3.1-8b", "llama3.1:8b"
	if _, err := llama.Complete(context.Background(), r2); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/v1/chat/completions Bearer gw-secret-token openclaw/tenant-acme-support",
		"/v1/chat/completions Bearer ollama llama3.1:8b",
	}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("servers saw %q, want %q", seen, want)
	}
	eqLines(t, r.Describe(), []string{
		"acme-agent -> openclaw (" + gw.URL + ", model openclaw/<agent id>)",
		"claude-* (4 models) -> dev (offline development provider)",
		"gpt-4.1, gpt-4.1-mini, gpt-4o-mini -> openai (" + srv.URL + "/v1)",
		"gpt-4o -> dev (offline development provider)",
		"llama3.1-8b (as llama3.1:8b) -> openai (" + srv.URL + "/v1)",
		"provider calls time out after 3s, retries included (TENANCY_PROVIDER_TIMEOUT)",
	})
}

// fakeSecrets serves one JSON secret.
type fakeSecrets struct {
	name, value string
	calls       int
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	if aws.ToString(in.SecretId) != f.name {
		return nil, errors.New("no such secret")
	}
	return &secretsmanager.GetSecretValueOutput{Name: in.SecretId, SecretString: aws.String(f.value)}, nil
}

func TestSecretValuesWinOverEnv(t *testing.T) {
	var seen []string
	srv := fakeOpenAI(t, &seen)
	sec := &fakeSecrets{name: "tenancy/providers",
		value: `{"OPENAI_API_KEY": "sk-from-secret-1", "OPENAI_BASE_URL": "` + srv.URL + `/v1", "ANTHROPIC_API_KEY": ""}`}
	o := fastOptions()
	o.Secrets = sec
	r := mustNew(t, map[string]string{
		EnvProviderSecret: "tenancy/providers",
		EnvOpenAIKey:      "sk-stale-env-key",   // shadowed by the secret
		EnvAnthropicKey:   "sk-ant-from-env-42", // an empty secret value does not shadow
	}, catalog.Default(), o)
	p := wantRoute(t, r, "gpt-4o", "openai", "gpt-4o")
	wantRoute(t, r, "claude-sonnet-4-20250514", "anthropic", "claude-sonnet-4-20250514")
	if _, err := p.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if sec.calls != 1 || len(seen) != 1 || seen[0] != "/v1/chat/completions Bearer sk-from-secret-1 gpt-4o-mini" {
		t.Errorf("secret calls %d, server saw %q", sec.calls, seen)
	}
	lines := r.Describe()
	if !strings.Contains(strings.Join(lines, "\n"), "provider settings from Secrets Manager secret tenancy/providers: ANTHROPIC_API_KEY, OPENAI_API_KEY, OPENAI_BASE_URL") {
		t.Errorf("Describe() = %q", lines)
	}
	for _, l := range lines {
		if strings.Contains(l, "sk-") {
			t.Errorf("Describe shows a key: %s", l)
		}
	}
}

func TestTimeoutFromEnv(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	r := mustNew(t, map[string]string{EnvOpenAIKey: "k", EnvOpenAIBaseURL: srv.URL, EnvTimeout: "60ms"}, catalog.Default(), fastOptions())
	p, _, _ := r.Route("gpt-4o")
	start := time.Now()
	_, err := p.Complete(context.Background(), req)
	if !errors.Is(err, provider.ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("err = %v after %s", err, time.Since(start))
	}
}

func TestConfigurationErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		vars map[string]string
		cat  string
		want string
	}{
		"bad timeout":       {map[string]string{EnvTimeout: "25"}, "", `routing: TENANCY_PROVIDER_TIMEOUT="25" is not a positive Go duration`},
		"zero timeout":      {map[string]string{EnvTimeout: "0s"}, "", `TENANCY_PROVIDER_TIMEOUT="0s"`},
		"bad claude choice": {map[string]string{EnvClaudeProvider: "vertex"}, "", `routing: TENANCY_CLAUDE_PROVIDER="vertex": want "bedrock", "anthropic" or "dev"`},
		"anthropic forced without key": {map[string]string{EnvClaudeProvider: "anthropic"}, "",
			`routing: model "claude-3-5-haiku-20241022": TENANCY_CLAUDE_PROVIDER=anthropic needs ANTHROPIC_API_KEY`},
		"openclaw without url": {nil, `{"version": "t", "models": [{"name": "a", "family": "openai", "route": "openclaw", "price": {"output": 1}}]}`,
			`routing: model "a": its route "openclaw" needs OPENCLAW_GATEWAY_URL`},
		"openai forced without key": {nil, `{"version": "t", "models": [{"name": "a", "family": "openai", "route": "openai", "price": {"output": 1}}]}`,
			`routing: model "a": its route "openai" needs OPENAI_API_KEY`},
		"anthropic route without key": {nil, `{"version": "t", "models": [{"name": "a", "family": "anthropic", "route": "anthropic", "price": {"output": 1}}]}`,
			`routing: model "a": its route "anthropic" needs ANTHROPIC_API_KEY`},
		"bedrock without id": {map[string]string{EnvClaudeProvider: "bedrock"}, `{"version": "t", "models": [{"name": "a", "family": "anthropic", "price": {"output": 1}}]}`,
			`routing: model "a": it is served by Bedrock (TENANCY_CLAUDE_PROVIDER=bedrock or its route) but has no bedrock_id`},
		"bad base url": {map[string]string{EnvOpenAIKey: "k", EnvOpenAIBaseURL: "localhost:11434"}, "",
			`OPENAI_BASE_URL: openai: base URL "localhost:11434" is not an http(s) URL`},
		"secret unreadable": {map[string]string{EnvProviderSecret: "other"}, "", `routing: provider settings (TENANCY_PROVIDER_SECRET): reading secret "other": no such secret`},
	} {
		t.Run(name, func(t *testing.T) {
			cat := catalog.Default()
			if tc.cat != "" {
				cat = overrides(t, tc.cat)
			}
			o := Options{Secrets: &fakeSecrets{name: "tenancy/providers", value: `{}`}}
			cfg := aws.Config{Region: "us-east-1"}
			o.AWSConfig = &cfg
			_, err := New(context.Background(), env(tc.vars), cat, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// The domain's ModelRouter and the start-up describer.
var (
	_ interface {
		Route(model string) (p provider.Provider, providerModelID string, err error)
	} = (*Router)(nil)
	_ interface{ Describe() []string } = (*Router)(nil)
)

func TestFromEnvWithoutSettingsNeedsNoAWS(t *testing.T) {
	r, err := FromEnv(context.Background(), env(nil), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	wantRoute(t, r, "gpt-4.1-mini", "dev", "gpt-4.1-mini")
	if _, err := FromEnv(context.Background(), env(nil), nil); err == nil {
		t.Error("nil catalog accepted")
	}
}
