package tests

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// The OpenAI-compatible endpoint, driven by the official Go SDK.
func TestOpenAICompatibleWithSDK(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "max_queries_per_hour": 5}), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	ctx := context.Background()
	client := openai.NewClient(option.WithBaseURL(s.url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))

	models, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "models", len(models.Data), 1)
	eq(t, "model id", models.Data[0].ID, "support")
	eq(t, "owned by", models.Data[0].OwnedBy, "tenant-acme")

	// Buffered: system messages follow the agent's prompt, earlier turns are
	// the history, max_tokens lowers the agent's limit.
	var hr *http.Response
	c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "support",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Earlier"),
			openai.AssistantMessage("Earlier answer"), openai.UserMessage("Hello")},
		MaxTokens: openai.Int(100),
	}, option.WithResponseInto(&hr))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "content", c.Choices[0].Message.Content, "Answer to: Hello")
	eq(t, "object", c.Object, "chat.completion")
	eq(t, "finish", c.Choices[0].FinishReason, "stop")
	eq(t, "prompt tokens", c.Usage.PromptTokens, 1000)
	eq(t, "completion tokens", c.Usage.CompletionTokens, 500)
	eq(t, "cost header", hr.Header.Get("X-Tenancy-Cost-USD"), "0.0105")
	eq(t, "call id header", "chatcmpl-"+hr.Header.Get("X-Tenancy-Call-Id"), c.ID)
	last := s.model.lastRequest()
	eq(t, "system prompt", last.SystemPrompt, "You are Acme Corp support.\n\nBe brief.")
	eq(t, "history", len(last.History), 2)
	eq(t, "history[1]", last.History[1].Content, "Earlier answer")
	eq(t, "max tokens", last.MaxTokens, 100)
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "support",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}, MaxCompletionTokens: openai.Int(5000)})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "max tokens never raised", s.model.lastRequest().MaxTokens, 1024)

	// Streaming with usage.
	st := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "support",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream it")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	acc := openai.ChatCompletionAccumulator{}
	chunks := 0
	for st.Next() {
		acc.AddChunk(st.Current())
		chunks++
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	eq(t, "streamed content", acc.Choices[0].Message.Content, "Answer to: Stream it")
	eq(t, "streamed usage", acc.Usage.CompletionTokens, 500)
	eq(t, "chunks (content, stop, usage)", chunks, 3)

	// A session across two calls (user selects it): the second call gets
	// the first turn as history, not the client's messages.
	for _, q := range []string{"My name is Ada", "What is my name?"} {
		if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "support", User: openai.String("ada-1"),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(q)}}); err != nil {
			t.Fatal(err)
		}
	}
	last = s.model.lastRequest()
	eq(t, "session history", len(last.History), 2)
	eq(t, "session history[0]", last.History[0].Content, "My name is Ada")
	r := s.must(s.do("GET", "/tenants/acme/agents/support/sessions/ada-1", key, nil), 200)
	eq(t, "session turns", r.num("total_turns"), "2")

	// The hourly limit (5) is reached: the SDK's rate-limit error.
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "support",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one too many")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v, want *openai.Error", err)
	}
	eq(t, "status", apiErr.StatusCode, 429)
	eq(t, "type", apiErr.Type, "rate_limit_error")
	eq(t, "code", apiErr.Code, "query_limit")
	eq(t, "message", apiErr.Message, "Tenant 'acme' has exceeded usage limits (queries: 5 / 5 per hour)")
	eq(t, "retry after", apiErr.Response.Header.Get("Retry-After"), "1800")

	// Unknown model (agent): 404. Admin key: 403.
	_, err = client.Models.List(ctx, option.WithAPIKey(adminKey))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.Type != "permission_error" {
		t.Fatalf("admin key: %v", err)
	}
	s.clock.Advance(3600e9)
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "ghost",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Type != "not_found_error" {
		t.Fatalf("unknown model: %v", err)
	}
}

// Raw requests: bad input and the error shape.
func TestOpenAICompatibleErrors(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	msgs := []any{map[string]any{"role": "user", "content": "hi"}}
	for _, tc := range []struct {
		body   any
		status int
		msg    string
	}{
		{map[string]any{"messages": msgs}, 400, "model is required (one of your agents: GET /v1/models)"},
		{map[string]any{"model": "support", "messages": []any{}}, 400, "messages must not be empty"},
		{map[string]any{"model": "support", "messages": []any{map[string]any{"role": "assistant", "content": "x"}}}, 400,
			"The last message must be the user's"},
		{map[string]any{"model": "support", "messages": []any{map[string]any{"role": "tool", "content": "x"}}}, 400,
			"Message role 'tool' is not supported (system, developer, user, assistant)"},
		{map[string]any{"model": "support", "messages": msgs, "max_tokens": 0}, 400,
			"max_tokens and max_completion_tokens must be at least 1"},
		{map[string]any{"model": "support", "messages": msgs, "user": "has space"}, 400, "session_id must match ^[A-Za-z0-9_.:@-]{1,128}$"},
		{map[string]any{"model": 7, "messages": msgs}, 400, "Field 'model' must be a string"},
		{`{"model":`, 400, "Malformed JSON in request body"},
		{map[string]any{"model": "../x", "messages": msgs}, 404, "Agent '../x' not found for tenant 'acme'"},
	} {
		r := s.must(s.do("POST", "/v1/chat/completions", key, tc.body), tc.status, tc.msg)
		if r.get("error", "type") == nil || r.body["error"].(map[string]any)["param"] != nil {
			t.Fatalf("error shape: %s", r.raw)
		}
	}
	s.must(s.do("GET", "/v1/models", "", nil), 401, "Missing API key: send Authorization: Bearer <key>")
	s.must(s.do("GET", "/v1/models", adminKey, nil), 403, "This route needs a tenant key (the admin key is not accepted here)")
}
