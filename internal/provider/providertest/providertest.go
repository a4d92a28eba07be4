// Package providertest holds the test doubles shared by the provider
// packages' tests (internal/provider and internal/provider/bedrock): a
// fake upstream whose answer is chosen per call, and small assertions. It
// imports no provider package, so the provider package's own tests can use
// it.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Fake is an httptest server whose handler is chosen per call number
// (1-based).
type Fake struct {
	*httptest.Server
	Calls atomic.Int32
}

// NewFake starts a Fake, closed when the test ends.
func NewFake(t *testing.T, h func(n int, w http.ResponseWriter, r *http.Request)) *Fake {
	t.Helper()
	f := &Fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(int(f.Calls.Add(1)), w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// N is the number of calls so far.
func (f *Fake) N() int { return int(f.Calls.Load()) }

// DecodeBody reads a JSON request body into a generic map.
func DecodeBody(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("reading request body: %v", err)
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("request body is not a JSON object: %v: %s", err, b)
	}
	return m
}

// WriteJSON answers with status and a JSON body.
func WriteJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// HangUp drops the connection without an answer (a network error).
func HangUp(t *testing.T, w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Fatalf("hijack: %v", err)
	}
	conn.Close()
}

// Stall answers only after the client gave up (or after 5s).
func Stall(r *http.Request) {
	// The server notices a client hanging up only once the body is read.
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

// RedirectTo sends every request to the fake server, whatever its URL
// says, so a client configured for a public host can be tested offline.
func RedirectTo(srv *httptest.Server) *http.Client {
	target, _ := url.Parse(srv.URL)
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// WantClass fails the test unless err is of class and its text contains
// every one of contains.
func WantClass(t *testing.T, err, class error, contains ...string) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("error = %v, want %v", err, class)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

// Eq compares got with want as JSON (a decoded JSON value with an
// expected one, or any two values that encode alike).
func Eq(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}

// Collect runs a streamed call (a provider's Stream method) and returns
// its result and the deltas it sent, in order.
func Collect[Req, Resp any](t *testing.T, stream func(context.Context, Req, func(string) error) (Resp, error), req Req) (Resp, []string, error) {
	t.Helper()
	var deltas []string
	resp, err := stream(context.Background(), req, func(d string) error {
		deltas = append(deltas, d)
		return nil
	})
	return resp, deltas, err
}
