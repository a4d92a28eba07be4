package bedrock

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/openclaw/tenancy/internal/provider"
)

const bedrockModel = "us.anthropic.claude-sonnet-4-20250514-v1:0"

// A Converse answer in the documented shape (REST-JSON), with cache usage.
const converseOK = `{
  "output": {"message": {"role": "assistant", "content": [{"text": "Paris is the capital of France."}]}},
  "stopReason": "end_turn",
  "usage": {"inputTokens": 30, "outputTokens": 628, "totalTokens": 4158, "cacheReadInputTokens": 2500, "cacheWriteInputTokens": 1000},
  "metrics": {"latencyMs": 1275}
}`

// newTestBedrock is the real SDK client pointed at the fake endpoint with
// static credentials.
func newTestBedrock(t *testing.T, f *fake, opts provider.Options) *Provider {
	t.Helper()
	client := bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(f.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""),
		HTTPClient:   f.Client(),
	})
	return New(client, opts)
}

var bedrockReq = provider.Request{Model: "claude-sonnet-4-20250514", ProviderModelID: bedrockModel, AgentID: "tenant-acme-support",
	SystemPrompt: "You are the ACME support agent.", Query: "What is the capital of France?", MaxTokens: 512}

func TestBedrockConverseRequestAndUsage(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/model/"+bedrockModel+"/converse" {
			t.Errorf("request = %s %s, want POST /model/%s/converse", r.Method, r.URL.Path, bedrockModel)
		}
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/us-east-1/bedrock/aws4_request") {
			t.Errorf("Authorization = %q, want a SigV4 signature for bedrock in us-east-1", auth)
		}
		body := decodeBody(t, r)
		eq(t, "body", body, map[string]any{
			"messages":        []any{map[string]any{"role": "user", "content": []any{map[string]string{"text": "What is the capital of France?"}}}},
			"system":          []any{map[string]string{"text": "You are the ACME support agent."}},
			"inferenceConfig": map[string]int{"maxTokens": 512},
		})
		writeJSON(w, 200, converseOK)
	})
	resp, err := newTestBedrock(t, f, fastOpts()).Complete(context.Background(), bedrockReq)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "Paris is the capital of France." || resp.Provider != "bedrock" {
		t.Errorf("response = %+v", resp)
	}
	eq(t, "usage", resp.Usage, provider.Usage{InputTokens: 30, OutputTokens: 628, CacheReadTokens: 2500, CacheWriteTokens: 1000})
}

func throttled(w http.ResponseWriter) {
	w.Header().Set("X-Amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/")
	writeJSON(w, 429, `{"message":"Too many requests, please wait before trying again."}`)
}

func TestBedrockRetriesThrottlingOnce(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "0.03")
			throttled(w)
			return
		}
		writeJSON(w, 200, converseOK)
	})
	start := time.Now()
	resp, err := newTestBedrock(t, f, fastOpts()).Complete(context.Background(), bedrockReq)
	if err != nil {
		t.Fatal(err)
	}
	if f.N() != 2 || resp.Usage.OutputTokens != 628 {
		t.Errorf("calls = %d, response = %+v", f.N(), resp)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("retried after %s, before Retry-After", d)
	}
}

func TestBedrockErrors(t *testing.T) {
	cases := []struct {
		name      string
		handler   func(w http.ResponseWriter)
		wantCalls int // MaxAttempts is 3: the SDK's own retryer must not multiply them
		want      []string
	}{
		{"throttling persists", throttled, 3,
			[]string{"bedrock: HTTP 429 (ThrottlingException): Too many requests", "gave up after 3 attempts"}},
		{"service unavailable", func(w http.ResponseWriter) {
			w.Header().Set("X-Amzn-ErrorType", "ServiceUnavailableException")
			writeJSON(w, 503, `{"message":"Bedrock is unable to process your request."}`)
		}, 3, []string{"HTTP 503 (ServiceUnavailableException)"}},
		{"validation", func(w http.ResponseWriter) {
			w.Header().Set("X-Amzn-ErrorType", "ValidationException")
			writeJSON(w, 400, `{"message":"The provided model identifier is invalid."}`)
		}, 1, []string{"bedrock: HTTP 400 (ValidationException): The provided model identifier is invalid."}},
		{"access denied", func(w http.ResponseWriter) {
			w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
			writeJSON(w, 403, `{"message":"You don't have access to the model with the specified model ID."}`)
		}, 1, []string{"HTTP 403 (AccessDeniedException)"}},
		{"malformed body", func(w http.ResponseWriter) { writeJSON(w, 200, `{"output": [1, 2`) }, 1,
			[]string{"bedrock: malformed response body"}},
		{"no usage", func(w http.ResponseWriter) {
			writeJSON(w, 200, `{"output":{"message":{"role":"assistant","content":[{"text":"x"}]}},"stopReason":"end_turn"}`)
		}, 1, []string{"no usage"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) { tc.handler(w) })
			_, err := newTestBedrock(t, f, fastOpts()).Complete(context.Background(), bedrockReq)
			wantClass(t, err, provider.ErrUpstream, tc.want...)
			if f.N() != tc.wantCalls {
				t.Errorf("calls = %d, want %d", f.N(), tc.wantCalls)
			}
		})
	}
}

func TestBedrockRetriesNetworkErrors(t *testing.T) {
	f := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			hangUp(t, w)
			return
		}
		writeJSON(w, 200, converseOK)
	})
	if _, err := newTestBedrock(t, f, fastOpts()).Complete(context.Background(), bedrockReq); err != nil {
		t.Fatal(err)
	}
	if f.N() != 2 {
		t.Errorf("calls = %d, want 2", f.N())
	}
}

func TestBedrockSlowResponseTimesOut(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) { stall(r) })
	opts := fastOpts()
	opts.Timeout = 500 * time.Millisecond
	_, err := newTestBedrock(t, f, opts).Complete(context.Background(), bedrockReq)
	wantClass(t, err, provider.ErrTimeout, "bedrock: no answer before the deadline")
	if f.N() != 1 {
		t.Errorf("calls = %d, want 1", f.N())
	}
}
