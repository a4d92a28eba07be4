package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/openclaw/tenancy/internal/provider"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// The OpenAI-compatible surface: POST /v1/chat/completions and GET
// /v1/models, with a tenant key. "model" is one of the tenant's agents (its
// short id); the agent's system prompt, model, tools and limits apply, and
// the same quotas hold.

// Headers carrying the platform's accounting of a call.
const (
	CostHeader    = "X-Tenancy-Cost-USD"
	CallIDHeader  = "X-Tenancy-Call-Id"
	SessionHeader = "X-Session-Id"
)

type chatContent struct{ text string }

// UnmarshalJSON accepts a string or an array of content parts (only text
// parts are supported).
func (c *chatContent) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.text); err == nil {
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return tenancy.Validationf("Field 'messages.content' must be a string or an array of text parts")
	}
	var sb strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return tenancy.Validationf("Only text content parts are supported (got '%s')", p.Type)
		}
		sb.WriteString(p.Text)
	}
	c.text = sb.String()
	return nil
}

// chatRequest is the part of OpenAI's chat completion request the platform
// implements. It is an open object (openTypes): a field it does not know
// (temperature, top_p, ...) is ignored, as an OpenAI-compatible endpoint must.
type chatRequest struct {
	Model               string               `json:"model" openapi:"required"`
	Messages            []chatRequestMessage `json:"messages" openapi:"required"`
	MaxTokens           *int                 `json:"max_tokens"`
	MaxCompletionTokens *int                 `json:"max_completion_tokens"`
	Stream              *bool                `json:"stream"`
	StreamOptions       *chatStreamOptions   `json:"stream_options"`
	User                *string              `json:"user"`
	N                   *int                 `json:"n"`
}

// chatRequestMessage is one message of a chat request (open, like it).
type chatRequestMessage struct {
	Role    string       `json:"role" openapi:"required"`
	Content *chatContent `json:"content"`
}

// chatStreamOptions are a streamed request's options (open).
type chatStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// input turns an OpenAI request into an execute: system (and developer)
// messages follow the agent's system prompt, the last message must be the
// user's query, the earlier ones are the history unless a session is
// selected (X-Session-Id, else "user").
func (c chatRequest) input(sessionHeader string) (tenancy.Input, error) {
	if c.Model == "" {
		return tenancy.Input{}, tenancy.Validationf("model is required (one of your agents: GET /v1/models)")
	}
	if len(c.Messages) == 0 {
		return tenancy.Input{}, tenancy.Validationf("messages must not be empty")
	}
	if c.N != nil && *c.N != 1 {
		return tenancy.Input{}, tenancy.Validationf("n must be 1")
	}
	var in tenancy.Input
	for _, limit := range []*int{c.MaxTokens, c.MaxCompletionTokens} {
		if limit == nil {
			continue
		}
		if *limit < 1 {
			return tenancy.Input{}, tenancy.Validationf("max_tokens and max_completion_tokens must be at least 1")
		}
		if in.MaxTokens == 0 || *limit < in.MaxTokens {
			in.MaxTokens = *limit
		}
	}
	switch {
	case sessionHeader != "":
		in.SessionID = sessionHeader
	case c.User != nil && *c.User != "":
		in.SessionID = *c.User
	}
	if in.SessionID != "" {
		if err := tenancy.CheckSessionID(in.SessionID); err != nil {
			return tenancy.Input{}, err
		}
	}
	var system []string
	last := len(c.Messages) - 1
	for i, m := range c.Messages {
		text := ""
		if m.Content != nil {
			text = m.Content.text
		}
		switch m.Role {
		case "system", "developer":
			if i == last {
				return tenancy.Input{}, tenancy.Validationf("The last message must be the user's")
			}
			system = append(system, text)
		case "user", "assistant":
			if i == last {
				if m.Role != "user" {
					return tenancy.Input{}, tenancy.Validationf("The last message must be the user's")
				}
				in.Query = text
			} else if in.SessionID == "" {
				in.Messages = append(in.Messages, provider.Message{Role: m.Role, Content: text})
			}
		default:
			return tenancy.Input{}, tenancy.Validationf("Message role '%s' is not supported (system, developer, user, assistant)", m.Role)
		}
	}
	in.System = strings.Join(system, "\n\n")
	var n int
	for _, m := range in.Messages {
		n += len(m.Content)
	}
	if n+len(in.System) > tenancy.MaxQueryBytes*2 {
		return tenancy.Input{}, tenancy.Validationf("messages must be at most %d bytes", tenancy.MaxQueryBytes*2)
	}
	return in, nil
}

// ChatCompletion is OpenAI's chat.completion object.
type ChatCompletion struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []ChatChoice    `json:"choices"`
	Usage   CompletionUsage `json:"usage"`
}

// ChatChoice is the one choice of a completion.
type ChatChoice struct {
	Index        int         `json:"index"`
	Message      ChatMessage `json:"message"`
	FinishReason string      `json:"finish_reason"`
}

// ChatMessage is the assistant's message.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// CompletionUsage is OpenAI's usage: prompt_tokens includes cached ones.
type CompletionUsage struct {
	PromptTokens        int64               `json:"prompt_tokens"`
	CompletionTokens    int64               `json:"completion_tokens"`
	TotalTokens         int64               `json:"total_tokens"`
	PromptTokensDetails PromptTokensDetails `json:"prompt_tokens_details"`
}

// PromptTokensDetails is the cached part of the prompt.
type PromptTokensDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// ModelList is OpenAI's model list: the tenant's agents.
type ModelList struct {
	Object string        `json:"object"`
	Data   []OpenAIModel `json:"data"`
}

// OpenAIModel is one agent as an OpenAI model.
type OpenAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func usageOf(u provider.Usage) CompletionUsage {
	in := u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
	return CompletionUsage{PromptTokens: in, CompletionTokens: u.OutputTokens, TotalTokens: in + u.OutputTokens,
		PromptTokensDetails: PromptTokensDetails{CachedTokens: u.CacheReadTokens}}
}

func (h *Handler) chatCompletions(ctx context.Context, w http.ResponseWriter, r *request) error {
	b, err := r.body()
	if err != nil {
		return err
	}
	var c chatRequest
	if err := DecodeOpenJSON(b, &c); err != nil {
		return err
	}
	in, err := c.input(r.header(SessionHeader))
	if err != nil {
		return err
	}
	tenantID := r.principal.TenantID
	a, err := h.deps.Service.GetAgent(ctx, tenantID, c.Model)
	if err != nil {
		if tenancy.CheckAgentID(c.Model) != nil {
			return tenancy.AgentNotFound(c.Model, tenantID)
		}
		return err
	}
	created := h.deps.Service.Now().Unix()
	if c.Stream == nil || !*c.Stream {
		res, err := h.deps.Service.Run(ctx, a, in)
		if err != nil {
			return err
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set(CostHeader, res.Cost.Decimal())
		hd.Set(CallIDHeader, res.CallID)
		if res.SessionID != "" {
			hd.Set(SessionHeader, res.SessionID)
		}
		w.WriteHeader(http.StatusOK)
		return json.NewEncoder(w).Encode(ChatCompletion{ID: "chatcmpl-" + res.CallID, Object: "chat.completion",
			Created: created, Model: a.AgentID, Usage: usageOf(res.Usage),
			Choices: []ChatChoice{{FinishReason: "stop", Message: ChatMessage{Role: "assistant", Content: res.Content}}}})
	}
	sw := &sseWriter{w: w, headers: map[string]string{}}
	var id string
	in.OnAdmit = func(callID string) {
		id = "chatcmpl-" + callID
		sw.headers[CallIDHeader] = callID
		if in.SessionID != "" {
			sw.headers[SessionHeader] = in.SessionID
		}
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": a.AgentID,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil}}}
	}
	first := true
	in.OnDelta = func(s string) error {
		d := map[string]any{"content": s}
		if first {
			d["role"] = "assistant"
			first = false
		}
		return sw.event("", chunk(d, nil))
	}
	res, err := h.deps.Service.Run(ctx, a, in)
	if err != nil {
		if !sw.started {
			return err
		}
		_ = sw.event("", toProblem(err).body())
		return nil
	}
	if first {
		_ = sw.event("", chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	}
	if err := sw.event("", chunk(map[string]any{}, "stop")); err != nil {
		return nil
	}
	if c.StreamOptions != nil && c.StreamOptions.IncludeUsage {
		_ = sw.event("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": a.AgentID,
			"choices": []any{}, "usage": usageOf(res.Usage),
			"tenancy": map[string]any{"cost_usd": res.Cost, "call_id": res.CallID, "overhead_ms": streamOverhead(ctx, w)}})
	}
	_ = sw.event("", "[DONE]")
	return nil
}

func (h *Handler) models(ctx context.Context, w http.ResponseWriter, r *request) error {
	agents, err := h.deps.Service.ListAgents(ctx, r.principal.TenantID)
	if err != nil {
		return err
	}
	out := ModelList{Object: "list", Data: make([]OpenAIModel, 0, len(agents))}
	for _, a := range agents {
		out.Data = append(out.Data, OpenAIModel{ID: a.AgentID, Object: "model", Created: a.CreatedAt.Unix(),
			OwnedBy: "tenant-" + a.TenantID})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(out)
}
