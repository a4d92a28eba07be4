package api

import "testing"

// DecodeOpenJSON (the OpenAI-compatible request): exact names, no repeated
// key anywhere (inside ignored fields too), unknown fields ignored, a
// field's name in another case refused.
func TestDecodeOpenJSON(t *testing.T) {
	for _, c := range []struct{ body, err string }{
		{`{"model":"a","messages":[{"role":"user","content":"x","name":"n"}],"temperature":1,"extra":{"a":[1,{"b":2}]}}`, ""},
		{`{"model":"a","extra":{"a":1,"a":2}}`, "Duplicate field 'extra.a' in request body"},
		{`{"model":"a","extra":[{"b":1,"b":1}]}`, "Duplicate field 'extra.b' in request body"},
		{`{"MODEL":"a"}`, "Field 'MODEL' does not match 'model' (field names are case-sensitive)"},
		{`{"model":"a","Max_Tokens":5}`, "Field 'Max_Tokens' does not match 'max_tokens' (field names are case-sensitive)"},
		{`{"model":"a","messages":[{"ROLE":"user"}]}`, "Field 'messages.ROLE' does not match 'role' (field names are case-sensitive)"},
		{`{"model":"a"} {}`, "Request body must be a single JSON object"},
		{`[]`, "Request body must be a JSON object"},
		{`{"model":1}`, "Field 'model' must be a string"},
	} {
		var r chatRequest
		err := DecodeOpenJSON([]byte(c.body), &r)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.err {
			t.Errorf("%s: error %q, want %q", c.body, got, c.err)
		}
		if c.err == "" && (r.Model != "a" || len(r.Messages) != 1 || r.Messages[0].Content.text != "x") {
			t.Errorf("%s: decoded %+v", c.body, r)
		}
	}
	// The other routes stay closed: an unknown field is refused there.
	var b executeBody
	if err := DecodeJSON([]byte(`{"query":"q","temperature":1}`), &b); err == nil || err.Error() != "Unknown field 'temperature'" {
		t.Fatalf("closed route: %v", err)
	}
}
