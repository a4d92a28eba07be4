package provider

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

const testOpenAIKey = "sk-test-0123456789abcdef"

// A Chat Completions answer in the documented shape (POST /v1/chat/completions),
// usage with prompt_tokens_details.cached_tokens.
const openAIOK = `{
  "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "gpt-4o-mini-2024-07-18",
  "choices": [
    {
      "index": 0,
      "message": {"role": "assistant", "content": "Paris is the capital of France.", "refusal": null, "annotations": []},
      "logprobs": null,
      "finish_reason": "stop"
    }
  ],
  "usage": {
    "prompt_tokens": 1200,
    "completion_tokens": 85,
    "total_tokens": 1285,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  },
  "service_tier": "default",
  "system_fingerprint": "fp_06737a9306"
}`

var testReq = Request{Model: "gpt-4o-mini", ProviderModelID: "gpt-4o-mini", AgentID: "tenant-acme-support", SessionID: "Call-42",
	SystemPrompt: "You are the ACME support agent.", Query: "What is the capital of France?", MaxTokens: 256}

func newTestOpenAI(t *testing.T, baseURL string, opts Options) *OpenAI {
	t.Helper()
	c, err := NewOpenAI(OpenAIConfig{BaseURL: baseURL, APIKey: testOpenAIKey, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenAIRequestAndUsage(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("request = %s %s, want POST /v1/chat/completions", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testOpenAIKey {
			t.Errorf("Authorization = %q", got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		body := decodeBody(t, r)
		eq(t, "model", body["model"], "gpt-4o-mini")
		eq(t, "messages", body["messages"], []map[string]string{
			{"role": "system", "content": "You are the ACME support agent."},
			{"role": "user", "content": "What is the capital of France?"},
		})
		// A compatible server (not api.openai.com) gets max_tokens.
		eq(t, "max_tokens", body["max_tokens"], 256)
		if _, ok := body["max_completion_tokens"]; ok {
			t.Errorf("max_completion_tokens sent to a compatible server")
		}
		if len(body) != 3 {
			t.Errorf("body has unexpected fields: %v", body)
		}
		writeJSON(w, 200, openAIOK)
	})
	resp, err := newTestOpenAI(t, f.URL+"/v1", fastOpts()).Complete(context.Background(), testReq)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "Paris is the capital of France." || resp.Provider != "openai" {
		t.Errorf("response = %+v", resp)
	}
	// prompt_tokens 1200 includes 1024 cached: input 176, cache read 1024.
	wantUsage(t, resp.Usage, Usage{InputTokens: 176, OutputTokens: 85, CacheReadTokens: 1024})
	if f.N() != 1 {
		t.Errorf("calls = %d, want 1", f.N())
	}
}

func TestOpenAIPublicAPIGetsMaxCompletionTokens(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Host != "api.openai.com" || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("request to %s%s", r.Host, r.URL.Path)
		}
		body := decodeBody(t, r)
		eq(t, "max_completion_tokens", body["max_completion_tokens"], 256)
		if _, ok := body["max_tokens"]; ok {
			t.Errorf("deprecated max_tokens sent to api.openai.com")
		}
		writeJSON(w, 200, openAIOK)
	})
	opts := fastOpts()
	opts.HTTPClient = redirectTo(f.Server)
	c := newTestOpenAI(t, "", opts) // default base URL
	if c.Endpoint() != "https://api.openai.com/v1/chat/completions" {
		t.Errorf("endpoint = %s", c.Endpoint())
	}
	if _, err := c.Complete(context.Background(), testReq); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAIOmitsEmptySystemPromptAndAuth(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "" {
			t.Errorf("Authorization sent without a key: %q", got)
		}
		eq(t, "messages", decodeBody(t, r)["messages"], []map[string]string{{"role": "user", "content": "hi"}})
		writeJSON(w, 200, `{"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`)
	})
	c, err := NewOpenAI(OpenAIConfig{Name: "ollama", BaseURL: f.URL + "/v1", Options: fastOpts()})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Complete(context.Background(), Request{Model: "llama3", Query: "hi", MaxTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "hello" || resp.Provider != "ollama" {
		t.Errorf("response = %+v", resp)
	}
	wantUsage(t, resp.Usage, Usage{InputTokens: 9, OutputTokens: 2})
}

func TestOpenAIRetriesRateLimitHonouringRetryAfter(t *testing.T) {
	var first time.Time
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.Header().Set("retry-after-ms", "60")
			writeJSON(w, 429, `{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
			return
		}
		if waited := time.Since(first); waited < 60*time.Millisecond {
			t.Errorf("retried after %s, before retry-after-ms 60", waited)
		}
		writeJSON(w, 200, openAIOK)
	})
	resp, err := newTestOpenAI(t, f.URL+"/v1", fastOpts()).Complete(context.Background(), testReq)
	if err != nil {
		t.Fatal(err)
	}
	if f.N() != 2 || resp.Content != "Paris is the capital of France." {
		t.Errorf("calls = %d, response = %+v", f.N(), resp)
	}
}

func TestOpenAIRetryAfterBeyondDeadlineIsNotWaitedFor(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		writeJSON(w, 429, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
	})
	start := time.Now()
	_, err := newTestOpenAI(t, f.URL, fastOpts()).Complete(context.Background(), testReq)
	wantClass(t, err, ErrUpstream, "openai: HTTP 429 (requests): Rate limit reached", "not retried")
	if f.N() != 1 || time.Since(start) > time.Second {
		t.Errorf("calls = %d after %s; want 1, at once", f.N(), time.Since(start))
	}
}

func TestOpenAIRetries5xxAndNetworkErrors(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			writeJSON(w, 503, `{"error":{"message":"The server is overloaded","type":"server_error"}}`)
		case 2:
			hangUp(t, w)
		default:
			writeJSON(w, 200, openAIOK)
		}
	})
	if _, err := newTestOpenAI(t, f.URL, fastOpts()).Complete(context.Background(), testReq); err != nil {
		t.Fatal(err)
	}
	if f.N() != 3 {
		t.Errorf("calls = %d, want 3", f.N())
	}
}

func TestOpenAIGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, `{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}`)
	})
	_, err := newTestOpenAI(t, f.URL, fastOpts()).Complete(context.Background(), testReq)
	wantClass(t, err, ErrUpstream, "HTTP 500 (server_error): The server had an error", "gave up after 3 attempts")
	if f.N() != 3 {
		t.Errorf("calls = %d, want 3", f.N())
	}
}

func TestOpenAIClientErrorsAreNotRetried(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, `{"error":{"message":"Invalid 'max_tokens': integer below minimum value.","type":"invalid_request_error","param":"max_tokens","code":"integer_below_min_value"}}`)
	})
	_, err := newTestOpenAI(t, f.URL, fastOpts()).Complete(context.Background(), testReq)
	wantClass(t, err, ErrUpstream, "HTTP 400 (invalid_request_error): Invalid 'max_tokens'")
	if f.N() != 1 {
		t.Errorf("calls = %d, want 1", f.N())
	}
}

func TestOpenAIErrorsNeverCarryTheKey(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		// OpenAI echoes a masked key; a careless proxy might echo it whole.
		writeJSON(w, 401, `{"error":{"message":"Incorrect API key provided: `+testOpenAIKey+` (also sk-proj-abcd****wxyz). You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","code":"invalid_api_key"}}`)
	})
	_, err := newTestOpenAI(t, f.URL, fastOpts()).Complete(context.Background(), testReq)
	wantClass(t, err, ErrUpstream, "HTTP 401", "Incorrect API key provided: [redacted] (also [redacted])")
	if strings.Contains(err.Error(), "sk-") {
		t.Errorf("error leaks a key: %v", err)
	}
}

func TestOpenAIMalformedBodies(t *testing.T) {
	for name, body := range map[string]string{
		"not json":    `<html>bad gateway</html>`,
		"wrong shape": `{"choices": "none"}`,
		"no choices":  `{"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}`,
		"no usage":    `{"choices": [{"message": {"content": "x"}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, body) })
			_, err := newTestOpenAI(t, f.URL, fastOpts()).Complete(context.Background(), testReq)
			wantClass(t, err, ErrUpstream, "openai: malformed")
			if f.N() != 1 {
				t.Errorf("calls = %d, want 1 (a malformed answer is not retried)", f.N())
			}
		})
	}
}

// Implausible usage is reported as it came: tenancy settles it (charged its
// reservation, 502), since the call did happen.
func TestOpenAIPassesImplausibleUsageOn(t *testing.T) {
	for body, want := range map[string]Usage{
		`{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 2}}}`: {InputTokens: -1, OutputTokens: 1, CacheReadTokens: 2},
		`{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": -1, "completion_tokens": 10000000000000000}}`:                               {InputTokens: -1, OutputTokens: 1e16},
	} {
		f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, body) })
		resp, err := newTestOpenAI(t, f.URL, fastOpts()).Complete(context.Background(), testReq)
		if err != nil || resp.Usage != want {
			t.Errorf("%s: %+v %v", body, resp.Usage, err)
		}
	}
}

func TestOpenAISlowResponseTimesOut(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) { stall(r) })
	opts := fastOpts()
	opts.Timeout = 500 * time.Millisecond
	start := time.Now()
	_, err := newTestOpenAI(t, f.URL, opts).Complete(context.Background(), testReq)
	wantClass(t, err, ErrTimeout, "openai: no answer before the deadline (call timeout 500ms)")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestOpenAICallerDeadlineWins(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) { stall(r) })
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
	defer cancel()
	_, err := newTestOpenAI(t, f.URL, fastOpts()).Complete(ctx, testReq)
	wantClass(t, err, ErrTimeout)
}

func TestOpenAIRejectsBadConfigAndRequests(t *testing.T) {
	if _, err := NewOpenAI(OpenAIConfig{BaseURL: "localhost:8000"}); err == nil {
		t.Error("base URL without scheme accepted")
	}
	if _, err := NewOpenAI(OpenAIConfig{MaxTokensField: "max_output_tokens"}); err == nil {
		t.Error("unknown max tokens field accepted")
	}
	c := newTestOpenAI(t, "http://127.0.0.1:1", fastOpts())
	r := testReq
	r.MaxTokens = 0
	_, err := c.Complete(context.Background(), r)
	wantClass(t, err, ErrUpstream, "max_tokens must be positive")
}
