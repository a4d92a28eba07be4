package stack_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cfnLint is the cfn-lint command: CFN_LINT, else cfn-lint on PATH, else
// python3 running the cfnlint module (a pip install whose scripts are not
// on PATH). `make test` installs it when it is missing; a missing cfn-lint
// fails the test: the templates would go unchecked.
func cfnLint(t *testing.T) []string {
	t.Helper()
	if p := os.Getenv("CFN_LINT"); p != "" {
		return []string{p}
	}
	if p, err := exec.LookPath("cfn-lint"); err == nil {
		return []string{p}
	}
	py := []string{"python3", "-c", "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"}
	if err := exec.Command(py[0], append(py[1:], "--version")...).Run(); err != nil {
		t.Fatalf("cfn-lint not found, neither the command nor the Python module (make cfn-lint installs it): %v", err)
	}
	return py
}

// TestCfnLint runs cfn-lint on the synthesized CDK template (dev and prod)
// and on template.yaml (with the SAM transform). Allowed: CDK's own W3005
// (a DependsOn that a GetAtt already implies, which CDK adds between a role's
// policy and its function) on the CDK templates; nothing on template.yaml.
func TestCfnLint(t *testing.T) {
	lint := cfnLint(t)
	dir := t.TempDir()
	files := map[string]map[string]any{"dev.template.json": devCFN, "prod.template.json": prodCFN}
	var args []string
	for name, cfn := range files {
		b, err := json.MarshalIndent(cfn, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	sam, err := filepath.Abs(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, sam)
	cmd := exec.Command(lint[0], append(append(lint[1:], "--format", "json"), args...)...)
	out, err := cmd.Output()
	// Exit status: 0 clean, else a bit mask (2 errors, 4 warnings, 8 infos);
	// the JSON lists every finding either way.
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("cfn-lint: %v", err)
	}
	var findings []struct {
		Rule     struct{ Id string }
		Filename string
		Message  string
		Level    string
	}
	if err := json.Unmarshal(out, &findings); err != nil {
		t.Fatalf("cfn-lint output: %v\n%s", err, out)
	}
	w3005 := 0
	for _, f := range findings {
		if f.Rule.Id == "W3005" && strings.HasSuffix(f.Filename, ".template.json") {
			w3005++
			continue
		}
		t.Errorf("cfn-lint %s %s in %s: %s", f.Level, f.Rule.Id, filepath.Base(f.Filename), f.Message)
	}
	if code := cmd.ProcessState.ExitCode(); code&^4 != 0 || (code == 0) != (len(findings) == 0) {
		t.Errorf("cfn-lint exit status %d with %d findings", code, len(findings))
	}
	t.Logf("cfn-lint: %d findings, %d of them W3005 on the CDK templates", len(findings), w3005)
}
