package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/app"
	"github.com/openclaw/tenancy/internal/boltstore"
	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/ddblocal"
	"github.com/openclaw/tenancy/internal/localapi"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// localChild is the local API in a child process (the test binary itself)
// on a data directory.
type localChild struct {
	cmd *exec.Cmd
	url string
}

func startLocalChild(t *testing.T, dataDir string) (*localChild, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=tenancy-local", "TENANCY_DATA_DIR="+dataDir, "TENANCY_STORE=",
		"TENANCY_ADMIN_KEY="+adminKey, "TENANCY_LISTEN=127.0.0.1:0", "DYNAMODB_ENDPOINT=")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &localChild{cmd: cmd}
	t.Cleanup(func() { stdin.Close(); c.kill() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "http") {
		c.url = line
	}
	return c, line
}

func (c *localChild) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
	}
}

func call(t *testing.T, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	_ = dec.Decode(&m)
	return resp.StatusCode, m
}

// The local API on the default store is killed with SIGKILL while executes
// are in flight, and restarted on the same data directory: every
// acknowledged execute is still billed (exactly, to the nano), the tenant,
// its agent and its key still work, and the calls cut off by the kill show
// only as reservations. While it runs, a second server on the same
// directory is refused with a clear error.
func TestLocalSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	c, _ := startLocalChild(t, dir)
	if c.url == "" {
		t.Fatal("the local API did not start")
	}
	if st, _ := call(t, "POST", c.url+"/tenants", adminKey, `{"tenant_id":"acme","max_cost_usd_per_day":1000,"max_queries_per_hour":100000}`); st != 201 {
		t.Fatalf("register: %d", st)
	}
	if st, _ := call(t, "POST", c.url+"/tenants/acme/agents", adminKey, `{"agent_id":"support"}`); st != 201 {
		t.Fatalf("agent: %d", st)
	}
	st, k := call(t, "POST", c.url+"/tenants/acme/keys", adminKey, "")
	if st != 201 {
		t.Fatalf("key: %d", st)
	}
	key := k["key"].(string)

	_, line := startLocalChild(t, dir)
	if !strings.Contains(line, "the data directory is in use by another process") {
		t.Fatalf("second server on the same directory: %q", line)
	}

	var acked atomic.Int64
	var costs sync.Map // cost_usd of each acknowledged execute
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, r := call(t, "POST", c.url+"/tenants/acme/agents/support/execute", key, `{"query":"Where is my order?"}`)
				if st == 0 {
					return // the server is gone
				}
				if st != 200 {
					t.Errorf("execute: %d %v", st, r)
					return
				}
				costs.Store(r["cost_usd"].(json.Number).String(), true)
				acked.Add(1)
			}
		}()
	}
	for deadline := time.Now().Add(60 * time.Second); acked.Load() < 150 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	c.kill() // SIGKILL, executes in flight
	close(stop)
	wg.Wait()
	n := acked.Load()
	if n < 150 {
		t.Fatalf("only %d executes acknowledged before the kill", n)
	}
	var cost string
	costs.Range(func(k, _ any) bool { cost = k.(string); return true })

	c2, _ := startLocalChild(t, dir)
	if c2.url == "" {
		t.Fatal("the local API did not restart on its data directory")
	}
	st, u := call(t, "GET", c2.url+"/tenants/acme/usage", key, "") // the key survived
	if st != 200 {
		t.Fatalf("usage after restart: %d %v", st, u)
	}
	total, _ := u["total_queries"].(json.Number).Int64()
	if total < n || total > n+4 { // at most the 4 in-flight calls settled without their answer reaching us
		t.Fatalf("total_queries %d after %d acknowledged executes", total, n)
	}
	lifetime, _ := strictNanos(u["lifetime_cost_usd"].(json.Number).String())
	per, _ := strictNanos(cost)
	if lifetime != total*per {
		t.Fatalf("lifetime cost %d nano-USD for %d calls of %d", lifetime, total, per)
	}
	reserved, _ := strictNanos(u["reserved_cost_usd"].(json.Number).String())
	t.Logf("acknowledged %d, billed %d, reserved after the kill %d nano-USD", n, total, reserved)
	if st, a := call(t, "GET", c2.url+"/tenants/acme/agents/support", key, ""); st != 200 || a["agent_id"] != "tenant-acme-support" {
		t.Fatalf("agent after restart: %d %v", st, a)
	}
	if st, _ := call(t, "POST", c2.url+"/tenants/acme/agents/support/execute", key, `{"query":"Where is my order?"}`); st != 200 {
		t.Fatalf("execute after restart: %d", st)
	}
}

// strictNanos parses an exact decimal of USD into nano-USD.
func strictNanos(s string) (int64, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 9 {
		return 0, false
	}
	frac += strings.Repeat("0", 9-len(frac))
	var n int64
	for _, ch := range whole + frac {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + int64(ch-'0')
	}
	return n, true
}

// `make run` says which store it uses; TENANCY_STORE picks another, and a
// name it does not know is refused.
func TestLocalPrintsStore(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ store, want string }{
		{"", "Store:    bolt (embedded, persistent) in " + dir + "/tenancy.db"},
		{"bolt", "Store:    bolt (embedded, persistent) in " + dir + "/tenancy.db"},
		{"memory", "Store:    memory (embedded DynamoDB, minidyn, in-process; lost on exit), table \"tenancy\""},
	} {
		env := map[string]string{"TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_DATA_DIR": dir, "TENANCY_STORE": c.store}
		var out bytes.Buffer
		loc, err := localapi.Start(context.Background(), localapi.Options{Out: &out,
			App: app.Options{Getenv: func(k string) string { return env[k] }, Logger: newTestLogger(&logBuffer{})}})
		if err != nil {
			t.Fatal(err)
		}
		loc.Close()
		if !strings.Contains(out.String(), c.want+"\n") {
			t.Fatalf("TENANCY_STORE=%q printed\n%s\nwant the line %q", c.store, out.String(), c.want)
		}
	}
	_, err := localapi.Start(context.Background(), localapi.Options{App: app.Options{
		Getenv: func(k string) string { return map[string]string{"TENANCY_STORE": "sqlite"}[k] }}})
	if err == nil || err.Error() != `TENANCY_STORE="sqlite": must be bolt, memory or dynamodb` {
		t.Fatalf("unknown store: %v", err)
	}
}

// The Lambda functions link only the DynamoDB store: neither the embedded
// store nor bbolt is in their dependencies, so their size does not grow.
func TestLambdaBinariesDoNotLinkTheEmbeddedStore(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./functions/...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := string(out)
	if !strings.Contains(deps, "github.com/openclaw/tenancy/internal/dynamostore\n") {
		t.Fatal("go list did not list the functions' dependencies")
	}
	for _, bad := range []string{"github.com/openclaw/tenancy/internal/boltstore", "go.etcd.io/bbolt", "github.com/openclaw/tenancy/internal/localapi"} {
		if strings.Contains(deps, bad+"\n") {
			t.Fatalf("the Lambda functions link %s", bad)
		}
	}
}

// `tenancy-local export` / `import`: a deployment on the embedded store
// moves to DynamoDB (here the embedded minidyn over HTTP, as any endpoint)
// and back, with the same records; the keys still authenticate and the
// usage reads the same through the API. Exporting a data directory that a
// server has open is refused, and so is the in-memory store.
func TestExportImportThroughTheLocalAPI(t *testing.T) {
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	envA := map[string]string{"TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_ADMIN_KEY": adminKey, "TENANCY_DATA_DIR": dirA}
	loc, err := localapiStart(ctx, envA)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = loc.Serve(ctx) }()
	for _, r := range []struct{ path, body string }{
		{"/tenants", `{"tenant_id":"acme","max_cost_usd_per_day":12.345678901,"metadata":{"tier":"gold"}}`},
		{"/tenants/acme/agents", `{"agent_id":"support","system_prompt":"You are Acme support."}`},
		{"/tenants/acme/agents/support/execute", `{"query":"Where is my order?"}`},
		{"/tenants/acme/agents/support/execute", `{"query":"Où est ma commande ? 📦","session_id":"u-7"}`},
		{"/tenants/acme/agents/support/execute", `{"query":"And the invoice?","session_id":"u-7"}`},
	} {
		if st, b := call(t, "POST", loc.URL+r.path, adminKey, r.body); st >= 300 {
			t.Fatalf("%s: %d %v", r.path, st, b)
		}
	}
	_, k := call(t, "POST", loc.URL+"/tenants/acme/keys", adminKey, "")
	key := k["key"].(string)
	_, usage := call(t, "GET", loc.URL+"/tenants/acme/usage", key, "")
	st, transcript := call(t, "GET", loc.URL+"/tenants/acme/agents/support/sessions/u-7", key, "")
	if turns, _ := transcript["turns"].([]any); st != 200 || len(turns) != 2 {
		t.Fatalf("session before the move: %d %v", st, transcript)
	}

	getenv := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	var out, log bytes.Buffer
	err = localapi.Backup(ctx, getenv(envA), "export", nil, &out, &log)
	if err == nil || !strings.Contains(err.Error(), "the data directory is in use by another process") {
		t.Fatalf("export while the server runs: %v", err)
	}
	loc.Close()

	if err := localapi.Backup(ctx, getenv(envA), "export", nil, &out, &log); err != nil {
		t.Fatal(err)
	}
	exported := out.String()
	emb, err := ddblocal.StartEmbedded("")
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	envD := map[string]string{"TENANCY_STORE": "dynamodb", "DYNAMODB_ENDPOINT": emb.URL, "TENANCY_TABLE": "moved"}
	if err := localapi.Backup(ctx, getenv(envD), "import", strings.NewReader(exported), nil, &log); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := localapi.Backup(ctx, getenv(envD), "export", nil, &out, &log); err != nil {
		t.Fatal(err)
	}
	if out.String() != exported {
		t.Fatalf("DynamoDB export differs:\n%s\n---\n%s", exported, out.String())
	}
	envB := map[string]string{"TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_ADMIN_KEY": adminKey, "TENANCY_DATA_DIR": dirB}
	if err := localapi.Backup(ctx, getenv(envB), "import", strings.NewReader(out.String()), nil, &log); err != nil {
		t.Fatal(err)
	}
	// tenant (today's usage is in its window), agent, key, the agent's day, session
	want := "5 records exported from bolt " + dirA + "/tenancy.db\n" +
		"5 records imported into dynamodb at " + emb.URL + ", table \"moved\"\n" +
		"5 records exported from dynamodb at " + emb.URL + ", table \"moved\"\n" +
		"5 records imported into bolt " + dirB + "/tenancy.db\n"
	if log.String() != want {
		t.Fatalf("log:\n%s\nwant:\n%s", log.String(), want)
	}
	for _, env := range []map[string]string{envB, {"TENANCY_LISTEN": "127.0.0.1:0", "TENANCY_ADMIN_KEY": adminKey,
		"TENANCY_STORE": "dynamodb", "DYNAMODB_ENDPOINT": emb.URL, "TENANCY_TABLE": "moved"}} {
		moved, err := localapiStart(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = moved.Serve(ctx) }()
		st, u := call(t, "GET", moved.URL+"/tenants/acme/usage", key, "")
		sst, tr := call(t, "GET", moved.URL+"/tenants/acme/agents/support/sessions/u-7", key, "")
		moved.Close()
		if st != 200 || !reflect.DeepEqual(u, usage) {
			t.Fatalf("usage on %s after the move: %d\n%v\nwant\n%v", moved.Store, st, u, usage)
		}
		if sst != 200 || !reflect.DeepEqual(tr, transcript) {
			t.Fatalf("session on %s after the move: %d\n%v\nwant\n%v", moved.Store, sst, tr, transcript)
		}
	}
	err = localapi.Backup(ctx, getenv(map[string]string{"TENANCY_STORE": "memory"}), "export", nil, &out, &log)
	if err == nil || err.Error() != "TENANCY_STORE=memory keeps nothing between runs: export and import need bolt or dynamodb" {
		t.Fatalf("export of the memory store: %v", err)
	}
}

// The command leaves out a session that has expired and says so; importing
// that file brings back everything else.
func TestBackupCommandLeavesOutExpiredSessions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bs, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The tenant's sessions last 1 day; u-old's last turn was 2 days ago,
	// u-new's a minute ago.
	now := time.Now()
	svc := tenancy.New(tenancy.Options{Store: bs, Clock: clock.NewManual(now), Catalog: catalog.Default()})
	cfg := tenancy.NewTenantConfig("acme")
	cfg.SessionTTLDays = 1
	if _, err := svc.RegisterTenant(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAgent(ctx, "acme", tenancy.NewAgentConfig("support")); err != nil {
		t.Fatal(err)
	}
	for id, at := range map[string]time.Time{"u-old": now.Add(-48 * time.Hour), "u-new": now.Add(-time.Minute)} {
		k := tenancy.SessionKey{TenantID: "acme", AgentID: "support", SessionID: id}
		base, err := bs.GetSession(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bs.AppendTurn(ctx, base, tenancy.Turn{Query: "q", Answer: "a", CallID: "c-" + id, At: at}, 20); err != nil {
			t.Fatal(err)
		}
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TENANCY_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	var out, log bytes.Buffer
	if err := localapi.Backup(ctx, getenv, "export", nil, &out, &log); err != nil {
		t.Fatal(err)
	}
	if want := "3 records exported from bolt " + dir + "/tenancy.db (1 expired sessions left out)\n"; log.String() != want ||
		!strings.Contains(out.String(), `"session_id":"u-new"`) || strings.Contains(out.String(), `"session_id":"u-old"`) {
		t.Fatalf("log %q, want %q; export:\n%s", log.String(), want, out.String())
	}
	log.Reset()
	env["TENANCY_DATA_DIR"] = t.TempDir()
	if err := localapi.Backup(ctx, getenv, "import", strings.NewReader(out.String()), nil, &log); err != nil {
		t.Fatal(err)
	}
	if want := "3 records imported into bolt " + env["TENANCY_DATA_DIR"] + "/tenancy.db\n"; log.String() != want {
		t.Fatalf("log %q, want %q", log.String(), want)
	}
}
