package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadWithoutFileIsDefault(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() != DefaultVersion || len(c.Models()) != len(Default().Models()) {
		t.Errorf("version %q, %d models", c.Version(), len(c.Models()))
	}
}

const overrideFile = `{
  "version": "acme-2026-12",
  "models": [
    {"name": "gpt-4o-mini", "family": "openai",
     "price": {"input": 160, "output": 640, "cache_read": 80, "cache_write": 160}},
    {"name": "llama3.1-8b", "family": "openai", "route": "openai", "provider_model_id": "llama3.1:8b",
     "price": {"input": 20, "output": 40, "cache_read": 0, "cache_write": 20}},
    {"name": "acme-support-agent", "family": "anthropic", "route": "openclaw",
     "price": {"input": 3000, "output": 15000, "cache_read": 300, "cache_write": 3750}},
    {"name": "claude-sonnet-4-5", "family": "anthropic", "route": "bedrock",
     "bedrock_id": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
     "price": {"input": 3300, "output": 16500, "cache_read": 330, "cache_write": 4125}}
  ]
}`

func TestLoadOverrideFile(t *testing.T) {
	c, err := Load(env(map[string]string{EnvCatalogFile: writeFile(t, overrideFile)}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() != "acme-2026-12" {
		t.Errorf("version = %q", c.Version())
	}
	if n := len(c.Models()); n != 11 { // 8 built-in, 1 replaced, 3 added
		t.Errorf("%d models, want 11", n)
	}
	for name, want := range map[string]Model{
		"gpt-4o-mini": {Name: "gpt-4o-mini", Family: FamilyOpenAI, Price: Price{Input: 160, Output: 640, CacheRead: 80, CacheWrite: 160}},
		"llama3.1-8b": {Name: "llama3.1-8b", Family: FamilyOpenAI, Route: RouteOpenAI, ProviderModelID: "llama3.1:8b",
			Price: Price{Input: 20, Output: 40, CacheRead: 0, CacheWrite: 20}},
		"acme-support-agent": {Name: "acme-support-agent", Family: FamilyAnthropic, Route: RouteOpenClaw,
			Price: Price{Input: 3000, Output: 15000, CacheRead: 300, CacheWrite: 3750}},
		"claude-sonnet-4-5": {Name: "claude-sonnet-4-5", Family: FamilyAnthropic, Route: RouteBedrock,
			BedrockID: "global.anthropic.claude-sonnet-4-5-20250929-v1:0", Price: Price{Input: 3300, Output: 16500, CacheRead: 330, CacheWrite: 4125}},
		// untouched built-in entries stay as they were
		"claude-sonnet-4-20250514": {Name: "claude-sonnet-4-20250514", Family: FamilyAnthropic,
			BedrockID: "us.anthropic.claude-sonnet-4-20250514-v1:0", Price: Price{Input: 3000, Output: 15000, CacheRead: 300, CacheWrite: 3750}},
		"gpt-4o": {Name: "gpt-4o", Family: FamilyOpenAI, Price: Price{Input: 2500, Output: 10000, CacheRead: 1250, CacheWrite: 2500}},
	} {
		got, ok := c.Lookup(name)
		if !ok || got != want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", name, got, ok, want)
		}
	}
	// The default catalog itself is not modified.
	if m, _ := Default().Lookup("gpt-4o-mini"); m.Price.Input != 150 {
		t.Errorf("Default() changed: %+v", m)
	}
}

func TestOverrideErrors(t *testing.T) {
	const ok = `{"name": "m", "family": "openai", "price": {"input": 1, "output": 2}}`
	for name, tc := range map[string]struct{ file, want string }{
		"not json":           {`models:`, "not a valid catalog file: invalid character 'm'"},
		"unknown field":      {`{"version": "v1", "models": [{"name": "m", "family": "openai", "price": {"input": 1, "output": 2, "cached": 1}}]}`, `json: unknown field "cached"`},
		"fractional price":   {`{"version": "v1", "models": [{"name": "m", "family": "openai", "price": {"input": 0.5, "output": 2}}]}`, "cannot unmarshal number 0.5"},
		"trailing data":      {`{"version": "v1", "models": [` + ok + `]} {}`, "data after the JSON object"},
		"no version":         {`{"models": [` + ok + `]}`, `"version" is required`},
		"blank version":      {`{"version": "  ", "models": [` + ok + `]}`, `"version" is required`},
		"built-in version":   {`{"version": "` + DefaultVersion + `", "models": [` + ok + `]}`, "is the built-in catalog's"},
		"no models":          {`{"version": "v1"}`, `"models" is empty`},
		"no name":            {`{"version": "v1", "models": [{"family": "openai", "price": {"input": 1, "output": 2}}]}`, "models[0]: catalog model without a name"},
		"bad family":         {`{"version": "v1", "models": [{"name": "m", "family": "google", "price": {"input": 1, "output": 2}}]}`, `models[0]: catalog model "m": family must be`},
		"negative price":     {`{"version": "v1", "models": [{"name": "m", "family": "openai", "price": {"input": -1, "output": 2}}]}`, `catalog model "m": negative price`},
		"free output":        {`{"version": "v1", "models": [{"name": "m", "family": "openai", "price": {"input": 1}}]}`, `catalog model "m": output price is 0`},
		"bad route":          {`{"version": "v1", "models": [{"name": "m", "family": "openai", "route": "azure", "price": {"input": 1, "output": 2}}]}`, `model "m": route "azure" is not one of openai, anthropic, bedrock, openclaw, dev`},
		"bedrock without id": {`{"version": "v1", "models": [{"name": "m", "family": "anthropic", "route": "bedrock", "price": {"input": 1, "output": 2}}]}`, `model "m": route "bedrock" needs a bedrock_id`},
		"space in name":      {`{"version": "v1", "models": [{"name": "my model", "family": "openai", "price": {"input": 1, "output": 2}}]}`, "without spaces"},
		"duplicate":          {`{"version": "v1", "models": [` + ok + `, ` + ok + `]}`, `models[1]: model "m" appears twice`},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Override(Default(), []byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Override = %v, %v; want an error containing %q", c, err, tc.want)
			}
		})
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	p := writeFile(t, `{"version": "v1", "models": []}`)
	_, err := Load(env(map[string]string{EnvCatalogFile: p}))
	if err == nil || err.Error() != "model catalog "+p+`: "models" is empty` {
		t.Errorf("err = %v", err)
	}
	_, err = Load(env(map[string]string{EnvCatalogFile: filepath.Join(t.TempDir(), "missing.json")}))
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("err = %v", err)
	}
}
