package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// MaxBodyBytes is the largest request body accepted (HTTP 413 above).
const MaxBodyBytes = 64 << 10

// request is one API call being handled.
type request struct {
	ev        *events.APIGatewayV2HTTPRequest
	route     Route
	principal auth.Principal
}

func (r *request) param(name string) string { return r.ev.PathParameters[name] }

func (r *request) query(name string) string { return r.ev.QueryStringParameters[name] }

func (r *request) header(name string) string {
	for k, v := range r.ev.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// body returns the raw request body, decoded from base64 when the gateway
// encoded it, or 413 when it is too large.
func (r *request) body() ([]byte, error) {
	b := []byte(r.ev.Body)
	if r.ev.IsBase64Encoded {
		d, err := base64.StdEncoding.DecodeString(r.ev.Body)
		if err != nil {
			return nil, tenancy.Validationf("Request body is not valid base64")
		}
		b = d
	}
	if len(b) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return b, nil
}

// decode reads the body as exactly one JSON object into v, refusing unknown
// fields and wrong types with a message that names the field. An empty body
// is an empty object when optional is true.
func (r *request) decode(v any, optional bool) error {
	b, err := r.body()
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if optional {
			return nil
		}
		return tenancy.Validationf("Request body must be a JSON object")
	}
	return DecodeJSON(b, v)
}

// DecodeJSON strictly decodes one JSON object into v: field names match
// exactly (case-sensitive), a repeated key is refused, unknown fields are
// refused, and numbers in untyped values (metadata) are kept exactly.
func DecodeJSON(b []byte, v any) error { return decodeJSON(b, v, false) }

// DecodeOpenJSON is DecodeJSON for the OpenAI-compatible route: names still
// match exactly and a repeated key is refused, but unknown fields are
// ignored (OpenAI SDKs send temperature, top_p, ... that it does not
// implement); a key that differs from a field's name only in case is
// refused.
func DecodeOpenJSON(b []byte, v any) error { return decodeJSON(b, v, true) }

func decodeJSON(b []byte, v any, open bool) error {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return tenancy.Validationf("Request body must be a JSON object")
	}
	if err := checkKeys(b, v, open); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if !open {
		dec.DisallowUnknownFields()
	}
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return tenancy.Validationf("Request body must be a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var te *tenancy.Error
	switch {
	case errors.As(err, &te):
		return te
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return tenancy.Validationf("Malformed JSON in request body")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return tenancy.Validationf("Request body must be a JSON object")
		}
		return tenancy.Validationf("Field '%s' must be %s", jsonField(typ.Field), jsonKind(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return tenancy.Validationf("Unknown field %s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`, "'"))
	}
	return tenancy.Validationf("Invalid request body: %s", err.Error())
}

// jsonField drops the Go names of embedded structs from a field path
// ("TenantPatch.max_agents" is "max_agents").
func jsonField(path string) string {
	parts := strings.Split(path, ".")
	for len(parts) > 1 && parts[0] != "" && parts[0][0] >= 'A' && parts[0][0] <= 'Z' {
		parts = parts[1:]
	}
	return strings.Join(parts, ".")
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "an integer"
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "a boolean"
	case goKind == "slice":
		return "an array"
	case goKind == "map", goKind == "struct":
		return "an object"
	}
	return fmt.Sprintf("of type %s", goKind)
}

// response is a rendered API response.
func jsonResponse(status int, body any, extra map[string]string) events.APIGatewayV2HTTPResponse {
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range extra {
		h[k] = v
	}
	if status == http.StatusNoContent {
		return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: h}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(body)
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if err != nil {
		b = []byte(`{"error":{"code":"internal_error","message":"Internal error","type":"api_error","param":null}}`)
		status = http.StatusInternalServerError
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: h, Body: string(b)}
}

// ErrorBody is every error's JSON: the platform's code and message, and
// OpenAI's type and param, so OpenAI SDKs read it too.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an error's code (one of ErrorCodes), message, type (its
// status's class in OpenAI's and Anthropic's words) and param (always null).
type ErrorDetail struct {
	Code    ErrorCode  `json:"code"`
	Message string     `json:"message"`
	Type    ErrorClass `json:"type"`
	Param   *string    `json:"param"`
}

func (p problem) body() ErrorBody {
	return ErrorBody{Error: ErrorDetail{Code: ErrorCode(p.code), Message: p.message, Type: ErrorClass(ErrorType(p.status))}}
}

func errorResponse(p problem) events.APIGatewayV2HTTPResponse {
	return jsonResponse(p.status, p.body(), p.headers())
}
