package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultOpenAIBaseURL is the public OpenAI API.
const DefaultOpenAIBaseURL = "https://api.openai.com/v1"

// Names of the output-limit field of a Chat Completions request.
const (
	// MaxTokensField is understood by every OpenAI-compatible server (vLLM,
	// Ollama, LiteLLM, llama.cpp, the OpenClaw gateway).
	MaxTokensField = "max_tokens"
	// MaxCompletionTokensField is what OpenAI documents since 2024-09: it
	// deprecated max_tokens, which its reasoning models (o1, o3, gpt-5...)
	// reject.
	MaxCompletionTokensField = "max_completion_tokens"
)

// OpenAIConfig configures an OpenAI-compatible Chat Completions client.
type OpenAIConfig struct {
	// Name is the provider name reported in Response.Provider and in
	// errors. Default "openai".
	Name string
	// BaseURL is the API root; the client POSTs to BaseURL + "/chat/completions".
	// Default DefaultOpenAIBaseURL.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer". Empty sends no header
	// (local servers such as Ollama need none).
	APIKey string
	// MaxTokensField names the field that carries Request.MaxTokens. Default:
	// MaxCompletionTokensField for api.openai.com (OpenAI's documented field),
	// MaxTokensField for every other server (the field compatible servers
	// implement; not all of them know max_completion_tokens).
	MaxTokensField string
	// Model picks the request's "model"; default the request's
	// ProviderModelID, or its Model when that is empty.
	Model func(Request) (string, error)
	// Header adds request headers built from the request (the OpenClaw
	// session key); nil adds none. Client-supplied headers never get here.
	Header func(Request) (http.Header, error)
	// MapError rewrites a failed attempt (the gateway's "Unknown agent").
	MapError func(Request, *AttemptError) *AttemptError
	// ResolveToken reads a tenant gateway's token by its secret name
	// (Request.Gateway); nil: tenant gateways are not supported.
	ResolveToken func(ctx context.Context, name string) (string, error)
	// TenantGateways: the client serves Request.Gateway when it is set.
	TenantGateways bool
	Options
}

// OpenAI is an OpenAI-compatible Chat Completions client: the public OpenAI
// API, vLLM, Ollama, LiteLLM, and (with NewOpenClaw) the OpenClaw gateway.
type OpenAI struct {
	name, endpoint, key, maxField string
	model                         func(Request) (string, error)
	header                        func(Request) (http.Header, error)
	mapError                      func(Request, *AttemptError) *AttemptError
	resolveToken                  func(ctx context.Context, name string) (string, error)
	tenantGateways                bool
	opts                          Options
	sessions                      bool // the server keeps conversations (OpenClaw)
}

// KeepsSessions implements SessionKeeper: the OpenClaw gateway remembers a
// conversation by its session key.
func (c *OpenAI) KeepsSessions() bool { return c.sessions }

// NewOpenAI builds an OpenAI-compatible client.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultOpenAIBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q is not an http(s) URL", cfg.Name, RedactURL(cfg.BaseURL))
	}
	if cfg.MaxTokensField == "" {
		cfg.MaxTokensField = MaxTokensField
		if strings.EqualFold(u.Hostname(), "api.openai.com") {
			cfg.MaxTokensField = MaxCompletionTokensField
		}
	}
	if cfg.MaxTokensField != MaxTokensField && cfg.MaxTokensField != MaxCompletionTokensField {
		return nil, fmt.Errorf("%s: max tokens field must be %q or %q", cfg.Name, MaxTokensField, MaxCompletionTokensField)
	}
	if cfg.Model == nil {
		cfg.Model = func(r Request) (string, error) { return ModelID(r), nil }
	}
	return &OpenAI{name: cfg.Name, endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions",
		key: cfg.APIKey, maxField: cfg.MaxTokensField, model: cfg.Model, header: cfg.Header, mapError: cfg.MapError,
		resolveToken: cfg.ResolveToken, tenantGateways: cfg.TenantGateways, opts: cfg.Options}, nil
}

// OpenClaw gateway request conventions (../shared/notes/openclaw-gateway.md).
const (
	openClawModelPrefix = "openclaw/"
	// OpenClawSessionHeader carries the session key; it also decides which
	// agent runs, so the platform always sends its own.
	OpenClawSessionHeader = "x-openclaw-session-key"
)

// OpenClawConfig configures the OpenClaw gateway client.
type OpenClawConfig struct {
	// URL and Token are the shared gateway (token empty: auth mode "none").
	URL, Token string
	// ResolveToken reads a tenant's own gateway token by its secret name
	// (Secrets Manager in AWS, an environment variable locally).
	ResolveToken func(ctx context.Context, name string) (string, error)
	Options
}

// OpenClawSessionKey is the session key of an agent's conversation:
// "agent:<namespaced agent id>:<session>", lowercase.
func OpenClawSessionKey(agentID, session string) string {
	return strings.ToLower("agent:" + agentID + ":" + session)
}

func validSession(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// NewOpenClaw builds a client for the shared OpenClaw gateway's
// OpenAI-compatible endpoint, POST {gatewayURL}/v1/chat/completions,
// authenticated with "Authorization: Bearer {token}" (no header when token
// is empty, for a gateway with auth mode "none").
func NewOpenClaw(gatewayURL, token string, opts Options) (*OpenAI, error) {
	return NewOpenClawGateway(OpenClawConfig{URL: gatewayURL, Token: token, Options: opts})
}

// NewOpenClawGateway builds the OpenClaw client. Every call chooses the
// agent and the session itself: model "openclaw/<namespaced agent id>" and
// x-openclaw-session-key "agent:<namespaced agent id>:<session>", both
// lowercase (the gateway lowercases agent ids); no client header is ever
// forwarded. A request with a Gateway goes to the tenant's own gateway.
func NewOpenClawGateway(cfg OpenClawConfig) (*OpenAI, error) {
	c, err := newOpenClawGateway(cfg)
	if c != nil {
		c.sessions = true
	}
	return c, err
}

func newOpenClawGateway(cfg OpenClawConfig) (*OpenAI, error) {
	return NewOpenAI(OpenAIConfig{
		Name:           "openclaw",
		BaseURL:        strings.TrimRight(cfg.URL, "/") + "/v1",
		APIKey:         cfg.Token,
		MaxTokensField: MaxTokensField,
		Model: func(r Request) (string, error) {
			if r.AgentID == "" {
				return "", fmt.Errorf("the OpenClaw gateway needs the agent id")
			}
			return openClawModelPrefix + strings.ToLower(r.AgentID), nil
		},
		Header: func(r Request) (http.Header, error) {
			if !validSession(r.SessionID) {
				return nil, fmt.Errorf("the OpenClaw gateway needs a session id of 1 to 200 printable characters")
			}
			h := http.Header{}
			h.Set(OpenClawSessionHeader, OpenClawSessionKey(r.AgentID, r.SessionID))
			return h, nil
		},
		MapError: func(r Request, e *AttemptError) *AttemptError {
			if !strings.Contains(e.msg, "Unknown agent") {
				return e
			}
			id := strings.ToLower(r.AgentID)
			out := *e
			out.Retryable = false
			out.msg = fmt.Sprintf("the gateway has no agent '%s'; the operator must create it on the gateway "+
				"(agents.entries.%s in its config, or agents.create) before this agent can execute", id, id)
			out.detail = out.msg + " (" + e.full() + ")"
			return &out
		},
		ResolveToken:   cfg.ResolveToken,
		TenantGateways: true,
		Options:        cfg.Options,
	})
}

// TenantGateways implements TenantScoped.
func (c *OpenAI) TenantGateways() bool { return c.tenantGateways }

// Name implements Provider.
func (c *OpenAI) Name() string { return c.name }

// Endpoint is the URL the client posts to, without credentials.
func (c *OpenAI) Endpoint() string { return RedactURL(c.endpoint) }

type chatMessage = Message

type chatResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
			Refusal *string `json:"refusal"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        *int64 `json:"prompt_tokens"`
		CompletionTokens    *int64 `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

// Complete implements Provider.
func (c *OpenAI) Complete(ctx context.Context, req Request) (Response, error) {
	if err := CheckRequest(c.name, req); err != nil {
		return Response{}, err
	}
	body, header, endpoint, key, err := c.request(ctx, req)
	if err != nil {
		return Response{}, err
	}
	var out Response
	err = c.opts.Call(ctx, c.name, func(ctx context.Context) error {
		var cr chatResponse
		if err := postJSON(ctx, c.opts.httpClient(), endpoint, header, body, &cr, key); err != nil {
			var ae *AttemptError
			if c.mapError != nil && errors.As(err, &ae) {
				return c.mapError(req, ae)
			}
			return err
		}
		r, err := c.parse(cr)
		out = r
		return err
	})
	return out, err
}

// target is the endpoint and key of a call: the client's own, or the
// tenant's gateway named in the request.
func (c *OpenAI) target(ctx context.Context, req Request) (endpoint, key string, err error) {
	if req.Gateway == nil || !c.tenantGateways {
		return c.endpoint, c.key, nil
	}
	fail := func(public, detail string) (string, string, error) {
		return "", "", newError(ErrUpstream, c.name+": "+public, c.name+": "+detail)
	}
	u, perr := url.Parse(req.Gateway.URL)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("the tenant's gateway URL is not an http(s) URL", "tenant gateway URL "+RedactURL(req.Gateway.URL)+" is not an http(s) URL")
	}
	if req.Gateway.TokenSecret != "" {
		if c.resolveToken == nil {
			return fail("the tenant's gateway token cannot be read here", "no token resolver for tenant gateway tokens")
		}
		key, err = c.resolveToken(ctx, req.Gateway.TokenSecret)
		if err != nil || key == "" {
			// The secret's name is the operator's (admin-only): only the log has it.
			return fail("the tenant's gateway token could not be read; the platform operator must check its secret",
				fmt.Sprintf("tenant gateway token %q: %v", req.Gateway.TokenSecret, err))
		}
	}
	return strings.TrimRight(req.Gateway.URL, "/") + "/v1/chat/completions", key, nil
}

// request is a call's JSON body, headers, endpoint and key.
func (c *OpenAI) request(ctx context.Context, req Request) (map[string]any, http.Header, string, string, error) {
	model, err := c.model(req)
	if err != nil {
		return nil, nil, "", "", fmt.Errorf("%s: %v: %w", c.name, err, ErrUpstream)
	}
	var msgs []chatMessage
	if req.SystemPrompt != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: req.SystemPrompt})
	}
	// A gateway keeping the session gets no History from the platform
	// within a session (its own memory holds it), and the client's own
	// messages without one (SessionKeeper).
	msgs = append(msgs, req.History...)
	msgs = append(msgs, chatMessage{Role: "user", Content: req.Query})
	body := map[string]any{"model": model, "messages": msgs, c.maxField: req.MaxTokens}
	header := http.Header{}
	if c.header != nil {
		h, err := c.header(req)
		if err != nil {
			return nil, nil, "", "", newError(ErrUpstream, c.name+": "+err.Error(), c.name+": "+err.Error())
		}
		header = h
	}
	endpoint, key, err := c.target(ctx, req)
	if err != nil {
		return nil, nil, "", "", err
	}
	if key != "" {
		header.Set("Authorization", "Bearer "+key)
	}
	return body, header, endpoint, key, nil
}

func (c *OpenAI) parse(cr chatResponse) (Response, error) {
	if len(cr.Choices) == 0 {
		return Response{}, Upstreamf(false, "malformed response body: no choices")
	}
	u := cr.Usage
	if u == nil || u.PromptTokens == nil || u.CompletionTokens == nil {
		return Response{}, Upstreamf(false, "malformed response body: no usage (prompt_tokens, completion_tokens); the call cannot be priced")
	}
	usage, reported := openAIUsage(*u.PromptTokens, *u.CompletionTokens, u.PromptTokensDetails)
	msg := cr.Choices[0].Message
	var content string
	switch {
	case msg.Content != nil:
		content = *msg.Content
	case msg.Refusal != nil:
		content = *msg.Refusal
	}
	return Response{
		Content:  content,
		Provider: c.name,
		Usage:    usage,
		Reported: reported,
	}, nil
}

// openAIUsage is the disjoint Usage of an OpenAI usage report, and the
// report itself. prompt_tokens includes the cached prompt tokens; OpenAI
// reports no cache writes (they cost the input price). Implausible counts
// (negative, cached above prompt, huge) are passed on as reported: the call
// happened, and tenancy's usage rule settles it.
func openAIUsage(prompt, completion int64, details *struct {
	CachedTokens int64 `json:"cached_tokens"`
}) (Usage, []Count) {
	reported := []Count{{"prompt_tokens", prompt}, {"completion_tokens", completion}}
	var cached int64
	if details != nil {
		cached = details.CachedTokens
		reported = append(reported, Count{"cached_tokens", cached})
	}
	return Usage{InputTokens: prompt - cached, OutputTokens: completion, CacheReadTokens: cached}, reported
}

// RedactURL drops credentials (user info, query) from a URL for display.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "..."
	}
	return u.String()
}
