package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openclaw/tenancy/internal/provider/providertest"
)

func writeSSE(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	for _, e := range events {
		_, _ = io.WriteString(w, e+"\n\n")
		w.(http.Flusher).Flush()
	}
}

func collect(t *testing.T, s Streamer, req Request) (Response, []string, error) {
	t.Helper()
	return providertest.Collect(t, s.Stream, req)
}

func TestOpenAIStream(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		body := decodeBody(t, r)
		eq(t, "stream", body["stream"], true)
		eq(t, "stream_options", body["stream_options"], map[string]any{"include_usage": true})
		eq(t, "messages", body["messages"], []map[string]string{
			{"role": "system", "content": "You are the ACME support agent."},
			{"role": "user", "content": "Earlier"}, {"role": "assistant", "content": "Earlier answer"},
			{"role": "user", "content": "What is the capital of France?"},
		})
		eq(t, "accept", r.Header.Get("Accept"), "text/event-stream")
		writeSSE(w,
			`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
			`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"The capital"},"finish_reason":null}]}`,
			`: keep-alive`,
			`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" is Paris."},"finish_reason":null}]}`,
			`data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
			`data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":7,"total_tokens":47,"prompt_tokens_details":{"cached_tokens":10}}}`,
			`data: [DONE]`)
	})
	req := testReq
	req.History = []Message{{Role: "user", Content: "Earlier"}, {Role: "assistant", Content: "Earlier answer"}}
	resp, deltas, err := collect(t, newTestOpenAI(t, f.URL, fastOpts()), req)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "deltas", strings.Join(deltas, "|"), "The capital| is Paris.")
	eq(t, "content", resp.Content, "The capital is Paris.")
	eq(t, "usage", resp.Usage, Usage{InputTokens: 30, OutputTokens: 7, CacheReadTokens: 10})
}

func TestOpenAIStreamErrors(t *testing.T) {
	t.Run("no usage", func(t *testing.T) {
		f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			writeSSE(w, `data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}`, `data: [DONE]`)
		})
		resp, _, err := collect(t, newTestOpenAI(t, f.URL, fastOpts()), testReq)
		if !errors.Is(err, ErrUpstream) || !strings.Contains(err.Error(), "without usage") {
			t.Fatalf("err = %v", err)
		}
		eq(t, "content so far", resp.Content, "Hi")
	})
	t.Run("429 before the stream is retried", func(t *testing.T) {
		f := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				writeJSON(w, 429, `{"error":{"message":"slow down","type":"requests"}}`)
				return
			}
			writeSSE(w, `data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}`,
				`data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}`, `data: [DONE]`)
		})
		resp, _, err := collect(t, newTestOpenAI(t, f.URL, fastOpts()), testReq)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "calls", f.N(), 2)
		eq(t, "content", resp.Content, "ok")
	})
	t.Run("broken after the first delta is not retried", func(t *testing.T) {
		f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			writeSSE(w, `data: {"choices":[{"index":0,"delta":{"content":"par"}}]}`, `data: {not json`)
		})
		resp, _, err := collect(t, newTestOpenAI(t, f.URL, fastOpts()), testReq)
		if !errors.Is(err, ErrUpstream) {
			t.Fatalf("err = %v", err)
		}
		eq(t, "calls", f.N(), 1)
		eq(t, "content so far", resp.Content, "par")
	})
	t.Run("the consumer stops the call", func(t *testing.T) {
		f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			writeSSE(w, `data: {"choices":[{"index":0,"delta":{"content":"a"}}]}`, `data: {"choices":[{"index":0,"delta":{"content":"b"}}]}`,
				`data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`, `data: [DONE]`)
		})
		gone := errors.New("client gone")
		resp, err := newTestOpenAI(t, f.URL, fastOpts()).Stream(context.Background(), testReq, func(string) error { return gone })
		if !errors.Is(err, gone) {
			t.Fatalf("err = %v", err)
		}
		eq(t, "calls", f.N(), 1)
		eq(t, "content", resp.Content, "a")
	})
}

// The gateway gets the session key and the History the platform sends:
// none within a platform session (tenancy.Service leaves it empty, the
// gateway remembers), the client's messages without one.
func TestOpenClawStreamSendsSessionKeyAndHistoryGiven(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		eq(t, "session key", r.Header.Get(OpenClawSessionHeader), "agent:tenant-acme-support:user-42")
		eq(t, "messages", decodeBody(t, r)["messages"], []map[string]string{
			{"role": "system", "content": "You are the ACME support agent."},
			{"role": "user", "content": "Earlier"},
			{"role": "user", "content": "What is the capital of France?"},
		})
		writeSSE(w, `data: {"choices":[{"index":0,"delta":{"content":"Paris."}}]}`,
			`data: {"choices":[],"usage":{"prompt_tokens":310,"completion_tokens":4}}`, `data: [DONE]`)
	})
	c, err := NewOpenClaw(f.URL, "gw-token-123456", fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "keeps sessions", c.KeepsSessions(), true)
	req := testReq
	req.SessionID = "user-42"
	req.History = []Message{{Role: "user", Content: "Earlier"}}
	resp, _, err := collect(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "usage", resp.Usage, Usage{InputTokens: 310, OutputTokens: 4})
}

func TestAnthropicStream(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		body := decodeBody(t, r)
		eq(t, "stream", body["stream"], true)
		eq(t, "messages", body["messages"], []map[string]string{
			{"role": "user", "content": "Earlier"}, {"role": "assistant", "content": "Earlier answer"},
			{"role": "user", "content": "What is the capital of France?"},
		})
		writeSSE(w,
			"event: message_start\ndata: "+`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":25,"cache_read_input_tokens":5,"cache_creation_input_tokens":3,"output_tokens":1}}}`,
			"event: content_block_start\ndata: "+`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
			"event: ping\ndata: "+`{"type":"ping"}`,
			"event: content_block_delta\ndata: "+`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Paris"}}`,
			"event: content_block_delta\ndata: "+`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" it is."}}`,
			"event: content_block_stop\ndata: "+`{"type":"content_block_stop","index":0}`,
			"event: message_delta\ndata: "+`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}`,
			"event: message_stop\ndata: "+`{"type":"message_stop"}`)
	})
	req := claudeReq
	req.History = []Message{{Role: "user", Content: "Earlier"}, {Role: "assistant", Content: "Earlier answer"}}
	resp, deltas, err := collect(t, newTestAnthropic(t, f.URL), req)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "deltas", strings.Join(deltas, "|"), "Paris| it is.")
	eq(t, "usage", resp.Usage, Usage{InputTokens: 25, OutputTokens: 15, CacheReadTokens: 5, CacheWriteTokens: 3})
}

func TestAnthropicStreamErrorEvent(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		writeSSE(w,
			"event: message_start\ndata: "+`{"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}`,
			"event: content_block_delta\ndata: "+`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Par"}}`,
			"event: error\ndata: "+`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	})
	resp, _, err := collect(t, newTestAnthropic(t, f.URL), claudeReq)
	if !errors.Is(err, ErrUpstream) || !strings.Contains(err.Error(), "stream error (overloaded_error): Overloaded") {
		t.Fatalf("err = %v", err)
	}
	eq(t, "calls (not retried after a delta)", f.N(), 1)
	eq(t, "content so far", resp.Content, "Par")
	eq(t, "usage so far", resp.Usage.InputTokens, int64(25))
}

func TestDevStreamsWordByWord(t *testing.T) {
	req := Request{Model: "gpt-4o-mini", SystemPrompt: "sys", Query: "one two", MaxTokens: 100}
	full, err := Dev{}.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, deltas, err := collect(t, Dev{}, req)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "content", resp.Content, full.Content)
	eq(t, "usage", resp.Usage, full.Usage)
	eq(t, "deltas", len(deltas), len(strings.Fields(full.Content)))
	eq(t, "first delta", deltas[0], "[dev ")
}

// Implausible usage (negative counts, cached above prompt) is the domain's
// to judge, streamed as buffered: each streaming provider hands it on as
// reported, without an error (tenancy.CheckUsage settles the call).
func TestStreamsHandImplausibleUsageOn(t *testing.T) {
	chat := func(usage string) string {
		return `data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}` + "\n\n" +
			`data: {"choices":[],"usage":` + usage + `}` + "\n\n" + `data: [DONE]`
	}
	for _, c := range []struct {
		name, usage string
		want        Usage
		reported    []Count
	}{
		{"completion_tokens -3", `{"prompt_tokens":10,"completion_tokens":-3}`, Usage{InputTokens: 10, OutputTokens: -3},
			[]Count{{"prompt_tokens", 10}, {"completion_tokens", -3}}},
		{"prompt_tokens -5", `{"prompt_tokens":-5,"completion_tokens":5}`, Usage{InputTokens: -5, OutputTokens: 5},
			[]Count{{"prompt_tokens", -5}, {"completion_tokens", 5}}},
		{"cached above prompt", `{"prompt_tokens":10,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":50}}`,
			Usage{InputTokens: -40, OutputTokens: 5, CacheReadTokens: 50},
			[]Count{{"prompt_tokens", 10}, {"completion_tokens", 5}, {"cached_tokens", 50}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { writeSSE(w, chat(c.usage)) })
			oc, err := NewOpenClaw(f.URL, "gw-token-123456", fastOpts())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []Streamer{newTestOpenAI(t, f.URL, fastOpts()), oc} {
				resp, _, err := collect(t, s, testReq)
				if err != nil {
					t.Fatalf("%T: err = %v", s, err)
				}
				eq(t, "content", resp.Content, "ok")
				eq(t, "usage", resp.Usage, c.want)
				eq(t, "reported", resp.Reported, c.reported)
			}
		})
	}
	t.Run("anthropic", func(t *testing.T) {
		f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			writeSSE(w,
				"event: message_start\ndata: "+`{"type":"message_start","message":{"usage":{"input_tokens":-7,"output_tokens":1}}}`,
				"event: content_block_delta\ndata: "+`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}`,
				"event: message_delta\ndata: "+`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":-2}}`,
				"event: message_stop\ndata: "+`{"type":"message_stop"}`)
		})
		resp, _, err := collect(t, newTestAnthropic(t, f.URL), claudeReq)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "usage", resp.Usage, Usage{InputTokens: -7, OutputTokens: -2})
		eq(t, "reported", resp.Reported, []Count{{"input_tokens", -7}, {"output_tokens", -2},
			{"cache_read_input_tokens", 0}, {"cache_creation_input_tokens", 0}})
	})
}
