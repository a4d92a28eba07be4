package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/ddblocal"
	"github.com/openclaw/tenancy/internal/fakemodel"
	"github.com/openclaw/tenancy/internal/localapi"
)

// A benchmark that counts the allocations of the handler code must not
// count those of the servers it talks to, so it runs them in a child
// process: the test binary itself, with TESTS_CHILD_SERVE set.
const childEnv = "TESTS_CHILD_SERVE"

// serveChild serves what TESTS_CHILD_SERVE names, prints its URL, and
// serves until stdin closes. It reports whether this process was a child.
func serveChild() bool {
	switch os.Getenv(childEnv) {
	case "":
		return false
	case "minidyn":
		emb, err := ddblocal.StartEmbedded("")
		if err != nil {
			fmt.Println("error", err)
			return true
		}
		fmt.Println(emb.URL)
	case "tenancy-local": // the local API on TENANCY_DATA_DIR (killed by TestLocalSurvivesKill9)
		loc, err := localapi.Start(context.Background(), localapi.Options{App: app.Options{Getenv: os.Getenv,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
		if err != nil {
			fmt.Println("error", err)
			return true
		}
		go func() { _ = loc.Serve(context.Background()) }()
		fmt.Println(loc.URL)
	case "fakemodel":
		fake, err := fakemodel.Start("sk-bench", fakemodel.Usage{PromptTokens: 120, CompletionTokens: 80})
		if err != nil {
			fmt.Println("error", err)
			return true
		}
		fmt.Println(fake.URL)
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString(0) // until the parent goes
	return true
}

// startChild runs a child server and returns its URL.
func startChild(tb testing.TB, what string) string {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+what)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http") {
		tb.Fatalf("child %s: %q %v", what, line, err)
	}
	return strings.TrimSpace(line)
}
