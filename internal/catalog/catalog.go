// Package catalog is the model catalog: which models exist, which provider
// family serves each, the provider's id for it, and its prices in integer
// nano-USD per token. Every cost in the platform is computed here.
package catalog

import (
	"fmt"
	"sort"

	"github.com/openclaw/tenancy/internal/provider"
)

// Price is what one token costs, in nano-USD (1e-9 USD), per token kind.
type Price struct {
	Input      int64 `json:"input"`
	Output     int64 `json:"output"`
	CacheRead  int64 `json:"cache_read"`
	CacheWrite int64 `json:"cache_write"`
}

// Cost is the exact cost of a call's usage, in nano-USD.
func (p Price) Cost(u provider.Usage) int64 {
	return u.InputTokens*p.Input + u.OutputTokens*p.Output +
		u.CacheReadTokens*p.CacheRead + u.CacheWriteTokens*p.CacheWrite
}

// MaxInput is the highest price any input-side token can have (plain,
// cache read or cache write), used to bound a call's input cost before it runs.
func (p Price) MaxInput() int64 {
	return max(p.Input, p.CacheRead, p.CacheWrite)
}

// Families of providers a model can belong to.
const (
	FamilyAnthropic = "anthropic"
	FamilyOpenAI    = "openai"
)

// Model is one catalog entry.
type Model struct {
	Name      string `json:"name"`
	Family    string `json:"family"`               // anthropic | openai
	BedrockID string `json:"bedrock_id,omitempty"` // Bedrock inference profile, if served there
	Price     Price  `json:"price"`
	// Route forces the provider that serves the model (see the Route*
	// constants); empty routes by family. Set by an override file.
	Route string `json:"route,omitempty"`
	// ProviderModelID is the model's id on its (non-Bedrock) provider when
	// it differs from Name, e.g. a vLLM or Ollama model name. Bedrock always
	// uses BedrockID.
	ProviderModelID string `json:"provider_model_id,omitempty"`
}

// Catalog is an immutable set of models with the version that names it.
type Catalog struct {
	version string
	models  map[string]Model
}

// DefaultVersion names the built-in prices (../shared/notes/prices.md).
const DefaultVersion = "builtin-2026-11"

// New builds a catalog; every model must have a name, a family and no
// negative price.
func New(version string, models []Model) (*Catalog, error) {
	if version == "" {
		return nil, fmt.Errorf("catalog version is empty")
	}
	c := &Catalog{version: version, models: make(map[string]Model, len(models))}
	for _, m := range models {
		if err := m.validate(); err != nil {
			return nil, err
		}
		c.models[m.Name] = m
	}
	return c, nil
}

func (m Model) validate() error {
	switch {
	case m.Name == "":
		return fmt.Errorf("catalog model without a name")
	case m.Family != FamilyAnthropic && m.Family != FamilyOpenAI:
		return fmt.Errorf("catalog model %q: family must be %q or %q", m.Name, FamilyAnthropic, FamilyOpenAI)
	case m.Price.Input < 0 || m.Price.Output < 0 || m.Price.CacheRead < 0 || m.Price.CacheWrite < 0:
		return fmt.Errorf("catalog model %q: negative price", m.Name)
	case m.Price.Output == 0:
		return fmt.Errorf("catalog model %q: output price is 0; a priced model may not be free by accident", m.Name)
	}
	return nil
}

// Version names the prices in this catalog; reports show it.
func (c *Catalog) Version() string { return c.version }

// Lookup returns a model by its vendor name.
func (c *Catalog) Lookup(name string) (Model, bool) {
	m, ok := c.models[name]
	return m, ok
}

// Models lists the catalog sorted by name.
func (c *Catalog) Models() []Model {
	out := make([]Model, 0, len(c.models))
	for _, m := range c.models {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// perMillion converts USD per million tokens, written as micro-USD to stay in
// integers (3.00 USD = 3_000_000), to nano-USD per token.
func perMillion(microUSD int64) int64 { return microUSD / 1000 }

// Default is the built-in catalog.
func Default() *Catalog {
	c, err := New(DefaultVersion, defaultModels)
	if err != nil {
		panic(err) // the built-in table is a constant; tests cover it
	}
	return c
}

func anthropic(name string, in, out, cr, cw int64) Model {
	return Model{Name: name, Family: FamilyAnthropic, BedrockID: "us.anthropic." + name + "-v1:0",
		Price: Price{Input: perMillion(in), Output: perMillion(out), CacheRead: perMillion(cr), CacheWrite: perMillion(cw)}}
}

// openai models have no cache-write premium: a cache write costs the input price.
func openai(name string, in, out, cr int64) Model {
	return Model{Name: name, Family: FamilyOpenAI,
		Price: Price{Input: perMillion(in), Output: perMillion(out), CacheRead: perMillion(cr), CacheWrite: perMillion(in)}}
}

// Prices in micro-USD per million tokens (USD x 1e6), from ../shared/notes/prices.md.
var defaultModels = []Model{
	anthropic("claude-sonnet-4-20250514", 3_000_000, 15_000_000, 300_000, 3_750_000),
	anthropic("claude-opus-4-20250514", 15_000_000, 75_000_000, 1_500_000, 18_750_000),
	anthropic("claude-haiku-4-5-20251001", 1_000_000, 5_000_000, 100_000, 1_250_000),
	anthropic("claude-3-5-haiku-20241022", 800_000, 4_000_000, 80_000, 1_000_000),
	openai("gpt-4o", 2_500_000, 10_000_000, 1_250_000),
	openai("gpt-4o-mini", 150_000, 600_000, 75_000),
	openai("gpt-4.1", 2_000_000, 8_000_000, 500_000),
	openai("gpt-4.1-mini", 400_000, 1_600_000, 100_000),
}
