package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds one Complete call, retries included. The execute
// Lambda has 30s; 25s leaves time to settle the call and answer.
const DefaultTimeout = 25 * time.Second

// Options tune the reliability of a real provider client. Zero values take
// the defaults.
type Options struct {
	// Timeout bounds one Complete call, all attempts and waits included. A
	// caller's earlier deadline (the Lambda's) still wins. Default
	// DefaultTimeout.
	Timeout time.Duration
	// Retry is the retry policy for throttling, 5xx and network errors.
	Retry RetryPolicy
	// HTTPClient is used by the HTTP providers (OpenAI-compatible,
	// Anthropic). Default: a client on a copy of http.DefaultTransport that
	// keeps up to MaxIdleConnsPerProvider idle connections per provider,
	// without its own timeout (the context carries it).
	HTTPClient *http.Client
}

// RetryPolicy is exponential backoff with jitter. A failed attempt is retried
// when it is retryable (HTTP 429, 5xx or a network error), attempts remain,
// and the context's deadline leaves the wait plus MinAttemptTime. A
// Retry-After (or retry-after-ms) header from the provider replaces the
// computed backoff.
type RetryPolicy struct {
	MaxAttempts    int           // attempts in all, the first included; default 4
	BaseDelay      time.Duration // first backoff; default 250ms; doubles per retry
	MaxDelay       time.Duration // cap on the computed backoff; default 4s
	MinAttemptTime time.Duration // time an attempt needs to be worth starting; default 1s
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

func (o Options) httpClient() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return defaultHTTPClient
}

// MaxIdleConnsPerProvider is how many idle connections the default client
// keeps to one provider host. http.DefaultTransport keeps 2, so beyond 2
// concurrent calls every call would open (and for HTTPS, handshake) a new
// connection and leave one in TIME_WAIT.
const MaxIdleConnsPerProvider = 256

var defaultHTTPClient = &http.Client{Transport: defaultTransport()}

func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 0, MaxIdleConnsPerProvider // 0: no limit over all hosts
	return t
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 250 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 4 * time.Second
	}
	if p.MinAttemptTime <= 0 {
		p.MinAttemptTime = time.Second
	}
	return p
}

// backoff is the wait before retry number n (1-based): "equal jitter", half
// of the exponential delay plus a random part of the other half, so retries
// from many Lambdas spread out but never come back immediately.
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay << min(n-1, 30)
	if d <= 0 || d > p.MaxDelay {
		d = p.MaxDelay
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// AttemptError is one failed attempt of a provider call: what an attempt
// given to Options.Call returns (built with Upstreamf or Networkf) so that
// Call knows whether to retry and how long the provider asked it to wait.
// Providers in other packages (internal/provider/bedrock) use it too.
type AttemptError struct {
	class      error  // ErrUpstream or ErrTimeout
	msg        string // what a client may see
	detail     string // the full text for the log; empty: msg
	Retryable  bool
	RetryAfter time.Duration // the provider's requested wait, 0 if none
}

func (e *AttemptError) Error() string { return e.msg }
func (e *AttemptError) Unwrap() error { return e.class }

func (e *AttemptError) full() string {
	if e.detail != "" {
		return e.detail
	}
	return e.msg
}

// Networkf is a failed attempt that never got an HTTP answer: the client
// sees the kind of failure, the log the whole error (with the address).
func Networkf(what string, err error, secrets ...string) *AttemptError {
	return &AttemptError{class: ErrUpstream, msg: what + ": " + netErrorText(err),
		detail: what + ": " + redact(err.Error(), secrets...), Retryable: true}
}

// netErrorText names a network failure without its address or URL.
func netErrorText(err error) string {
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "DNS lookup failed: no such host"
		}
		return "DNS lookup failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.As(err, &ne) && ne.Timeout():
		return "network timeout"
	case strings.Contains(err.Error(), "tls:"), strings.Contains(err.Error(), "x509:"):
		return "TLS error"
	}
	return "network error"
}

// Upstreamf is a failed attempt with an answer the provider gave (a status,
// a malformed body): the client sees the formatted text.
func Upstreamf(retryable bool, format string, args ...any) *AttemptError {
	return &AttemptError{class: ErrUpstream, msg: fmt.Sprintf(format, args...), Retryable: retryable}
}

// Call runs attempt under the call timeout and retries it by the policy. The
// returned error wraps ErrUpstream or ErrTimeout and names the provider.
func (o Options) Call(ctx context.Context, name string, attempt func(ctx context.Context) error) error {
	timeout := o.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pol := o.Retry.withDefaults()
	for n := 1; ; n++ {
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return contextError(name, timeout, cerr)
		}
		var ae *AttemptError
		if !errors.As(err, &ae) {
			return newError(ErrUpstream, Scrub(name+": "+err.Error()), name+": "+err.Error())
		}
		fail := func(suffix string) error {
			return newError(ae.class, Scrub(name+": "+ae.msg+suffix), name+": "+ae.full()+suffix)
		}
		if !ae.Retryable {
			return fail("")
		}
		if n >= pol.MaxAttempts {
			return fail(fmt.Sprintf(" (gave up after %d attempts)", n))
		}
		wait := pol.backoff(n)
		if ae.RetryAfter > 0 {
			wait = ae.RetryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+pol.MinAttemptTime {
			return fail(fmt.Sprintf(" (not retried: the deadline leaves no time for a wait of %s and another attempt)",
				wait.Round(time.Millisecond)))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return contextError(name, timeout, ctx.Err())
		case <-t.C:
		}
	}
}

// newError ends both texts with the class, as "%s: %w" would.
func newError(class error, public, detail string) *Error {
	return &Error{Class: class, Public: public + ": " + class.Error(), Detail: detail + ": " + class.Error()}
}

func contextError(name string, timeout time.Duration, err error) error {
	msg := name + ": call canceled"
	if !errors.Is(err, context.Canceled) {
		msg = fmt.Sprintf("%s: no answer before the deadline (call timeout %s)", name, timeout)
	}
	return newError(ErrTimeout, msg, msg)
}

// RetryAfter reads the wait a provider asks for: retry-after-ms (OpenAI,
// Anthropic), then Retry-After as seconds or an HTTP date.
func RetryAfter(h http.Header) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// RetryableStatus: throttling and server errors are retried; any other 4xx
// is the request's fault and is not.
func RetryableStatus(code int) bool { return code == http.StatusTooManyRequests || code >= 500 }

// redact removes secrets from a text that came from a provider (an error
// message may echo a key back).
func redact(s string, secrets ...string) string {
	for _, k := range secrets {
		if len(k) >= 4 {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return keyLike.ReplaceAllString(s, "[redacted]")
}

// keyLike matches anything that looks like a (possibly masked) vendor key,
// such as OpenAI's "Incorrect API key provided: sk-proj-****abcd".
var keyLike = regexp.MustCompile(`\bsk-[A-Za-z0-9_\-*.]{4,}`)

// Clip shortens a provider message for an error text.
func Clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// CheckRequest refuses a request no provider can serve (max_tokens not
// positive) before it is sent.
func CheckRequest(name string, req Request) error {
	if req.MaxTokens <= 0 {
		return fmt.Errorf("%s: max_tokens must be positive (got %d): %w", name, req.MaxTokens, ErrUpstream)
	}
	return nil
}

// ModelID is the model's id on its provider: ProviderModelID, else the
// catalog name.
func ModelID(req Request) string {
	if req.ProviderModelID != "" {
		return req.ProviderModelID
	}
	return req.Model
}

// maxResponseBytes bounds what a provider answer may occupy in memory.
const maxResponseBytes = 8 << 20

// jsonPost is a provider request: POST body as JSON with the given headers
// and Accept. Its failures are attempt errors that are not retried.
func jsonPost(ctx context.Context, url string, header http.Header, body any, accept string) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, Upstreamf(false, "encoding the request: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, Upstreamf(false, "building the request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	return req, nil
}

// postJSON is one attempt of an HTTP provider call: POST body as JSON and
// decode a 2xx answer into out. Failures are *AttemptError values:
// network errors, 429 and 5xx are retryable, other statuses and bodies that
// do not decode are not. secrets are scrubbed from any echoed message.
func postJSON(ctx context.Context, client *http.Client, url string, header http.Header, body, out any, secrets ...string) error {
	req, err := jsonPost(ctx, url, header, body, "application/json")
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Networkf("request failed", err, secrets...)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return Networkf(fmt.Sprintf("reading the response (HTTP %d)", resp.StatusCode), err, secrets...)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := Upstreamf(RetryableStatus(resp.StatusCode), "HTTP %d%s", resp.StatusCode, errorDetail(data, secrets))
		e.RetryAfter = RetryAfter(resp.Header)
		return e
	}
	if len(data) > maxResponseBytes {
		return Upstreamf(false, "response larger than %d bytes", maxResponseBytes)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return Upstreamf(false, "malformed response body: %v", err)
	}
	return nil
}

// errorDetail pulls the provider's own words out of an error body. OpenAI
// and Anthropic both answer {"error": {"type", "message"[, "code"]}}; vLLM
// and others put "message" (or a string "error") at the top level.
func errorDetail(data []byte, secrets []string) string {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Type    string          `json:"type"`
	}
	var inner struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	}
	var kind, msg string
	if json.Unmarshal(data, &body) == nil {
		var s string
		switch {
		case len(body.Error) > 0 && json.Unmarshal(body.Error, &inner) == nil:
			kind, msg = inner.Type, inner.Message
			if c, ok := inner.Code.(string); ok && c != "" && kind == "" {
				kind = c
			}
		case len(body.Error) > 0 && json.Unmarshal(body.Error, &s) == nil:
			msg = s
		default:
			kind, msg = body.Type, body.Message
		}
		if kind == "error" {
			kind = ""
		}
	} else {
		msg = string(data)
	}
	detail := ""
	if kind != "" {
		detail += " (" + kind + ")"
	}
	if msg = Clip(msg, 300); msg != "" {
		detail += ": " + msg
	}
	return redact(detail, secrets...)
}
