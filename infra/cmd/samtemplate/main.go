// Command samtemplate writes template.yaml (a SAM template for local runs)
// from the stack's synthesized CloudFormation template:
//
//	go run ./infra/cmd/samtemplate -in cdk.out/Tenancy-dev.template.json -out template.yaml
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/openclaw/tenancy/infra/samtemplate"
)

func main() {
	in := flag.String("in", "cdk.out/Tenancy-dev.template.json", "synthesized CloudFormation template (make synth)")
	out := flag.String("out", "template.yaml", "SAM template to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "samtemplate:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var cfn map[string]any
	if err := json.Unmarshal(raw, &cfn); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	b, err := samtemplate.Generate(cfn)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
