package boltstore_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/boltstore"
	"github.com/openclaw/tenancy/internal/catalog"
	"github.com/openclaw/tenancy/internal/clock"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// The semantics are proven by the store contract suite (internal/dynamostore,
// engine "bolt"); these tests cover what only this store has: a file that
// keeps everything across a close and reopen, and a lock.

func open(t *testing.T, dir string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	clk := clock.NewManual(time.Date(2026, 11, 28, 23, 59, 0, 0, time.UTC))
	s := open(t, dir)
	svc := tenancy.New(tenancy.Options{Store: s, Clock: clk, Catalog: catalog.Default()})
	cfg := tenancy.NewTenantConfig("acme")
	cfg.Metadata = map[string]any{"plan": "gold", "seats": 12.0}
	cfg.AllowedTools = []string{"web_search"}
	if _, err := svc.RegisterTenant(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	a := tenancy.NewAgentConfig("support")
	a.Tools = []string{"web_search"}
	if _, err := svc.CreateAgent(ctx, "acme", a); err != nil {
		t.Fatal(err)
	}
	keys := &auth.Keys{Store: s, Clock: clk}
	key, stored, err := keys.Create(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // two on day 1, one on day 2 (history), and one left open
		if i == 2 {
			clk.Advance(2 * time.Minute)
		}
		if _, err := svc.Execute(ctx, "acme", "support", "Where is my order?"); err != nil {
			t.Fatal(err)
		}
	}
	open1, err := s.Admit(ctx, tenancy.Admission{TenantID: "acme", AgentID: "support", Model: tenancy.DefaultModel,
		Reserve: 7, CallID: "in-flight", Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func(s *boltstore.Store) []any {
		tn, err := s.GetTenant(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		agents, _ := s.ListAgents(ctx, "acme")
		hist, _ := s.History(ctx, "acme", "2026-11-01", "2026-11-30")
		calls, _ := s.OpenCalls(ctx, "acme")
		k, ok, _ := s.KeyByHash(ctx, auth.Hash(key))
		return []any{tn, agents, hist, calls, k, ok}
	}
	before := snapshot(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir)
	defer s2.Close()
	after := snapshot(s2)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("reopened store differs:\n%+v\n%+v", before, after)
	}
	tn := after[0].(tenancy.Tenant)
	if tn.TotalQueries != 3 || tn.Usage.Queries != 1 || tn.Usage.Reserved != 7 || tn.Metadata["plan"] != "gold" {
		t.Fatalf("tenant after reopen: %+v", tn)
	}
	if h := after[2].([]tenancy.DayUsage); len(h) != 2 || h[0].Queries != 2 || h[1].Queries != 1 {
		t.Fatalf("history after reopen: %+v", h)
	}
	if k := after[4].(auth.StoredKey); k.KeyID != stored.KeyID || k.TenantID != "acme" {
		t.Fatalf("key after reopen: %+v", k)
	}
	// The reopened store goes on where it stopped: the open call settles once.
	if _, err := s2.Settle(ctx, open1, tenancy.Settlement{Cost: 5, PriceVersion: "v"}); err != nil {
		t.Fatal(err)
	}
	tn, _ = s2.GetTenant(ctx, "acme")
	if tn.Usage.Reserved != 0 || tn.TotalQueries != 4 {
		t.Fatalf("after settling the reopened call: %+v", tn.Usage)
	}
}

// A second opener of the same data directory (another process, or this
// one) is refused with ErrLocked after the timeout, never let in.
func TestSecondOpenerRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	_, err := boltstore.Open(dir, boltstore.Options{OpenTimeout: 200 * time.Millisecond})
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "the data directory is in use by another process") {
		t.Fatalf("message: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, dir) // released on close
	_ = s2.Close()
}

func TestOpenErrors(t *testing.T) {
	if _, err := boltstore.Open("", boltstore.Options{}); err == nil {
		t.Fatal("opened without a directory")
	}
	file := t.TempDir() + "/file"
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := boltstore.Open(file, boltstore.Options{}); err == nil || !strings.Contains(err.Error(), "data directory") {
		t.Fatalf("opened a file as the data directory: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/"+boltstore.FileName, []byte("not a bolt file, but long enough to be read as one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := boltstore.Open(dir, boltstore.Options{}); err == nil {
		t.Fatal("opened a corrupt file")
	}
}
