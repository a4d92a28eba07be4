package api

import (
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// RequestEvent is the API Gateway HTTP API (payload 2.0) event of an HTTP
// request whose body was already read: what API Gateway would send the
// function. Both the local server and the HTTP handler (function URL) build
// events with it. Cookies go to Cookies, not to the headers, as API Gateway
// does; a body that is not UTF-8 is base64-encoded.
func RequestEvent(r *http.Request, body []byte, requestID string, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		if !strings.EqualFold(k, "Cookie") {
			headers[strings.ToLower(k)] = strings.Join(v, ",")
		}
	}
	var query map[string]string
	if vals := r.URL.Query(); len(vals) > 0 {
		query = make(map[string]string, len(vals))
		for k, v := range vals {
			query[k] = strings.Join(v, ",")
		}
	}
	var cookies []string
	for _, c := range r.Cookies() {
		cookies = append(cookies, c.String())
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip == "" {
		ip = r.RemoteAddr
	}
	now = now.UTC()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Headers: headers, QueryStringParameters: query, Cookies: cookies,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "$default", DomainName: r.Host, RequestID: requestID,
			Time: now.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path,
				Protocol: r.Proto, SourceIP: ip, UserAgent: r.UserAgent()},
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

// WriteEvent writes a function's API Gateway answer as the HTTP response
// API Gateway would send (a base64 body decoded; one that does not decode
// is sent as it is).
func WriteEvent(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}
