// Package catalog is the model catalog: which models exist, which provider
// family serves each, the provider's id for it, and its prices in integer
// nano-USD per token. Every cost in the platform is computed here.
package catalog

import (
	"fmt"
	"math"
	"math/bits"
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

// Cost is the exact cost of a call's usage, in nano-USD. It never
// overflows: the sum saturates at math.MaxInt64, and a negative count
// (which the domain refuses as implausible before pricing) counts as 0, so
// a cost is never negative.
func (p Price) Cost(u provider.Usage) int64 {
	return satAdd(satAdd(satMul(u.InputTokens, p.Input), satMul(u.OutputTokens, p.Output)),
		satAdd(satMul(u.CacheReadTokens, p.CacheRead), satMul(u.CacheWriteTokens, p.CacheWrite)))
}

// satMul is a*b for non-negative a and b, saturating at math.MaxInt64;
// negative inputs count as 0.
func satMul(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

// satAdd is a+b for non-negative a and b, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// MaxInput is the highest price any input-side token can have (plain,
// cache read or cache write), used to bound a call's input cost before it runs.
func (p Price) MaxInput() int64 {
	return max(p.Input, p.CacheRead, p.CacheWrite)
}

// MaxPricePerToken bounds every price: 1,000,000 nano-USD ($1,000 per
// million tokens, far above any real model), so a worst-case reservation
// and a plausible call (at most 10^9 tokens of each kind) stay far inside
// int64.
const MaxPricePerToken = 1_000_000

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
	// MaxCallsPerRun is how many model calls one execute may make: an
	// agent runtime (the OpenClaw gateway) loops over tools, and each loop
	// is a call of up to max_output_tokens. Admission reserves this many
	// worst-case calls. 0 means the route's default (RouteCallsPerRun).
	MaxCallsPerRun int `json:"max_calls_per_run,omitempty"`
}

// MaxCallsPerRunLimit bounds max_calls_per_run.
const MaxCallsPerRunLimit = 100

// RouteCallsPerRun is the default max_calls_per_run of a route: 8 for the
// OpenClaw gateway (an agent run loops over tools), 1 for a plain model API.
func RouteCallsPerRun(route string) int {
	if route == RouteOpenClaw {
		return 8
	}
	return 1
}

// CallsPerRun is the number of worst-case model calls an execute of this
// model reserves.
func (m Model) CallsPerRun() int {
	if m.MaxCallsPerRun > 0 {
		return m.MaxCallsPerRun
	}
	return RouteCallsPerRun(m.Route)
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
	case max(m.Price.Input, m.Price.Output, m.Price.CacheRead, m.Price.CacheWrite) > MaxPricePerToken:
		return fmt.Errorf("catalog model %q: a price above %d nano-USD per token", m.Name, MaxPricePerToken)
	case m.MaxCallsPerRun < 0 || m.MaxCallsPerRun > MaxCallsPerRunLimit:
		return fmt.Errorf("catalog model %q: max_calls_per_run must be between 0 (the route's default) and %d", m.Name, MaxCallsPerRunLimit)
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
