package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// sseWriter writes server-sent events, starting the 200 response at the
// first event, so errors before it are ordinary JSON errors.
type sseWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	started bool
	headers map[string]string // set when the response starts
}

func (s *sseWriter) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	for k, v := range s.headers {
		h.Set(k, v)
	}
	s.w.WriteHeader(http.StatusOK)
}

// event writes one event ("" for a data-only event) with data as JSON (or
// as given when it is a string).
func (s *sseWriter) event(name string, data any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start()
	var b []byte
	if str, ok := data.(string); ok {
		b = []byte(str)
	} else {
		var err error
		if b, err = json.Marshal(data); err != nil {
			return err
		}
	}
	msg := "data: " + string(b) + "\n\n"
	if name != "" {
		msg = "event: " + name + "\n" + msg
	}
	_, err := fmt.Fprint(s.w, msg)
	return err
}

// streamExecute is execute answering text/event-stream: "delta" events as
// the model writes, then "done" with the buffered execute's JSON, or
// "error" when the call fails after the first event.
func (h *Handler) streamExecute(ctx context.Context, w http.ResponseWriter, r *request) error {
	var b executeBody
	if err := r.decode(&b, false); err != nil {
		return err
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	sw := &sseWriter{w: w}
	in.OnDelta = func(s string) error {
		return sw.event("delta", map[string]string{"content": s})
	}
	res, err := h.deps.Service.ExecuteInput(ctx, r.param("tenant_id"), r.param("agent_id"), in)
	if err != nil {
		if !sw.started {
			return err
		}
		p := toProblem(err)
		_ = sw.event("error", p.body())
		return nil
	}
	return sw.event("done", streamDone{Result: res, OverheadMs: streamOverhead(ctx, w)})
}

// streamDone is a stream's "done" event: the buffered execute's JSON and
// the call's overhead in milliseconds (as X-Tenancy-Overhead-Ms, also sent
// as the response's trailer).
type streamDone struct {
	tenancy.Result
	OverheadMs json.RawMessage `json:"overhead_ms"`
}
