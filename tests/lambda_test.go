package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/ddblocal"
	"github.com/openclaw/tenancy/internal/dynamostore"
)

// The Lambda runtime emulator (what `sam local invoke` runs inside its
// container) is given by RIE, or installed from the Go module proxy into a
// temporary GOBIN. The bootstrap binaries come from BOOTSTRAP_DIR
// (`make build-host`), or are built here.
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func rieBinary(t testing.TB) string {
	if p := os.Getenv("RIE"); p != "" {
		return p
	}
	if p := filepath.Join(repoRoot(t), ".tools", "bin", "aws-lambda-rie"); fileExists(p) {
		return p
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "install", rieModule)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("installing the runtime emulator: %v\n%s", err, out)
	}
	return filepath.Join(dir, "aws-lambda-rie")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func bootstrap(t testing.TB, fn string) string {
	if dir := os.Getenv("BOOTSTRAP_DIR"); dir != "" {
		return filepath.Join(dir, fn, "bootstrap")
	}
	out := filepath.Join(t.TempDir(), fn, "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, "./functions/"+fn)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", fn, err, b)
	}
	return out
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// embeddedTable starts an embedded DynamoDB with one table, stopped when
// the test ends.
func embeddedTable(t testing.TB, table string) (*ddblocal.Embedded, *dynamodb.Client) {
	t.Helper()
	emb, err := ddblocal.StartEmbedded("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	db, err := dynamostore.NewClient(context.Background(), emb.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamostore.CreateTable(context.Background(), db, table); err != nil {
		t.Fatal(err)
	}
	return emb, db
}

// emulated is one function's bootstrap running under the emulator.
type emulated struct {
	url     string
	started time.Time
	log     *logBuffer
	cmd     *exec.Cmd
}

// killFunction SIGKILLs the function's process (the emulator starts it in
// a process group of its own) and reports how many it killed: a crash, not
// a shutdown.
func (e *emulated) killFunction() int {
	n := 0
	for _, pid := range childrenOf(e.cmd.Process.Pid) {
		if syscall.Kill(-pid, syscall.SIGKILL) == nil || syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// kill ends the function process and the emulator.
func (e *emulated) kill() {
	e.killFunction()
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
}

// childrenOf lists the processes whose parent is pid (from /proc).
func childrenOf(pid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may contain spaces, so cut after ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// startEmulated runs boot under the emulator. Its two ports (invoke and
// runtime API; the emulator cannot take port 0 for the runtime API: it hands
// the function "127.0.0.1:0") are free ports picked here, so another process
// may bind one between our release and the emulator's bind. Then the
// emulator exits on "address already in use" and the whole start is
// repeated on new ports; and the emulator only counts as started once the
// listening sockets on both ports are its own file descriptors (a dial alone
// could reach the process that took a port).
func startEmulated(t testing.TB, rie, boot string, env []string) *emulated {
	t.Helper()
	for attempt := 1; ; attempt++ {
		e, clash := tryStartEmulated(t, rie, boot, env)
		if e != nil {
			return e
		}
		if attempt == 5 {
			t.Fatalf("emulator start: invoke port taken by another process %d times in a row:\n%s", attempt, clash)
		}
		t.Logf("emulator start %d: invoke port taken by another process; starting again on new ports", attempt)
	}
}

// tryStartEmulated returns the started emulator, or nil and its log when
// the emulator could not bind the port it was given.
func tryStartEmulated(t testing.TB, rie, boot string, env []string) (*emulated, string) {
	t.Helper()
	addr, runtimeAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", runtimeAddr, boot)
	e := &emulated{url: "http://" + addr + "/2015-03-31/functions/function/invocations", log: &logBuffer{}, cmd: cmd}
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = e.log, e.log
	e.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { e.kill(); <-exited })
	_, port, _ := net.SplitHostPort(addr)
	_, runtimePort, _ := net.SplitHostPort(runtimeAddr)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		select {
		case <-exited:
			if log := e.log.String(); strings.Contains(log, "address already in use") {
				return nil, log
			}
			t.Fatalf("emulator exited before listening on %s:\n%s", addr, e.log.String())
		default:
		}
		if listensOn(cmd.Process.Pid, port) && listensOn(cmd.Process.Pid, runtimePort) {
			return e, ""
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator did not listen on %s:\n%s", addr, e.log.String())
		}
	}
}

// listensOn reports whether process pid holds the socket listening on
// 127.0.0.1:port (from /proc/net/tcp and /proc/<pid>/fd).
func listensOn(pid int, port string) bool {
	p, err := strconv.Atoi(port)
	if err != nil {
		return false
	}
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	local := fmt.Sprintf("0100007F:%04X", p)
	inode := ""
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && f[1] == local && f[3] == "0A" { // 0A: LISTEN
			inode = f[9]
		}
	}
	if inode == "" {
		return false
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && l == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}

// post sends an event, retrying a connection the emulator refused or reset
// while starting (seen about once in 200 starts on a loaded machine).
func (e *emulated) post(t testing.TB, event []byte) *http.Response {
	t.Helper()
	for attempt := 0; ; attempt++ {
		resp, err := http.Post(e.url, "application/json", bytes.NewReader(event))
		if err == nil {
			return resp
		}
		if attempt == 4 {
			t.Fatalf("%v\n%s", err, e.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *emulated) invoke(t testing.TB, event []byte) []byte {
	t.Helper()
	resp := e.post(t, event)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("invoke: %d %s\n%s", resp.StatusCode, b, e.log.String())
	}
	checkLambdaResponse(t, event, b)
	return b
}

// TestLambdaBinariesUnderEmulator runs every function's built bootstrap
// under the runtime emulator, invoked with the events/ files, against the
// embedded DynamoDB: the whole Quick Start through the real binaries.
func TestLambdaBinariesUnderEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binaries")
	}
	rie := rieBinary(t)
	emb, _ := embeddedTable(t, "tenancy-rie")
	// Two admin keys, as during a rotation; the events use the second.
	env := []string{"TENANCY_TABLE=tenancy-rie", "DYNAMODB_ENDPOINT=" + emb.URL, "TENANCY_ADMIN_KEY=next-admin-key,local-admin-key",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30", "AWS_REGION=us-east-1"}

	fns := map[string]*emulated{}
	for _, fn := range api.Functions {
		fns[fn] = startEmulated(t, rie, bootstrap(t, fn), env)
	}
	event := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "events", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	httpCall := func(fn, file string, wantStatus int) map[string]any {
		t.Helper()
		var out struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		raw := fns[fn].invoke(t, event(file))
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: %v: %s", file, err, raw)
		}
		if out.StatusCode != wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", file, out.StatusCode, wantStatus, out.Body)
		}
		var body map[string]any
		_ = json.Unmarshal([]byte(out.Body), &body)
		return body
	}

	b := httpCall(api.FnTenants, "tenants.json", 201)
	eq(t, "tenant", b["tenant_id"], "acme")
	b = httpCall(api.FnAgents, "agents.json", 201)
	eq(t, "agent", b["agent_id"], "tenant-acme-support")
	b = httpCall(api.FnExecute, "execute.json", 200)
	eq(t, "provider", b["provider"], "dev")
	eq(t, "agent id", b["agent_id"], "tenant-acme-support")
	b = httpCall(api.FnReports, "reports.json", 200)
	eq(t, "total_queries", b["total_queries"], 1)
	eq(t, "agents", b["agents"], 1)
	// The same event sent to a function that does not serve the route.
	httpCall(api.FnReports, "execute.json", 404)

	var authz struct {
		IsAuthorized bool              `json:"isAuthorized"`
		Context      map[string]string `json:"context"`
	}
	if err := json.Unmarshal(fns[api.FnAuthorizer].invoke(t, event("authorizer.json")), &authz); err != nil {
		t.Fatal(err)
	}
	eq(t, "authorized", authz.IsAuthorized, true)
	eq(t, "role", authz.Context["role"], "admin")

	var sum map[string]any
	if err := json.Unmarshal(fns[api.FnReset].invoke(t, event("reset.json")), &sum); err != nil {
		t.Fatal(err)
	}
	eq(t, "reset tenants", sum["tenants"], 1)
	eq(t, "reset failures", fmt.Sprint(sum["failed"]), "[]")
	for fn, e := range fns {
		if strings.Contains(e.log.String(), "local-admin-key") {
			t.Fatalf("%s logged the admin key", fn)
		}
	}
}
