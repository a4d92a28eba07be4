package provider

import (
	"context"
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
	Options
}

// OpenAI is an OpenAI-compatible Chat Completions client: the public OpenAI
// API, vLLM, Ollama, LiteLLM, and (with NewOpenClaw) the OpenClaw gateway.
type OpenAI struct {
	name, endpoint, key, maxField string
	model                         func(Request) (string, error)
	opts                          Options
}

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
		cfg.Model = func(r Request) (string, error) { return modelID(r), nil }
	}
	return &OpenAI{name: cfg.Name, endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions",
		key: cfg.APIKey, maxField: cfg.MaxTokensField, model: cfg.Model, opts: cfg.Options}, nil
}

// openClawModelPrefix prefixes the agent id in the gateway's model field.
const openClawModelPrefix = "openclaw:"

// NewOpenClaw builds a client for the OpenClaw gateway's OpenAI-compatible
// endpoint, POST {gatewayURL}/v1/chat/completions, authenticated with
// "Authorization: Bearer {token}" (no header when token is empty, for a
// gateway with auth mode "none"). The gateway runs the agent named in the
// model field, "openclaw:<namespaced agent id>".
func NewOpenClaw(gatewayURL, token string, opts Options) (*OpenAI, error) {
	return NewOpenAI(OpenAIConfig{
		Name:           "openclaw",
		BaseURL:        strings.TrimRight(gatewayURL, "/") + "/v1",
		APIKey:         token,
		MaxTokensField: MaxTokensField,
		Model: func(r Request) (string, error) {
			if r.AgentID == "" {
				return "", fmt.Errorf("the OpenClaw gateway needs the agent id")
			}
			return openClawModelPrefix + r.AgentID, nil
		},
		Options: opts,
	})
}

// Name implements Provider.
func (c *OpenAI) Name() string { return c.name }

// Endpoint is the URL the client posts to, without credentials.
func (c *OpenAI) Endpoint() string { return RedactURL(c.endpoint) }

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

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
	if err := checkRequest(c.name, req); err != nil {
		return Response{}, err
	}
	model, err := c.model(req)
	if err != nil {
		return Response{}, fmt.Errorf("%s: %v: %w", c.name, err, ErrUpstream)
	}
	var msgs []chatMessage
	if req.SystemPrompt != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: req.SystemPrompt})
	}
	msgs = append(msgs, chatMessage{Role: "user", Content: req.Query})
	body := map[string]any{"model": model, "messages": msgs, c.maxField: req.MaxTokens}
	header := http.Header{}
	if c.key != "" {
		header.Set("Authorization", "Bearer "+c.key)
	}
	var out Response
	err = c.opts.call(ctx, c.name, func(ctx context.Context) error {
		var cr chatResponse
		if err := postJSON(ctx, c.opts.httpClient(), c.endpoint, header, body, &cr, c.key); err != nil {
			return err
		}
		r, err := c.parse(cr)
		out = r
		return err
	})
	return out, err
}

func (c *OpenAI) parse(cr chatResponse) (Response, error) {
	if len(cr.Choices) == 0 {
		return Response{}, upstreamf(false, "malformed response body: no choices")
	}
	u := cr.Usage
	if u == nil || u.PromptTokens == nil || u.CompletionTokens == nil {
		return Response{}, upstreamf(false, "malformed response body: no usage (prompt_tokens, completion_tokens); the call cannot be priced")
	}
	var cached int64
	if u.PromptTokensDetails != nil {
		cached = u.PromptTokensDetails.CachedTokens
	}
	if *u.PromptTokens < 0 || *u.CompletionTokens < 0 || cached < 0 || cached > *u.PromptTokens {
		return Response{}, upstreamf(false, "malformed usage: prompt_tokens=%d completion_tokens=%d cached_tokens=%d",
			*u.PromptTokens, *u.CompletionTokens, cached)
	}
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
		// prompt_tokens includes the cached prompt tokens; Usage is disjoint.
		// OpenAI reports no cache writes (they cost the input price).
		Usage: Usage{InputTokens: *u.PromptTokens - cached, OutputTokens: *u.CompletionTokens, CacheReadTokens: cached},
	}, nil
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
