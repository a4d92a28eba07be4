package stack_test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/openclaw/tenancy/infra/stack"
	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/provider/routing"
	"github.com/openclaw/tenancy/internal/schema"
)

// The stack's view of the provider code (issue 4): env names, the provider
// secret's keys, and the Bedrock ids the IAM statement must cover.
func TestProviderContract(t *testing.T) {
	if stack.EnvClaudeProvider != routing.EnvClaudeProvider || catalog.RouteBedrock != "bedrock" {
		t.Errorf("execute's env %s=bedrock no longer matches routing (%s, %q)", stack.EnvClaudeProvider, routing.EnvClaudeProvider, catalog.RouteBedrock)
	}
	if routing.EnvProviderSecret != schema.EnvProviderSecret {
		t.Errorf("routing reads the provider secret name from %s", routing.EnvProviderSecret)
	}
	want := []string{routing.EnvAnthropicKey, routing.EnvOpenAIKey, routing.EnvOpenClawToken}
	sort.Strings(want)
	if !slices.Equal(stack.ProviderSecretKeys, want) {
		t.Errorf("provider secret keys %v, want the routing key names %v", stack.ProviderSecretKeys, want)
	}
	n := 0
	for _, m := range catalog.Default().Models() {
		if m.BedrockID == "" {
			continue
		}
		n++
		if !strings.HasPrefix(m.BedrockID, stack.BedrockProfilePrefix+".anthropic.") {
			t.Errorf("model %s: Bedrock id %q is outside execute's IAM grant (%s.anthropic.*)", m.Name, m.BedrockID, stack.BedrockProfilePrefix)
		}
	}
	if n == 0 {
		t.Errorf("the default catalog has no Bedrock ids")
	}
}
