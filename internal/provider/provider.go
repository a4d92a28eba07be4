// Package provider is the model-provider boundary of execute: one interface,
// the offline development provider, and (in their own files) the clients for
// real model APIs.
package provider

import (
	"context"
	"errors"
	"regexp"
)

// Request is one model call. MaxTokens is the agent's max_output_tokens and
// must be sent to the model, so the cost reserved at admit is a true bound.
type Request struct {
	Model           string // vendor model name, e.g. "gpt-4o-mini"
	ProviderModelID string // the id the provider expects (may equal Model)
	AgentID         string // namespaced agent id, e.g. "tenant-acme-support"
	// SessionID is the platform's conversation id, or the call id when there
	// is none. The OpenClaw gateway keeps memory by session key; the key is
	// built by the platform from AgentID and SessionID, never by a client.
	SessionID string
	// Gateway, when set, is the tenant's own OpenClaw gateway (strict
	// isolation: one gateway per tenant); nil uses the shared one.
	Gateway      *Gateway
	SystemPrompt string
	Query        string
	MaxTokens    int
	// History is the conversation so far, oldest first ("user" and
	// "assistant" messages), sent between the system prompt and Query.
	History []Message
}

// Message is one message of a conversation.
type Message struct {
	Role    string `json:"role"` // "user" or "assistant"
	Content string `json:"content"`
}

// SessionKeeper is implemented by providers that remember a conversation
// themselves (the OpenClaw gateway): within a platform session the platform
// sends them only the new query with Request.SessionID (History empty);
// without one, the client's messages are the only context, and History
// carries them as for any provider.
type SessionKeeper interface {
	KeepsSessions() bool
}

// Gateway is a tenant's own OpenClaw gateway: its URL, and the name of the
// secret holding its token (a Secrets Manager secret in AWS, an environment
// variable locally).
type Gateway struct {
	URL         string
	TokenSecret string
}

// TenantScoped is implemented by providers that can serve a tenant from its
// own endpoint (the OpenClaw gateway): the caller reads the tenant's
// gateway settings and passes them in Request.Gateway.
type TenantScoped interface {
	TenantGateways() bool
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
	// Reported is the usage as the provider reported it, in its own names,
	// where Usage is derived from it (OpenAI's prompt_tokens include
	// cached_tokens); nil when Usage holds the counts as reported.
	Reported []Count
}

// Count is one token count as a provider reported it.
type Count struct {
	Name string
	N    int64
}

// Streamer is implemented by providers that stream natively. Stream calls
// onDelta with each piece of the answer as it arrives (an error from onDelta
// stops the call). After a failure, the Response holds the content streamed
// so far and the usage the provider reported so far (zero counts where it
// reported none).
type Streamer interface {
	Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error)
}

// Provider calls a model.
type Provider interface {
	Name() string
	Complete(ctx context.Context, req Request) (Response, error)
}

// Error is a failed provider call. Error() is the full detail, for the log
// (URLs, hosts, ports, paths included); Public is what a client may see:
// the provider's own words and the failure's kind, never where the provider
// lives.
type Error struct {
	Class  error // ErrUpstream or ErrTimeout
	Public string
	Detail string
}

func (e *Error) Error() string { return e.Detail }

// Unwrap exposes the class.
func (e *Error) Unwrap() error { return e.Class }

// PublicMessage is the text of a provider failure a client may see.
func PublicMessage(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Public
	}
	return Scrub(err.Error())
}

var (
	urlLike = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>()]*`)
	// A host name (starting with a letter, so "12:30" is not one) or a
	// bracketed IPv6 address, with a port.
	hostPort = regexp.MustCompile(`(?i)(\[[0-9a-f:.]+\]|\b[a-z][a-z0-9.-]*)(:\d{1,5})\b`)
	ipLike   = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?\b`)
	hostName = regexp.MustCompile(`(?i)\b(lookup|host|dial(ing)?|connect(ing)? to|tcp|udp)\s+[a-z0-9][a-z0-9.-]*\.[a-z0-9.-]+`)
	pathLike = regexp.MustCompile(`(^|[\s"'(])(/[A-Za-z0-9._~%-]+){2,}/?`)
)

// Scrub removes URLs, host names with ports, IP addresses and URL paths
// from a text that may reach a client.
func Scrub(s string) string {
	s = urlLike.ReplaceAllString(s, "[url]")
	s = hostPort.ReplaceAllString(s, "[address]")
	s = ipLike.ReplaceAllString(s, "[address]")
	s = hostName.ReplaceAllString(s, "$1 [host]")
	s = pathLike.ReplaceAllString(s, "$1[path]")
	return s
}

// Failure classes. Providers wrap them (fmt.Errorf("...: %w", ErrUpstream))
// so the HTTP layer maps them to 502 and 504.
var (
	ErrUpstream = errors.New("model provider error")
	ErrTimeout  = errors.New("model provider timed out")
)
