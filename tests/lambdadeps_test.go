package tests

import (
	"os/exec"
	"strings"
	"testing"
)

// The Lambda binaries (built with -tags lambda.norpc) serve the OpenAPI
// document from internal/api/openapi.json: kin-openapi, whose JSON Schema
// package compiles its metaschemas at init (about 4 ms of every cold start,
// 21,000 allocations), is not linked.
func TestLambdaBinariesDoNotLinkKinOpenAPI(t *testing.T) {
	cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "./functions/...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := string(out)
	if !strings.Contains(deps, "github.com/openclaw/tenancy/internal/api\n") {
		t.Fatal("go list did not list the functions' dependencies")
	}
	for _, bad := range []string{"github.com/getkin/kin-openapi/", "github.com/santhosh-tekuri/jsonschema/"} {
		if strings.Contains(deps, bad) {
			t.Fatalf("the Lambda functions link %s", bad)
		}
	}
}

// The domain knows providers by their interface: the Bedrock client lives
// in internal/provider/bedrock, and no AWS SDK package is linked by
// internal/tenancy (nor by catalog or provider, which it imports).
func TestDomainLinksNoAWSSDK(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./internal/tenancy")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := string(out)
	if !strings.Contains(deps, "github.com/openclaw/tenancy/internal/provider\n") {
		t.Fatal("go list did not list the domain's dependencies")
	}
	for _, line := range strings.Split(deps, "\n") {
		if strings.HasPrefix(line, "github.com/aws/") {
			t.Errorf("internal/tenancy links %s", line)
		}
	}
}
