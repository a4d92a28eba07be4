package provider

import (
	"context"
	"net/http"
	"testing"
)

func TestOpenClawGateway(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("request = %s %s, want POST /v1/chat/completions", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer gw-token-123456" {
			t.Errorf("Authorization = %q", got)
		}
		body := decodeBody(t, r)
		// The gateway runs the agent named in the model field.
		eq(t, "model", body["model"], "openclaw:tenant-acme-support")
		eq(t, "messages", body["messages"], []map[string]string{
			{"role": "system", "content": "You are the ACME support agent."},
			{"role": "user", "content": "What is the capital of France?"},
		})
		eq(t, "max_tokens", body["max_tokens"], 256)
		writeJSON(w, 200, `{"id":"chatcmpl_1","object":"chat.completion","created":1767225600,"model":"openclaw:tenant-acme-support",
			"choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}],
			"usage":{"prompt_tokens":310,"completion_tokens":4,"total_tokens":314}}`)
	})
	c, err := NewOpenClaw(f.URL+"/", "gw-token-123456", fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "openclaw" || c.Endpoint() != f.URL+"/v1/chat/completions" {
		t.Errorf("name %q endpoint %q", c.Name(), c.Endpoint())
	}
	resp, err := c.Complete(context.Background(), testReq)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "Paris." || resp.Provider != "openclaw" {
		t.Errorf("response = %+v", resp)
	}
	wantUsage(t, resp.Usage, Usage{InputTokens: 310, OutputTokens: 4})

	r := testReq
	r.AgentID = ""
	_, err = c.Complete(context.Background(), r)
	wantClass(t, err, ErrUpstream, "needs the agent id")
	if f.n() != 1 {
		t.Errorf("calls = %d, want 1", f.n())
	}
}
