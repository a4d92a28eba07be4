package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// checkExactKeys is a token pass over a JSON document before it is
// unmarshalled into v: encoding/json matches field names case-insensitively
// and lets a repeated key overwrite the first, so {"tenant_id":"a",
// "TENANT_ID":"b"} would register "b". Here every key of an object must be
// unique, and every key of an object decoded into a struct must be one of
// its JSON field names exactly. Syntax errors are left to the decoder.
func checkExactKeys(b []byte, v any) error { return checkKeys(b, v, false) }

// checkKeys is checkExactKeys; with open set, a key that is not a field of
// its struct is allowed (the decoder ignores it) unless it differs from a
// field's name only in case, which encoding/json would match: the
// OpenAI-compatible route ignores what it does not implement, never a
// misspelt "Model".
func checkKeys(b []byte, v any, open bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := walkValue(dec, reflect.TypeOf(v), "", open)
	var te *tenancy.Error
	if errors.As(err, &te) {
		return te
	}
	return nil // malformed JSON: the decoder reports it with its own message
}

// walkValue reads one JSON value from dec; t is the Go type it decodes into
// (nil: unknown, only duplicates are checked).
func walkValue(dec *json.Decoder, t reflect.Type, path string, open bool) error {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface) {
		if t.Kind() == reflect.Interface {
			t = nil
			break
		}
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkValue(dec, elem, path, open); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		switch {
		case t != nil && t.Kind() == reflect.Struct && !implementsUnmarshaler(t):
			fields = jsonFields(t)
		case t != nil && t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			name := k
			if path != "" {
				name = path + "." + k
			}
			if seen[k] {
				return tenancy.Validationf("Duplicate field '%s' in request body", name)
			}
			seen[k] = true
			ft := elem
			if fields != nil {
				f, ok := fields[k]
				switch {
				case ok:
					ft = f
				case !open:
					return tenancy.Validationf("Unknown field '%s'", name)
				default:
					for known := range fields {
						if strings.EqualFold(known, k) {
							return tenancy.Validationf("Field '%s' does not match '%s' (field names are case-sensitive)", name, known)
						}
					}
					ft = nil // ignored by the decoder; only its duplicates are checked
				}
			}
			if err := walkValue(dec, ft, name, open); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func implementsUnmarshaler(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

// jsonFields are the JSON names of a struct's fields, embedded structs'
// fields included, as encoding/json sees them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range jsonFields(et) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}
