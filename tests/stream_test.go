package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/provider"
)

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// stream posts a body and reads the events; stop (if set) is asked after
// each event whether to hang up.
func (s *server) stream(path, key string, body any, accept string, stop func(sseEvent) bool) (*http.Response, []sseEvent) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.url+path, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+key)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	client := http.DefaultClient
	if stop != nil { // hangs up mid-stream: not through the validating transport, which reads whole bodies
		client = &http.Client{Transport: &http.Transport{}}
	}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			evs = append(evs, cur)
			if stop != nil && stop(cur) {
				return resp, evs
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		}
	}
	return resp, evs
}

func decodeEvent(t *testing.T, data string) resp {
	t.Helper()
	r := resp{}
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&r.body); err != nil {
		t.Fatalf("event data %q: %v", data, err)
	}
	return r
}

// scriptedModel streams its words one by one; after the words it fails
// with err, or blocks until the call is cancelled when hang is set.
type scriptedModel struct {
	mu        sync.Mutex
	words     []string
	usage     provider.Usage // reported at the end (or, with early, at the start)
	early     bool
	err       error
	hang      bool
	cancelled chan struct{}
}

func (m *scriptedModel) Name() string                                    { return "scripted" }
func (m *scriptedModel) Route(string) (provider.Provider, string, error) { return m, "", nil }
func (m *scriptedModel) Complete(ctx context.Context, r provider.Request) (provider.Response, error) {
	return m.Stream(ctx, r, func(string) error { return nil })
}

func (m *scriptedModel) Stream(ctx context.Context, r provider.Request, onDelta func(string) error) (provider.Response, error) {
	out := provider.Response{Provider: "scripted"}
	if m.early {
		out.Usage.InputTokens = m.usage.InputTokens
	}
	for _, w := range m.words {
		if err := onDelta(w); err != nil {
			return out, err
		}
		out.Content += w
	}
	if m.hang {
		<-ctx.Done()
		close(m.cancelled)
		return out, fmt.Errorf("scripted: %v: %w", ctx.Err(), provider.ErrTimeout)
	}
	if m.err != nil {
		return out, m.err
	}
	out.Usage = m.usage
	return out, nil
}

func TestStreamExecute(t *testing.T) {
	s := newServer(t, true)
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	key := s.must(s.do("POST", "/tenants/acme/keys", adminKey, nil), 201).str("key")
	const path = "/tenants/acme/agents/support/execute"

	for _, tc := range []struct {
		name   string
		body   map[string]any
		accept string
	}{
		{"stream true", map[string]any{"query": "hi", "stream": true, "session_id": "s1"}, ""},
		{"accept header", map[string]any{"query": "hi", "session_id": "s1"}, "text/event-stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hr, evs := s.stream(path, key, tc.body, tc.accept, nil)
			eq(t, "status", hr.StatusCode, 200)
			eq(t, "content type", hr.Header.Get("Content-Type"), "text/event-stream")
			eq(t, "events", len(evs), 2)
			eq(t, "delta", evs[0].name, "delta")
			eq(t, "delta content", decodeEvent(t, evs[0].data).str("content"), "Answer to: hi")
			eq(t, "done", evs[1].name, "done")
			done := decodeEvent(t, evs[1].data)
			eq(t, "done content", done.str("content"), "Answer to: hi")
			eq(t, "done cost", done.num("cost_usd"), "0.0105")
			eq(t, "done session", done.str("session_id"), "s1")
			eq(t, "done output tokens", done.num("usage", "output_tokens"), "500")
			if len(done.str("call_id")) != 32 {
				t.Fatalf("call_id %q", done.str("call_id"))
			}
		})
	}
	r := s.must(s.do("GET", "/tenants/acme/agents/support/sessions/s1", key, nil), 200)
	eq(t, "streamed turns appended", r.num("total_turns"), "2")

	// Errors before the first byte are the usual JSON errors.
	hr, evs := s.stream(path, key, map[string]any{"query": "", "stream": true}, "", nil)
	eq(t, "status", hr.StatusCode, 400)
	eq(t, "content type", hr.Header.Get("Content-Type"), "application/json")
	eq(t, "events", len(evs), 0)
	hr, _ = s.stream("/tenants/globex/agents/support/execute", key, map[string]any{"query": "x", "stream": true}, "", nil)
	eq(t, "other tenant", hr.StatusCode, 403)
	s.must(s.do("POST", "/tenants/acme/deactivate", adminKey, nil), 200)
	hr, _ = s.stream(path, key, map[string]any{"query": "x", "stream": true}, "", nil)
	eq(t, "inactive", hr.StatusCode, 403)
}

// A provider error after the first delta is an "error" event; the call is
// charged an upper bound from what was streamed (the provider reported no
// usage), and the session gets nothing.
//
//	input bound = 26 (system prompt) + 2 ("hi") + 64 = 92 tokens x 3750 = 345,000
//	output bound = 8 bytes ("partial ") x 15000                     = 120,000
func TestStreamErrorAfterFirstByte(t *testing.T) {
	m := &scriptedModel{words: []string{"partial "}, err: fmt.Errorf("scripted: connection reset: %w", provider.ErrUpstream)}
	s := newServer(t, false, func(o *app.Options) { o.Models = m })
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	hr, evs := s.stream("/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi", "stream": true, "session_id": "s"}, "", nil)
	eq(t, "status", hr.StatusCode, 200)
	eq(t, "events", len(evs), 2)
	eq(t, "error event", evs[1].name, "error")
	e := decodeEvent(t, evs[1].data)
	eq(t, "code", e.str("error", "code"), "provider_error")
	eq(t, "message", e.str("error", "message"), "scripted: connection reset: model provider error")
	u := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "charged the bound", u.num("total_cost_usd"), "0.000465")
	eq(t, "reserved", u.num("reserved_cost_usd"), "0")
	s.must(s.do("GET", "/tenants/acme/agents/support/sessions/s", adminKey, nil), 404)
}

// The client hangs up after the first delta: the model call is cancelled
// and settled with the usage the provider reported so far (1000 input
// tokens at message start) and the output streamed (6 bytes):
// 1000 x 3000 + 6 x 15000 = 3,090,000 nano-USD.
func TestStreamClientGone(t *testing.T) {
	m := &scriptedModel{words: []string{"first "}, hang: true, early: true, usage: provider.Usage{InputTokens: 1000},
		cancelled: make(chan struct{})}
	s := newServer(t, false, func(o *app.Options) { o.Models = m })
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	_, evs := s.stream("/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi", "stream": true}, "",
		func(sseEvent) bool { return true })
	eq(t, "events before hanging up", len(evs), 1)
	select {
	case <-m.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream call was not cancelled")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		u := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
		if u.num("reserved_cost_usd") == "0" {
			eq(t, "charged", u.num("total_cost_usd"), "0.00309")
			eq(t, "queries", u.num("total_queries"), "1")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never settled: %s", u.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A stream interrupted after its provider reported implausible usage
// (input_tokens -5 at message start) is settled as any implausible report:
// failed, charged its reservation (92 x 3750 + 1024 x 15000 = 15,705,000
// nano-USD), not priced from the counts.
func TestStreamInterruptedWithImplausibleUsage(t *testing.T) {
	m := &scriptedModel{words: []string{"partial "}, usage: provider.Usage{InputTokens: -5}, early: true,
		err: fmt.Errorf("scripted: connection reset: %w", provider.ErrUpstream)}
	s := newServer(t, false, func(o *app.Options) { o.Models = m })
	s.must(s.do("POST", "/tenants", adminKey, acme), 201)
	s.must(s.do("POST", "/tenants/acme/agents", adminKey, support), 201)
	_, evs := s.stream("/tenants/acme/agents/support/execute", adminKey, map[string]any{"query": "hi", "stream": true}, "", nil)
	eq(t, "events", len(evs), 2)
	eq(t, "error event", evs[1].name, "error")
	e := decodeEvent(t, evs[1].data)
	eq(t, "code", e.str("error", "code"), "provider_error")
	eq(t, "message", e.str("error", "message"), "scripted: connection reset: model provider error")
	u := s.must(s.do("GET", "/tenants/acme/usage", adminKey, nil), 200)
	eq(t, "charged the reservation", u.num("total_cost_usd"), "0.015705")
	eq(t, "failed calls", u.num("failed_calls"), "1")
	eq(t, "total_queries", u.num("total_queries"), "0")
	eq(t, "reserved", u.num("reserved_cost_usd"), "0")
}
