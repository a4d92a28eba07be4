// Package routing decides which provider serves each catalog model, from
// the environment (and, in AWS, a Secrets Manager secret read once at cold
// start).
//
// Rules, per catalog model:
//   - a model whose catalog entry forces a route (Model.Route) goes there:
//     "openai" needs OPENAI_API_KEY, "anthropic" needs ANTHROPIC_API_KEY,
//     "bedrock" needs the model's bedrock_id, "openclaw" needs
//     OPENCLAW_GATEWAY_URL, "dev" needs nothing;
//   - family openai: the OpenAI-compatible API when OPENAI_API_KEY is set
//     (OPENAI_BASE_URL, default https://api.openai.com/v1), else dev;
//   - family anthropic: Bedrock when TENANCY_CLAUDE_PROVIDER=bedrock (the AWS
//     stack sets it), else the Anthropic API when ANTHROPIC_API_KEY is set
//     (ANTHROPIC_BASE_URL, default https://api.anthropic.com), else dev.
//     TENANCY_CLAUDE_PROVIDER=anthropic or =dev force those.
//
// Every catalog model is routed when the Router is built, so a model that
// cannot be served is a start-up error, not a failed call later.
package routing

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/provider/bedrock"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/secrets"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Environment variables read by FromEnv. The provider ones are fixed by
// issue 4; the TENANCY_ ones are the platform's.
const (
	EnvOpenAIBaseURL    = "OPENAI_BASE_URL"
	EnvOpenAIKey        = "OPENAI_API_KEY"
	EnvAnthropicKey     = "ANTHROPIC_API_KEY"
	EnvAnthropicBaseURL = "ANTHROPIC_BASE_URL"
	EnvOpenClawURL      = "OPENCLAW_GATEWAY_URL"
	EnvOpenClawToken    = "OPENCLAW_GATEWAY_TOKEN"
	// EnvClaudeProvider picks the provider of family-anthropic models:
	// "bedrock" (set by the AWS stack), "anthropic", "dev", or empty for
	// the Anthropic API when ANTHROPIC_API_KEY is set, else dev.
	EnvClaudeProvider = "TENANCY_CLAUDE_PROVIDER"
	// EnvTimeout is the per-call provider timeout as a Go duration
	// ("25s"), retries included; default provider.DefaultTimeout. Keep it
	// below the execute Lambda's timeout (30s).
	EnvTimeout = "TENANCY_PROVIDER_TIMEOUT"
	// EnvProviderSecret names a Secrets Manager secret holding a JSON
	// object of the env names above to values (typically the API keys).
	// Its values take precedence over the environment.
	EnvProviderSecret = schema.EnvProviderSecret
)

// ErrUnknownModel is wrapped by Route for a model that is not in the catalog.
var ErrUnknownModel = errors.New("model is not in the model catalog")

type unknownModelError struct{ model string }

func (e *unknownModelError) Error() string {
	return fmt.Sprintf("Model '%s' is not in the model catalog", e.model)
}
func (e *unknownModelError) Is(target error) bool { return target == ErrUnknownModel }

// Options are the dependencies of New; zero values take the defaults.
type Options struct {
	// Provider tunes the real providers (timeout, retries, HTTP client).
	// TENANCY_PROVIDER_TIMEOUT, when set, overrides Provider.Timeout.
	Provider provider.Options
	// AWSConfig is used for Bedrock and Secrets Manager; default
	// config.LoadDefaultConfig, loaded only if one of them is needed.
	AWSConfig *aws.Config
	// Secrets reads TENANCY_PROVIDER_SECRET; default a client on AWSConfig.
	Secrets secrets.API
	// Bedrock is the Converse client; default a client on AWSConfig.
	Bedrock bedrock.ConverseAPI
}

type route struct {
	p       provider.Provider
	modelID string
	desc    string // the provider as shown by Describe
}

// Router maps each catalog model to its provider and the provider's id for
// it. It is immutable and safe for concurrent use.
type Router struct {
	cat    *catalog.Catalog
	routes map[string]route
	notes  []string
}

// FromEnv builds the Router from the environment (getenv is os.Getenv or a
// test map) and, when TENANCY_PROVIDER_SECRET is set, that secret.
func FromEnv(ctx context.Context, getenv func(string) string, cat *catalog.Catalog) (*Router, error) {
	return New(ctx, getenv, cat, Options{})
}

// New is FromEnv with explicit dependencies.
func New(ctx context.Context, getenv func(string) string, cat *catalog.Catalog, o Options) (*Router, error) {
	if cat == nil {
		return nil, fmt.Errorf("routing: no model catalog")
	}
	b := &builder{ctx: ctx, o: o, getenv: getenv}
	if name := getenv(EnvProviderSecret); name != "" {
		if err := b.overlaySecret(name); err != nil {
			return nil, err
		}
	}
	if v := b.getenv(EnvTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("routing: %s=%q is not a positive Go duration such as \"25s\"", EnvTimeout, v)
		}
		b.o.Provider.Timeout = d
	}
	switch cp := b.getenv(EnvClaudeProvider); cp {
	case "", catalog.RouteBedrock, catalog.RouteAnthropic, catalog.RouteDev:
		b.claude = cp
	default:
		return nil, fmt.Errorf("routing: %s=%q: want %q, %q or %q (or unset)", EnvClaudeProvider, cp,
			catalog.RouteBedrock, catalog.RouteAnthropic, catalog.RouteDev)
	}
	r := &Router{cat: cat, routes: map[string]route{}}
	for _, m := range cat.Models() {
		rt, err := b.route(m)
		if err != nil {
			return nil, fmt.Errorf("routing: model %q: %w", m.Name, err)
		}
		r.routes[m.Name] = rt
	}
	r.notes = b.notes
	if b.openai != nil || b.anthropic != nil || b.bedrock != nil || b.openclaw != nil {
		timeout := b.o.Provider.Timeout
		if timeout <= 0 {
			timeout = provider.DefaultTimeout
		}
		r.notes = append(r.notes, fmt.Sprintf("provider calls time out after %s, retries included (%s)", timeout, EnvTimeout))
	}
	return r, nil
}

// Route implements the domain's ModelRouter: the provider serving model and
// the provider's id for it.
func (r *Router) Route(model string) (p provider.Provider, providerModelID string, err error) {
	rt, ok := r.routes[model]
	if !ok {
		return nil, "", &unknownModelError{model: model}
	}
	return rt.p, rt.modelID, nil
}

// Describe says which provider serves which models, one line per group, for
// start-up output, e.g. "claude-* (4 models) -> anthropic (https://api.anthropic.com)".
// It never shows keys or tokens.
func (r *Router) Describe() []string {
	models := r.cat.Models()
	// A family prefix ("claude", "gpt") is shown as "claude-*" when all its
	// models go to one provider; otherwise its models are listed by name.
	descsOf := map[string]map[string]bool{}
	for _, m := range models {
		pre := prefix(m.Name)
		if descsOf[pre] == nil {
			descsOf[pre] = map[string]bool{}
		}
		descsOf[pre][r.routes[m.Name].desc] = true
	}
	type group struct {
		label string // the family prefix
		names []string
		desc  string
		whole bool // the group is the whole prefix family
	}
	groups := map[string]*group{}
	for _, m := range models {
		rt := r.routes[m.Name]
		pre := prefix(m.Name)
		key := pre + "\x00" + rt.desc
		g := groups[key]
		if g == nil {
			g = &group{label: pre, desc: rt.desc, whole: len(descsOf[pre]) == 1}
			groups[key] = g
		}
		g.names = append(g.names, m.Name)
	}
	lines := make([]string, 0, len(groups)+len(r.notes))
	for _, g := range groups {
		var label string
		switch {
		case len(g.names) > 1 && g.whole:
			label = fmt.Sprintf("%s-* (%d models)", g.label, len(g.names))
		case len(g.names) > 1:
			label = strings.Join(g.names, ", ")
		default:
			label = g.names[0]
			if id := r.routes[label].modelID; id != label && !strings.HasPrefix(g.desc, "bedrock") && g.desc != devDesc {
				label += " (as " + id + ")"
			}
		}
		lines = append(lines, label+" -> "+g.desc)
	}
	sort.Strings(lines)
	return append(lines, r.notes...)
}

func prefix(name string) string {
	if i := strings.IndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}

const devDesc = "dev (offline development provider)"

// builder resolves routes, creating each provider once, when first needed.
type builder struct {
	ctx    context.Context
	o      Options
	getenv func(string) string
	claude string
	notes  []string

	awsCfg                      *aws.Config
	openai, anthropic, openclaw provider.Provider
	bedrock                     provider.Provider
	openaiDesc, anthropicDesc   string
	openclawDesc, bedrockDesc   string
}

// overlaySecret makes the secret's keys shadow the environment: the secret
// is the audited source of the provider keys in AWS, so a stale variable
// left in the function's configuration cannot override a rotated key.
func (b *builder) overlaySecret(name string) error {
	client := b.o.Secrets
	if client == nil {
		cfg, err := b.aws()
		if err != nil {
			return err
		}
		client = secretsmanager.NewFromConfig(cfg)
	}
	var values map[string]string
	if err := secrets.GetJSON(b.ctx, client, name, &values); err != nil {
		return fmt.Errorf("routing: provider settings (%s): %w", EnvProviderSecret, err)
	}
	env := b.getenv
	b.getenv = func(k string) string {
		if v := values[k]; v != "" {
			return v
		}
		return env(k)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.notes = append(b.notes, fmt.Sprintf("provider settings from Secrets Manager secret %s: %s", name, strings.Join(keys, ", ")))
	return nil
}

func (b *builder) aws() (aws.Config, error) {
	if b.awsCfg == nil {
		if b.o.AWSConfig != nil {
			b.awsCfg = b.o.AWSConfig
		} else {
			cfg, err := config.LoadDefaultConfig(b.ctx)
			if err != nil {
				return aws.Config{}, fmt.Errorf("routing: loading the AWS configuration: %w", err)
			}
			b.awsCfg = &cfg
		}
	}
	return *b.awsCfg, nil
}

func (b *builder) route(m catalog.Model) (route, error) {
	id := m.Name
	if m.ProviderModelID != "" {
		id = m.ProviderModelID
	}
	dev := route{p: provider.Dev{}, modelID: m.Name, desc: devDesc}
	switch m.Route {
	case "":
	case catalog.RouteDev:
		return dev, nil
	case catalog.RouteOpenAI:
		return b.openAIRoute(id)
	case catalog.RouteAnthropic:
		return b.anthropicRoute(id)
	case catalog.RouteBedrock:
		return b.bedrockRoute(m)
	case catalog.RouteOpenClaw:
		return b.openClawRoute(id)
	default:
		return route{}, fmt.Errorf("unknown route %q", m.Route)
	}
	switch m.Family {
	case catalog.FamilyOpenAI:
		if b.getenv(EnvOpenAIKey) == "" {
			return dev, nil
		}
		return b.openAIRoute(id)
	case catalog.FamilyAnthropic:
		switch b.claude {
		case catalog.RouteBedrock:
			return b.bedrockRoute(m)
		case catalog.RouteAnthropic:
			return b.anthropicRoute(id)
		case catalog.RouteDev:
			return dev, nil
		}
		if b.getenv(EnvAnthropicKey) == "" {
			return dev, nil
		}
		return b.anthropicRoute(id)
	}
	return route{}, fmt.Errorf("unknown family %q", m.Family)
}

func (b *builder) openAIRoute(id string) (route, error) {
	if b.openai == nil {
		key := b.getenv(EnvOpenAIKey)
		if key == "" {
			return route{}, fmt.Errorf("its route %q needs %s (any value for a server without auth, such as Ollama)",
				catalog.RouteOpenAI, EnvOpenAIKey)
		}
		base := b.getenv(EnvOpenAIBaseURL)
		if base == "" {
			base = provider.DefaultOpenAIBaseURL
		}
		p, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: base, APIKey: key, Options: b.o.Provider})
		if err != nil {
			return route{}, fmt.Errorf("%s: %w", EnvOpenAIBaseURL, err)
		}
		b.openai, b.openaiDesc = p, "openai ("+provider.RedactURL(strings.TrimRight(base, "/"))+")"
	}
	return route{p: b.openai, modelID: id, desc: b.openaiDesc}, nil
}

func (b *builder) anthropicRoute(id string) (route, error) {
	if b.anthropic == nil {
		key := b.getenv(EnvAnthropicKey)
		if key == "" {
			why := fmt.Sprintf("its route %q", catalog.RouteAnthropic)
			if b.claude == catalog.RouteAnthropic {
				why = fmt.Sprintf("%s=%s", EnvClaudeProvider, catalog.RouteAnthropic)
			}
			return route{}, fmt.Errorf("%s needs %s", why, EnvAnthropicKey)
		}
		base := b.getenv(EnvAnthropicBaseURL)
		if base == "" {
			base = provider.DefaultAnthropicBaseURL
		}
		p, err := provider.NewAnthropic(provider.AnthropicConfig{BaseURL: base, APIKey: key, Options: b.o.Provider})
		if err != nil {
			return route{}, fmt.Errorf("%s: %w", EnvAnthropicBaseURL, err)
		}
		b.anthropic, b.anthropicDesc = p, "anthropic ("+provider.RedactURL(strings.TrimRight(base, "/"))+")"
	}
	return route{p: b.anthropic, modelID: id, desc: b.anthropicDesc}, nil
}

func (b *builder) bedrockRoute(m catalog.Model) (route, error) {
	if m.BedrockID == "" {
		return route{}, fmt.Errorf("it is served by Bedrock (%s=%s or its route) but has no bedrock_id", EnvClaudeProvider, catalog.RouteBedrock)
	}
	if b.bedrock == nil {
		client := b.o.Bedrock
		b.bedrockDesc = "bedrock (Amazon Bedrock Converse)"
		if client == nil {
			cfg, err := b.aws()
			if err != nil {
				return route{}, err
			}
			if cfg.Region == "" {
				return route{}, fmt.Errorf("the Bedrock client needs an AWS region (AWS_REGION)")
			}
			client = bedrockruntime.NewFromConfig(cfg)
			b.bedrockDesc = "bedrock (Amazon Bedrock Converse, " + cfg.Region + ")"
		}
		b.bedrock = bedrock.New(client, b.o.Provider)
	}
	return route{p: b.bedrock, modelID: m.BedrockID, desc: b.bedrockDesc}, nil
}

func (b *builder) openClawRoute(id string) (route, error) {
	if b.openclaw == nil {
		u := b.getenv(EnvOpenClawURL)
		if u == "" {
			return route{}, fmt.Errorf("its route %q needs %s", catalog.RouteOpenClaw, EnvOpenClawURL)
		}
		p, err := provider.NewOpenClawGateway(provider.OpenClawConfig{URL: u, Token: b.getenv(EnvOpenClawToken),
			ResolveToken: b.tenantTokens(), Options: b.o.Provider})
		if err != nil {
			return route{}, fmt.Errorf("%s: %w", EnvOpenClawURL, err)
		}
		b.openclaw = p
		b.openclawDesc = "openclaw (" + provider.RedactURL(strings.TrimRight(u, "/")) + ", model openclaw/<agent id>)"
	}
	return route{p: b.openclaw, modelID: id, desc: b.openclawDesc}, nil
}

// tenantTokenTTL is how long a tenant gateway token read from Secrets
// Manager is reused (a rotated token is picked up within it).
const tenantTokenTTL = 5 * time.Minute

// tenantTokens resolves a tenant gateway's token by name: a Secrets Manager
// secret in AWS (where TENANCY_PROVIDER_SECRET is set), an environment
// variable locally.
func (b *builder) tenantTokens() func(ctx context.Context, name string) (string, error) {
	getenv := b.getenv
	if b.getenv(EnvProviderSecret) == "" && b.o.Secrets == nil {
		return func(_ context.Context, name string) (string, error) {
			env := tenancy.GatewayTokenEnv(name)
			v := getenv(env)
			if v == "" {
				return "", fmt.Errorf("environment variable %s is empty", env)
			}
			return v, nil
		}
	}
	var (
		mu     sync.Mutex
		cached = map[string]struct {
			v  string
			at time.Time
		}{}
		client = b.o.Secrets
	)
	return func(ctx context.Context, name string) (string, error) {
		mu.Lock()
		c, ok := cached[name]
		if client == nil {
			cfg, err := b.aws()
			if err != nil {
				mu.Unlock()
				return "", err
			}
			client = secretsmanager.NewFromConfig(cfg)
		}
		cl := client
		mu.Unlock()
		if ok && time.Since(c.at) < tenantTokenTTL {
			return c.v, nil
		}
		v, err := secrets.GetString(ctx, cl, name)
		if err != nil {
			return "", err
		}
		mu.Lock()
		cached[name] = struct {
			v  string
			at time.Time
		}{v, time.Now()}
		mu.Unlock()
		return v, nil
	}
}
