// Package fakemodel is an OpenAI-compatible Chat Completions server for
// tests, benchmarks and the load tool: every call is answered with the same
// token usage, after an optional delay, and counted.
package fakemodel

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a running fake. With Agents set it also plays an OpenClaw
// gateway: a model "openclaw/<id>" (or "openclaw:<id>") must name a
// configured agent, else it answers 400 "Unknown agent '<id>'." as the
// gateway does.
type Server struct {
	URL    string       // base URL for OPENAI_BASE_URL (ends in /v1)
	Key    string       // the API key it expects
	Usage  Usage        // what every answer reports (SetUsage changes it)
	Delay  atomic.Int64 // nanoseconds to wait before answering
	Calls  atomic.Int64
	srv    *http.Server
	mu     sync.Mutex
	last   Request
	agents map[string]bool
}

// SetUsage changes the usage every later answer reports (a provider
// reporting chosen, even implausible, usage).
func (s *Server) SetUsage(u Usage) {
	s.mu.Lock()
	s.Usage = u
	s.mu.Unlock()
}

// SetAgents makes the fake an OpenClaw gateway with these agents.
func (s *Server) SetAgents(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agents = map[string]bool{}
	for _, id := range ids {
		s.agents[id] = true
	}
}

// Request is what the fake received in its last call.
type Request struct {
	Model         string
	MaxTokens     int
	Authorization string
	System, User  string
	Messages      []Message   // every message as received, in order
	Header        http.Header // every request header as received
}

// Message is one chat message the fake received.
type Message struct{ Role, Content string }

// Last returns the last request the fake answered.
func (s *Server) Last() Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Usage is what every answer reports (CachedTokens, when not 0, as
// prompt_tokens_details.cached_tokens).
type Usage struct{ PromptTokens, CompletionTokens, CachedTokens int64 }

func (u Usage) json() map[string]any {
	m := map[string]any{"prompt_tokens": u.PromptTokens, "completion_tokens": u.CompletionTokens,
		"total_tokens": u.PromptTokens + u.CompletionTokens}
	if u.CachedTokens != 0 {
		m["prompt_tokens_details"] = map[string]any{"cached_tokens": u.CachedTokens}
	}
	return m
}

// Start serves a fake on a free loopback port.
func Start(key string, usage Usage) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + l.Addr().String() + "/v1", Key: key, Usage: usage}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// Close stops the fake.
func (s *Server) Close() error { return s.srv.Close() }

type request struct {
	Model               string `json:"model"`
	MaxTokens           int    `json:"max_tokens"`
	MaxCompletionTokens int    `json:"max_completion_tokens"`
	Stream              bool   `json:"stream"`
	Messages            []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Key {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`))
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	s.Calls.Add(1)
	last := Request{Model: req.Model, MaxTokens: max(req.MaxTokens, req.MaxCompletionTokens), Authorization: r.Header.Get("Authorization"),
		Header: r.Header.Clone()}
	for _, m := range req.Messages {
		last.Messages = append(last.Messages, Message{Role: m.Role, Content: m.Content})
		switch m.Role {
		case "system":
			last.System = m.Content
		case "user":
			last.User = m.Content
		}
	}
	s.mu.Lock()
	s.last = last
	usage, agents := s.Usage, s.agents
	s.mu.Unlock()
	if agents != nil {
		id := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(req.Model, "openclaw/"), "openclaw:"))
		if !agents[id] {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"message": fmt.Sprintf("Unknown agent '%s'.", id), "type": "invalid_request_error"}})
			return
		}
	}
	if d := time.Duration(s.Delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if req.Stream {
		s.stream(w, req.Model, "fake answer to: "+last.User, usage)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": fmt.Sprintf("chatcmpl-fake%d", s.Calls.Load()), "object": "chat.completion", "created": time.Now().Unix(),
		"model": req.Model,
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": "fake answer to: " + last.User}}},
		"usage": usage.json(),
	})
}

// stream answers as OpenAI does with "stream": true and include_usage: one
// chunk per word, a last chunk with the usage, then [DONE], each flushed.
func (s *Server) stream(w http.ResponseWriter, model, content string, usage Usage) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	id := fmt.Sprintf("chatcmpl-fake%d", s.Calls.Load())
	send := func(v any) {
		b, _ := json.Marshal(v)
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		http.NewResponseController(w).Flush()
	}
	for _, word := range strings.SplitAfter(content, " ") {
		send(map[string]any{"id": id, "object": "chat.completion.chunk", "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": word}}}})
	}
	send(map[string]any{"id": id, "object": "chat.completion.chunk", "model": model, "choices": []any{},
		"usage": usage.json()})
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
}
