package api_test

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/api"
)

// An HTTP request becomes the event API Gateway would send: lowercase
// headers without Cookie, cookies apart, repeated query values joined, the
// source IP without its port, a non-UTF-8 body in base64.
func TestRequestEvent(t *testing.T) {
	r := httptest.NewRequest("POST", "/tenants/acme/usage/history?from=2026-11-01&x=1&x=2", strings.NewReader("ignored"))
	r.RemoteAddr = "192.0.2.7:51234"
	r.Header.Set("X-Custom", "a")
	r.Header.Add("X-Custom", "b")
	r.Header.Set("Cookie", "s=1; t=2")
	now := time.Date(2026, 11, 29, 22, 30, 5, 0, time.FixedZone("X", 3600))
	ev := api.RequestEvent(r, []byte{0xff, 0x00}, "req-1", now)
	eq := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	eq("headers", ev.Headers, map[string]string{"x-custom": "a,b"})
	eq("cookies", ev.Cookies, []string{"s=1", "t=2"})
	eq("query", ev.QueryStringParameters, map[string]string{"from": "2026-11-01", "x": "1,2"})
	eq("raw query", ev.RawQueryString, "from=2026-11-01&x=1&x=2")
	eq("path", ev.RawPath, "/tenants/acme/usage/history")
	eq("source ip", ev.RequestContext.HTTP.SourceIP, "192.0.2.7")
	eq("method", ev.RequestContext.HTTP.Method, "POST")
	eq("request id", ev.RequestContext.RequestID, "req-1")
	eq("time", ev.RequestContext.Time, "29/Nov/2026:21:30:05 +0000")
	eq("epoch ms", ev.RequestContext.TimeEpoch, now.UnixMilli())
	eq("body", ev.Body, "/wA=")
	eq("base64", ev.IsBase64Encoded, true)

	ev = api.RequestEvent(httptest.NewRequest("GET", "/tenants", nil), []byte(`{"é":1}`), "req-2", now)
	eq("utf-8 body", ev.Body, `{"é":1}`)
	eq("not base64", ev.IsBase64Encoded, false)
	eq("no query", ev.QueryStringParameters, map[string]string(nil))
}

func TestWriteEvent(t *testing.T) {
	w := httptest.NewRecorder()
	api.WriteEvent(w, events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"Content-Type": "text/csv"},
		Cookies: []string{"a=1"}, Body: "aGk=", IsBase64Encoded: true})
	if w.Code != 201 || w.Body.String() != "hi" || w.Header().Get("Content-Type") != "text/csv" || w.Header().Get("Set-Cookie") != "a=1" {
		t.Errorf("got %d %q %v", w.Code, w.Body.String(), w.Header())
	}
}
