package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultAnthropicBaseURL is the public Anthropic API.
const DefaultAnthropicBaseURL = "https://api.anthropic.com"

// AnthropicVersion is the Messages API version sent in "anthropic-version".
const AnthropicVersion = "2023-06-01"

// AnthropicConfig configures the Anthropic Messages API client.
type AnthropicConfig struct {
	BaseURL string // API root; the client POSTs to BaseURL + "/v1/messages". Default DefaultAnthropicBaseURL
	APIKey  string // sent as "x-api-key"; required
	Options
}

// Anthropic is a client of the Anthropic Messages API.
type Anthropic struct {
	endpoint, key string
	opts          Options
}

// NewAnthropic builds an Anthropic Messages API client.
func NewAnthropic(cfg AnthropicConfig) (*Anthropic, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultAnthropicBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("anthropic: base URL %q is not an http(s) URL", RedactURL(cfg.BaseURL))
	}
	if cfg.APIKey == "" {
		return nil, fmt.Errorf("anthropic: API key is empty")
	}
	return &Anthropic{endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/v1/messages", key: cfg.APIKey, opts: cfg.Options}, nil
}

// Name implements Provider.
func (*Anthropic) Name() string { return "anthropic" }

// Endpoint is the URL the client posts to, without credentials.
func (c *Anthropic) Endpoint() string { return RedactURL(c.endpoint) }

type anthropicRequest struct {
	Model     string        `json:"model"`
	MaxTokens int           `json:"max_tokens"`
	System    string        `json:"system,omitempty"`
	Messages  []chatMessage `json:"messages"`
	Stream    bool          `json:"stream,omitempty"`
}

type anthropicResponse struct {
	Type    string `json:"type"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StopReason string `json:"stop_reason"`
	Usage      *struct {
		InputTokens              *int64 `json:"input_tokens"`
		OutputTokens             *int64 `json:"output_tokens"`
		CacheCreationInputTokens int64  `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64  `json:"cache_read_input_tokens"`
	} `json:"usage"`
}

// Complete implements Provider.
func (c *Anthropic) Complete(ctx context.Context, req Request) (Response, error) {
	if err := CheckRequest("anthropic", req); err != nil {
		return Response{}, err
	}
	body := anthropicRequest{Model: ModelID(req), MaxTokens: req.MaxTokens, System: req.SystemPrompt,
		Messages: append(append([]chatMessage{}, req.History...), chatMessage{Role: "user", Content: req.Query})}
	header := http.Header{}
	header.Set("x-api-key", c.key)
	header.Set("anthropic-version", AnthropicVersion)
	var out Response
	err := c.opts.Call(ctx, "anthropic", func(ctx context.Context) error {
		var ar anthropicResponse
		if err := postJSON(ctx, c.opts.httpClient(), c.endpoint, header, body, &ar, c.key); err != nil {
			return err
		}
		r, err := parseAnthropic(ar)
		out = r
		return err
	})
	return out, err
}

func parseAnthropic(ar anthropicResponse) (Response, error) {
	if ar.Type != "message" {
		return Response{}, Upstreamf(false, "malformed response body: type %q, want \"message\"", ar.Type)
	}
	u := ar.Usage
	if u == nil || u.InputTokens == nil || u.OutputTokens == nil {
		return Response{}, Upstreamf(false, "malformed response body: no usage (input_tokens, output_tokens); the call cannot be priced")
	}
	// Implausible counts (negative, huge) are the domain's to judge: the
	// call happened, and it is settled by tenancy's usage rule.
	var b strings.Builder
	for _, blk := range ar.Content {
		if blk.Type == "text" {
			b.WriteString(blk.Text)
		}
	}
	return Response{
		Content:  b.String(),
		Provider: "anthropic",
		// Anthropic's input_tokens already excludes cache reads and writes.
		Usage: Usage{InputTokens: *u.InputTokens, OutputTokens: *u.OutputTokens,
			CacheReadTokens: u.CacheReadInputTokens, CacheWriteTokens: u.CacheCreationInputTokens},
		Reported: anthropicReported(Usage{InputTokens: *u.InputTokens, OutputTokens: *u.OutputTokens,
			CacheReadTokens: u.CacheReadInputTokens, CacheWriteTokens: u.CacheCreationInputTokens}),
	}, nil
}

// anthropicReported is a Messages API usage in its own names (the counts
// are those of Usage: Anthropic's are already disjoint).
func anthropicReported(u Usage) []Count {
	return []Count{{"input_tokens", u.InputTokens}, {"output_tokens", u.OutputTokens},
		{"cache_read_input_tokens", u.CacheReadTokens}, {"cache_creation_input_tokens", u.CacheWriteTokens}}
}
