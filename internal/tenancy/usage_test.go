package tenancy

import (
	"testing"

	"github.com/openclaw/tenancy/internal/provider"
)

// CheckUsage is the one implausible-usage rule, buffered or streamed: each
// count as reported, then the disjoint counts derived from them; the error
// names what the provider reported.
func TestCheckUsage(t *testing.T) {
	openAI := func(prompt, completion, cached int64) provider.Response {
		return provider.Response{Usage: provider.Usage{InputTokens: prompt - cached, OutputTokens: completion, CacheReadTokens: cached},
			Reported: []provider.Count{{Name: "prompt_tokens", N: prompt}, {Name: "completion_tokens", N: completion},
				{Name: "cached_tokens", N: cached}}}
	}
	for _, c := range []struct {
		r    provider.Response
		want string
	}{
		{provider.Response{Usage: provider.Usage{InputTokens: 10, OutputTokens: 5, CacheReadTokens: 3, CacheWriteTokens: 2}}, ""},
		{provider.Response{Usage: provider.Usage{OutputTokens: MaxPlausibleTokens}}, ""},
		{provider.Response{Usage: provider.Usage{OutputTokens: MaxPlausibleTokens + 1}}, "output_tokens=1000000001 is outside 0..1000000000"},
		{provider.Response{Usage: provider.Usage{CacheWriteTokens: -1}}, "cache_write_tokens=-1 is outside 0..1000000000"},
		{openAI(40, 7, 10), ""},
		{openAI(10, -3, 0), "completion_tokens=-3 is outside 0..1000000000"},
		{openAI(-5, 5, 0), "prompt_tokens=-5 is outside 0..1000000000"},
		{openAI(10, 5, 50), "prompt_tokens=10 completion_tokens=5 cached_tokens=50 contradict each other"},
		{openAI(10, 5, 10), ""},
	} {
		got := ""
		if err := CheckUsage(c.r); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("CheckUsage(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
}
