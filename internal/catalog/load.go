package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// EnvCatalogFile names a JSON file of catalog overrides (see Override).
const EnvCatalogFile = "TENANCY_CATALOG_FILE"

// Routes a model may force (Model.Route). Empty routes by family: openai to
// the OpenAI-compatible API, anthropic to Bedrock or the Anthropic API.
const (
	RouteOpenAI    = "openai"    // the OpenAI-compatible API (OPENAI_BASE_URL): OpenAI, vLLM, Ollama, LiteLLM
	RouteAnthropic = "anthropic" // the Anthropic Messages API
	RouteBedrock   = "bedrock"   // Amazon Bedrock Converse, with the model's BedrockID
	RouteOpenClaw  = "openclaw"  // the OpenClaw gateway (OPENCLAW_GATEWAY_URL)
	RouteDev       = "dev"       // the offline development provider
)

// Routes lists the valid Model.Route values besides "".
var Routes = []string{RouteOpenAI, RouteAnthropic, RouteBedrock, RouteOpenClaw, RouteDev}

// File is the override file format:
//
//	{"version": "acme-2026-12",
//	 "models": [{"name": "llama3.1-8b", "family": "openai", "route": "openai",
//	             "provider_model_id": "llama3.1:8b", "bedrock_id": "",
//	             "price": {"input": 100, "output": 200, "cache_read": 0, "cache_write": 100}}]}
//
// Prices are integer nano-USD per token.
type File struct {
	Version string  `json:"version"`
	Models  []Model `json:"models"`
}

// Load is the catalog the platform prices with: Default(), unless
// TENANCY_CATALOG_FILE names an override file, whose models are added to
// the built-in ones or replace them (by name, whole entries), and whose
// version names the result. Any problem in the file is an error.
func Load(getenv func(string) string) (*Catalog, error) {
	path := getenv(EnvCatalogFile)
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model catalog: %w", err)
	}
	c, err := Override(Default(), data)
	if err != nil {
		return nil, fmt.Errorf("model catalog %s: %w", path, err)
	}
	return c, nil
}

// Override returns base with the models of an override file (JSON, see
// File) added or replaced, named by the file's version, which is required.
func Override(base *Catalog, data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a valid catalog file: %w", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("not a valid catalog file: data after the JSON object")
	}
	switch v := f.Version; {
	case strings.TrimSpace(v) == "":
		return nil, fmt.Errorf(`"version" is required: it names the prices in reports`)
	case v != strings.TrimSpace(v) || len(v) > 100:
		return nil, fmt.Errorf("version %q must be at most 100 characters without surrounding spaces", v)
	case v == base.Version():
		return nil, fmt.Errorf("version %q is the built-in catalog's; name the override's prices", v)
	}
	if len(f.Models) == 0 {
		return nil, fmt.Errorf(`"models" is empty`)
	}
	merged := make(map[string]Model, len(base.models)+len(f.Models))
	for name, m := range base.models {
		merged[name] = m
	}
	seen := make(map[string]bool, len(f.Models))
	for i, m := range f.Models {
		if err := m.validateOverride(); err != nil {
			return nil, fmt.Errorf("models[%d]: %w", i, err)
		}
		if seen[m.Name] {
			return nil, fmt.Errorf("models[%d]: model %q appears twice", i, m.Name)
		}
		seen[m.Name] = true
		merged[m.Name] = m
	}
	models := make([]Model, 0, len(merged))
	for _, m := range merged {
		models = append(models, m)
	}
	return New(f.Version, models)
}

func (m Model) validateOverride() error {
	if err := m.validate(); err != nil {
		return err
	}
	switch {
	case len(m.Name) > 200 || strings.ContainsFunc(m.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("model %q: the name must be at most 200 characters without spaces or control characters", m.Name)
	case m.Route != "" && !slices.Contains(Routes, m.Route):
		return fmt.Errorf("model %q: route %q is not one of %s", m.Name, m.Route, strings.Join(Routes, ", "))
	case m.Route == RouteBedrock && m.BedrockID == "":
		return fmt.Errorf("model %q: route %q needs a bedrock_id", m.Name, RouteBedrock)
	}
	return nil
}
