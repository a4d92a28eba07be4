package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/fakemodel"
)

// Issue 10 on /v1/chat/completions with an OpenClaw agent. Without a
// platform session (no user, no X-Session-Id) the client's messages are the
// only context: the gateway gets them all, under the call's own session
// key, and the reservation counts them. With a platform session the gateway
// keeps the memory: it gets only the new query under the session's key.
//
// claw-agent: input 1000, output 2000 nano-USD per token, 8 calls per run;
// default prompt (28 bytes) + "u2" + 64 = 94 input tokens; a run without
// history reserves 8 x (94 x 1000 + 1000 x 2000) = 16,752,000; the history
// u1, a1 adds 8 x (2 x (2 + 8)) x 1000 = 160,000: 16,912,000.
func TestOpenClawChatHistoryWithoutSession(t *testing.T) {
	gw, err := fakemodel.Start("gw-token", fakemodel.Usage{PromptTokens: 10, CompletionTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gw.SetAgents("tenant-acme-support")
	s := newServer(t, false, withEnv(map[string]string{"TENANCY_CATALOG_FILE": openClawCatalog(t),
		"OPENCLAW_GATEWAY_URL": gw.URL[:len(gw.URL)-3], "OPENCLAW_GATEWAY_TOKEN": "gw-token"}))
	s.must(s.do("POST", "/tenants", adminKey, map[string]any{"tenant_id": "acme", "allowed_models": []string{"claw-agent"}}), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, map[string]any{"agent_id": "support", "llm_model": "claw-agent",
		"max_output_tokens": 1000}), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	messages := []map[string]string{{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"},
		{"role": "user", "content": "u2"}}

	// call answers a chat completion, reading reserved_cost_usd while the
	// gateway holds it.
	call := func(body map[string]any) (resp, string) {
		t.Helper()
		gw.Delay.Store(int64(time.Second))
		defer gw.Delay.Store(0)
		calls := gw.Calls.Load()
		done := make(chan resp, 1)
		go func() { done <- s.do("POST", "/v1/chat/completions", key, body) }()
		for deadline := time.Now().Add(10 * time.Second); gw.Calls.Load() <= calls; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the call never reached the gateway")
			}
		}
		reserved := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200).num("reserved_cost_usd")
		return s.must(<-done, 200), reserved
	}
	received := func() string {
		var out string
		for _, m := range gw.Last().Messages {
			out += fmt.Sprintf("[%s %s]", m.Role, m.Content)
		}
		return out
	}

	r, reserved := call(map[string]any{"model": "support", "messages": messages})
	eq(t, "gateway received", received(), "[system You are a helpful assistant.][user u1][assistant a1][user u2]")
	eq(t, "session key: the call's own", gw.Last().Header.Get("x-openclaw-session-key"),
		"agent:tenant-acme-support:"+r.header.Get("X-Tenancy-Call-Id"))
	eq(t, "reserved with the history", reserved, "0.016912")

	r, reserved = call(map[string]any{"model": "support", "messages": messages, "user": "s1"})
	eq(t, "gateway received (session)", received(), "[system You are a helpful assistant.][user u2]")
	eq(t, "session key (session)", gw.Last().Header.Get("x-openclaw-session-key"), "agent:tenant-acme-support:s1")
	eq(t, "reserved without history (session)", reserved, "0.016752")
	eq(t, "session header", r.header.Get("X-Session-Id"), "s1")
}
