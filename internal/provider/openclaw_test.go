package provider

import (
	"context"
	"errors"
	"net/http"
	"strings"
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
		// The platform chooses the session (lowercase): never a client's.
		if got := r.Header.Get("x-openclaw-session-key"); got != "agent:tenant-acme-support:call-42" {
			t.Errorf("session key = %q", got)
		}
		if r.Header.Get("x-openclaw-agent-id") != "" || r.Header.Get("x-openclaw-agent") != "" {
			t.Errorf("agent header sent: %v", r.Header)
		}
		body := decodeBody(t, r)
		// The gateway runs the agent named in the model field.
		eq(t, "model", body["model"], "openclaw/tenant-acme-support")
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
	r = testReq
	r.SessionID = ""
	_, err = c.Complete(context.Background(), r)
	wantClass(t, err, ErrUpstream, "needs a session id")
	r.SessionID = "a\r\nx-openclaw-agent-id: other"
	_, err = c.Complete(context.Background(), r)
	wantClass(t, err, ErrUpstream, "needs a session id")
	if f.N() != 1 {
		t.Errorf("calls = %d, want 1", f.N())
	}
}

func TestOpenClawUnknownAgentAndTenantGateway(t *testing.T) {
	shared := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, `{"error":{"message":"Unknown agent 'tenant-acme-support'.","type":"invalid_request_error"}}`)
	})
	own := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer acme-own-token" {
			t.Errorf("tenant gateway Authorization = %q", got)
		}
		writeJSON(w, 200, `{"choices":[{"message":{"content":"own"}}],"usage":{"prompt_tokens":3,"completion_tokens":4}}`)
	})
	c, err := NewOpenClawGateway(OpenClawConfig{URL: shared.URL, Token: "shared-token", Options: fastOpts(),
		ResolveToken: func(_ context.Context, name string) (string, error) {
			if name != "ACME_GW_TOKEN" {
				return "", errors.New("no such secret")
			}
			return "acme-own-token", nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(context.Background(), testReq)
	wantClass(t, err, ErrUpstream, "the gateway has no agent 'tenant-acme-support'; the operator must create it on the gateway")
	if pub := PublicMessage(err); strings.Contains(pub, "127.0.0.1") || !strings.Contains(pub, "create it on the gateway") {
		t.Errorf("public message %q", pub)
	}
	if shared.N() != 1 {
		t.Errorf("an unknown agent was retried: %d calls", shared.N())
	}
	r := testReq
	r.Gateway = &Gateway{URL: own.URL, TokenSecret: "ACME_GW_TOKEN"}
	resp, err := c.Complete(context.Background(), r)
	if err != nil || resp.Content != "own" {
		t.Fatalf("tenant gateway: %+v %v", resp, err)
	}
	if shared.N() != 1 || own.N() != 1 {
		t.Errorf("calls shared %d own %d", shared.N(), own.N())
	}
	r.Gateway.TokenSecret = "OTHER"
	_, err = c.Complete(context.Background(), r)
	wantClass(t, err, ErrUpstream, `tenant gateway token "OTHER": no such secret`)
	eq(t, "public", PublicMessage(err),
		"openclaw: the tenant's gateway token could not be read; the platform operator must check its secret: model provider error")
}
