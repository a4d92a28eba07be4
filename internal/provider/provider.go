// Package provider is the model-provider boundary of execute: one interface,
// the offline development provider, and (in their own files) the clients for
// real model APIs.
package provider

import (
	"context"
	"errors"
)

// Request is one model call. MaxTokens is the agent's max_output_tokens and
// must be sent to the model, so the cost reserved at admit is a true bound.
type Request struct {
	Model           string // vendor model name, e.g. "gpt-4o-mini"
	ProviderModelID string // the id the provider expects (may equal Model)
	AgentID         string // namespaced agent id, e.g. "tenant-acme-support"
	SystemPrompt    string
	Query           string
	MaxTokens       int
}

// Usage is the provider-reported token usage, normalised so that the four
// counts are disjoint: InputTokens excludes cache reads and cache writes.
type Usage struct {
	InputTokens      int64 `json:"input_tokens"`
	OutputTokens     int64 `json:"output_tokens"`
	CacheReadTokens  int64 `json:"cache_read_tokens,omitempty"`
	CacheWriteTokens int64 `json:"cache_write_tokens,omitempty"`
}

// Response is what a provider returns for one call.
type Response struct {
	Content  string
	Provider string // provider name, e.g. "dev", "openai", "bedrock"
	Usage    Usage
}

// Provider calls a model.
type Provider interface {
	Name() string
	Complete(ctx context.Context, req Request) (Response, error)
}

// Failure classes. Providers wrap them (fmt.Errorf("...: %w", ErrUpstream))
// so the HTTP layer maps them to 502 and 504.
var (
	ErrUpstream = errors.New("model provider error")
	ErrTimeout  = errors.New("model provider timed out")
)
