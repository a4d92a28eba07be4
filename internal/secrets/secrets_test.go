package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// fakeSecretsManager speaks the Secrets Manager JSON 1.1 protocol for
// GetSecretValue, with secrets given as their raw GetSecretValue answers.
func fakeSecretsManager(t *testing.T, answers map[string]string) *secretsmanager.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/" {
			t.Errorf("request = %s %s, want POST /", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.GetSecretValue" {
			t.Errorf("X-Amz-Target = %q", got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
			t.Errorf("Content-Type = %q", got)
		}
		if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "/eu-west-1/secretsmanager/aws4_request") {
			t.Errorf("Authorization = %q, want SigV4 for secretsmanager", auth)
		}
		b, _ := io.ReadAll(r.Body)
		var in struct{ SecretId string }
		if err := json.Unmarshal(b, &in); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		answer, ok := answers[in.SecretId]
		if !ok {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}`)
			return
		}
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return secretsmanager.New(secretsmanager.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   srv.Client(),
	})
}

func stringAnswer(name, value string) string {
	v, _ := json.Marshal(value)
	return `{"ARN":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:` + name + `-AbCdEf","Name":"` + name +
		`","SecretString":` + string(v) + `,"VersionId":"EXAMPLE1-90ab-cdef-fedc-ba987SECRET1","VersionStages":["AWSCURRENT"],"CreatedDate":1.523477145713E9}`
}

func TestGetStringAndJSON(t *testing.T) {
	client := fakeSecretsManager(t, map[string]string{
		"tenancy/admin-key": stringAnswer("tenancy/admin-key", "adm_0123456789"),
		"tenancy/providers": stringAnswer("tenancy/providers", `{"OPENAI_API_KEY":"sk-live-1","ANTHROPIC_API_KEY":"sk-ant-2"}`),
	})
	ctx := context.Background()
	s, err := GetString(ctx, client, "tenancy/admin-key")
	if err != nil || s != "adm_0123456789" {
		t.Fatalf("GetString = %q, %v", s, err)
	}
	var keys map[string]string
	if err := GetJSON(ctx, client, "tenancy/providers", &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys["OPENAI_API_KEY"] != "sk-live-1" || keys["ANTHROPIC_API_KEY"] != "sk-ant-2" {
		t.Errorf("keys = %v", keys)
	}
}

func TestErrorsNeverQuoteTheSecret(t *testing.T) {
	client := fakeSecretsManager(t, map[string]string{
		"not-json":   stringAnswer("not-json", "sk-live-verysecret"),
		"number":     stringAnswer("number", `{"OPENAI_API_KEY": 123456789}`),
		"binary":     `{"ARN":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:binary-AbCdEf","Name":"binary","SecretBinary":"c2stbGl2ZQ==","VersionId":"v1"}`,
		"truncated":  stringAnswer("truncated", `{"OPENAI_API_KEY": "sk-live-verysecret`),
		"wrong type": stringAnswer("wrong type", `["sk-live-verysecret"]`),
	})
	ctx := context.Background()
	var m map[string]string
	for name, want := range map[string]string{
		"not-json":   `secret "not-json" is not valid JSON`,
		"number":     `secret "number": a JSON number where string was expected`,
		"truncated":  `secret "truncated" is not valid JSON`,
		"wrong type": `secret "wrong type": a JSON array where map[string]string was expected`,
		"binary":     `reading secret "binary": it holds binary data, not a string`,
	} {
		err := GetJSON(ctx, client, name, &m)
		if err == nil || err.Error() != want {
			t.Errorf("GetJSON(%q) = %v, want %q", name, err, want)
		}
		if err != nil && (strings.Contains(err.Error(), "verysecret") || strings.Contains(err.Error(), "123456789")) {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
}

func TestNotFound(t *testing.T) {
	client := fakeSecretsManager(t, nil)
	_, err := GetString(context.Background(), client, "tenancy/missing")
	if !errors.Is(err, ErrNotFound) || err.Error() != `reading secret "tenancy/missing": secret not found` {
		t.Errorf("err = %v", err)
	}
	if _, err := GetString(context.Background(), client, ""); err == nil {
		t.Error("empty name accepted")
	}
}
