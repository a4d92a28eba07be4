package provider

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

const testAnthropicKey = "sk-ant-api03-testkey0123456789"

// A Messages API answer in the documented shape, with cache usage.
const anthropicOK = `{
  "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-20250514",
  "content": [{"type": "text", "text": "Paris is the capital of France."}],
  "stop_reason": "end_turn",
  "stop_sequence": null,
  "usage": {
    "input_tokens": 2095,
    "cache_creation_input_tokens": 1000,
    "cache_read_input_tokens": 3000,
    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 503,
    "service_tier": "standard"
  }
}`

var claudeReq = Request{Model: "claude-sonnet-4-20250514", ProviderModelID: "claude-sonnet-4-20250514", AgentID: "tenant-acme-support",
	SystemPrompt: "You are the ACME support agent.", Query: "What is the capital of France?", MaxTokens: 512}

func newTestAnthropic(t *testing.T, baseURL string) *Anthropic {
	t.Helper()
	c, err := NewAnthropic(AnthropicConfig{BaseURL: baseURL, APIKey: testAnthropicKey, Options: fastOpts()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAnthropicRequestAndUsage(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
			t.Errorf("request = %s %s, want POST /v1/messages", r.Method, r.URL.Path)
		}
		for h, want := range map[string]string{"x-api-key": testAnthropicKey, "anthropic-version": "2023-06-01",
			"content-type": "application/json", "Authorization": ""} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		body := decodeBody(t, r)
		eq(t, "body", body, map[string]any{
			"model":      "claude-sonnet-4-20250514",
			"max_tokens": 512,
			"system":     "You are the ACME support agent.",
			"messages":   []map[string]string{{"role": "user", "content": "What is the capital of France?"}},
		})
		writeJSON(w, 200, anthropicOK)
	})
	resp, err := newTestAnthropic(t, f.URL).Complete(context.Background(), claudeReq)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "Paris is the capital of France." || resp.Provider != "anthropic" {
		t.Errorf("response = %+v", resp)
	}
	wantUsage(t, resp.Usage, Usage{InputTokens: 2095, OutputTokens: 503, CacheReadTokens: 3000, CacheWriteTokens: 1000})
}

func TestAnthropicJoinsTextBlocks(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-20250514",
			"content":[{"type":"thinking","thinking":"hmm","signature":"x"},{"type":"text","text":"Par"},{"type":"text","text":"is."}],
			"stop_reason":"max_tokens","stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":512}}`)
	})
	resp, err := newTestAnthropic(t, f.URL).Complete(context.Background(), claudeReq)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "Paris." {
		t.Errorf("content = %q", resp.Content)
	}
	wantUsage(t, resp.Usage, Usage{InputTokens: 20, OutputTokens: 512})
}

func TestAnthropicRetriesRateLimitAndOverload(t *testing.T) {
	var first time.Time
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			first = time.Now()
			w.Header().Set("retry-after", "0.05") // seconds
			writeJSON(w, 429, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`)
		case 2:
			if waited := time.Since(first); waited < 50*time.Millisecond {
				t.Errorf("retried after %s, before retry-after 0.05s", waited)
			}
			writeJSON(w, 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
		default:
			writeJSON(w, 200, anthropicOK)
		}
	})
	if _, err := newTestAnthropic(t, f.URL).Complete(context.Background(), claudeReq); err != nil {
		t.Fatal(err)
	}
	if f.N() != 3 {
		t.Errorf("calls = %d, want 3", f.N())
	}
}

func TestAnthropicErrors(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		wantCalls int
		want      []string
	}{
		{"overloaded persists", 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, 3,
			[]string{"anthropic: HTTP 529 (overloaded_error): Overloaded", "gave up after 3 attempts"}},
		{"invalid request", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`, 1,
			[]string{"anthropic: HTTP 400 (invalid_request_error): max_tokens: Field required"}},
		{"bad key", 401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key ` + testAnthropicKey + `"}}`, 1,
			[]string{"HTTP 401 (authentication_error): invalid x-api-key [redacted]"}},
		{"not json", 200, `upstream connect error`, 1, []string{"anthropic: malformed response body"}},
		{"not a message", 200, `{"type":"error","error":{"type":"api_error","message":"x"}}`, 1, []string{`malformed response body: type "error"`}},
		{"no usage", 200, `{"type":"message","content":[{"type":"text","text":"x"}]}`, 1, []string{"no usage"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) { writeJSON(w, tc.status, tc.body) })
			_, err := newTestAnthropic(t, f.URL).Complete(context.Background(), claudeReq)
			wantClass(t, err, ErrUpstream, tc.want...)
			if strings.Contains(err.Error(), testAnthropicKey) {
				t.Errorf("error leaks the key: %v", err)
			}
			if f.N() != tc.wantCalls {
				t.Errorf("calls = %d, want %d", f.N(), tc.wantCalls)
			}
		})
	}
}

func TestAnthropicSlowResponseTimesOut(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) { stall(r) })
	c, err := NewAnthropic(AnthropicConfig{BaseURL: f.URL, APIKey: testAnthropicKey, Options: Options{Timeout: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(context.Background(), claudeReq)
	wantClass(t, err, ErrTimeout, "anthropic: no answer before the deadline")
}

func TestAnthropicNeedsAKey(t *testing.T) {
	if _, err := NewAnthropic(AnthropicConfig{}); err == nil {
		t.Error("client without a key built")
	}
}
