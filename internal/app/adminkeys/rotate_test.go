package adminkeys

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// versioned is Secrets Manager's versions and staging labels for one
// secret, as rotation sees them.
type versioned struct {
	mu       sync.Mutex
	enabled  bool
	values   map[string]string   // version -> value ("" : a stub without value)
	stages   map[string][]string // version -> stages
	puts     int
	lastMove [2]string
}

func newVersioned(current string) *versioned {
	return &versioned{enabled: true, values: map[string]string{"v0": current}, stages: map[string][]string{"v0": {stageCurrent}}}
}

// start is what RotateSecret does before calling the function: a pending
// stub version named by the token.
func (f *versioned) start(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[token] = ""
	f.stages[token] = []string{stagePending}
}

func (f *versioned) current() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for v, st := range f.stages {
		if slices.Contains(st, stageCurrent) {
			return f.values[v]
		}
	}
	return ""
}

func (f *versioned) DescribeSecret(_ context.Context, _ *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string][]string{}
	for v, st := range f.stages {
		m[v] = slices.Clone(st)
	}
	return &secretsmanager.DescribeSecretOutput{RotationEnabled: aws.Bool(f.enabled), VersionIdsToStages: m}, nil
}

func (f *versioned) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for v, st := range f.stages {
		if (in.VersionId == nil || *in.VersionId == v) && slices.Contains(st, aws.ToString(in.VersionStage)) && f.values[v] != "" {
			return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.values[v]), VersionId: aws.String(v)}, nil
		}
	}
	return nil, &types.ResourceNotFoundException{Message: aws.String("no such version")}
}

func (f *versioned) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	v := aws.ToString(in.ClientRequestToken)
	f.values[v] = aws.ToString(in.SecretString)
	f.stages[v] = slices.Clone(in.VersionStages)
	return &secretsmanager.PutSecretValueOutput{}, nil
}

func (f *versioned) UpdateSecretVersionStage(_ context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	stage, to, from := aws.ToString(in.VersionStage), aws.ToString(in.MoveToVersionId), aws.ToString(in.RemoveFromVersionId)
	if !slices.Contains(f.stages[from], stage) {
		return nil, errors.New("InvalidParameterException: the stage is not on RemoveFromVersionId")
	}
	f.stages[from] = slices.DeleteFunc(f.stages[from], func(s string) bool { return s == stage })
	// Moving AWSCURRENT keeps the pending label off the new current version.
	f.stages[to] = append(slices.DeleteFunc(f.stages[to], func(s string) bool { return s == stagePending }), stage)
	f.lastMove = [2]string{from, to}
	return &secretsmanager.UpdateSecretVersionStageOutput{}, nil
}

func rotate(t *testing.T, f *versioned, token string) {
	t.Helper()
	f.start(token)
	for _, step := range []string{"createSecret", "createSecret", "setSecret", "testSecret", "finishSecret", "finishSecret"} {
		if err := Rotate(context.Background(), f, RotationEvent{SecretID: "admin", ClientRequestToken: token, Step: step}); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9]{48}$`)

func TestRotation(t *testing.T) {
	f := newVersioned("first-key")
	rotate(t, f, "t1")
	keys := strings.Split(f.current(), ",")
	if len(keys) != 2 || !keyRE.MatchString(keys[0]) || keys[1] != "first-key" || f.puts != 1 || f.lastMove != [2]string{"v0", "t1"} {
		t.Fatalf("after the first rotation: %d keys, second %q, puts %d, move %v", len(keys), keys[len(keys)-1], f.puts, f.lastMove)
	}
	// The second rotation keeps the newest key and drops the older one.
	rotate(t, f, "t2")
	again := strings.Split(f.current(), ",")
	if len(again) != 2 || !keyRE.MatchString(again[0]) || again[0] == keys[0] || again[1] != keys[0] || f.puts != 2 {
		t.Fatalf("after the second rotation: %d keys, keeps the previous newest %v, puts %d", len(again), again[len(again)-1] == keys[0], f.puts)
	}
	// An operator's hand-made list rotates the same way (its first key kept).
	f = newVersioned("new-by-hand, old-by-hand")
	rotate(t, f, "t3")
	if k := strings.Split(f.current(), ","); len(k) != 2 || k[1] != "new-by-hand" {
		t.Fatalf("hand-made list: %d keys", len(k))
	}
}

func TestRotationRefusals(t *testing.T) {
	ctx := context.Background()
	f := newVersioned("first-key")
	ev := RotationEvent{SecretID: "admin", ClientRequestToken: "t1", Step: "createSecret"}
	if err := Rotate(ctx, f, ev); err == nil || err.Error() != "rotation: version t1 is not a version of the secret" {
		t.Errorf("unknown version: %v", err)
	}
	f.start("t1")
	if err := Rotate(ctx, f, RotationEvent{SecretID: "admin", ClientRequestToken: "t1", Step: "testSecret"}); err == nil ||
		!strings.HasPrefix(err.Error(), "rotation: testing the pending keys: ") {
		t.Errorf("testSecret before createSecret: %v", err)
	}
	if err := Rotate(ctx, f, RotationEvent{SecretID: "admin", ClientRequestToken: "t1", Step: "dance"}); err == nil || err.Error() != `rotation: unknown step "dance"` {
		t.Errorf("unknown step: %v", err)
	}
	if err := Rotate(ctx, f, RotationEvent{SecretID: "admin", ClientRequestToken: "v0", Step: "createSecret"}); err != nil || f.puts != 0 {
		t.Errorf("the current version: %v, puts %d", err, f.puts)
	}
	f.stages["t9"], f.values["t9"] = []string{"AWSPREVIOUS"}, "x"
	if err := Rotate(ctx, f, RotationEvent{SecretID: "admin", ClientRequestToken: "t9", Step: "createSecret"}); err == nil || err.Error() != "rotation: version t9 is not pending" {
		t.Errorf("a version that is not pending: %v", err)
	}
	f.enabled = false
	if err := Rotate(ctx, f, ev); err == nil || err.Error() != "rotation: secret admin does not have rotation enabled" {
		t.Errorf("rotation disabled: %v", err)
	}
	// A current value that is no list of keys is not rotated (and not quoted).
	f = newVersioned("a b")
	f.start("t1")
	if err := Rotate(ctx, f, ev); err == nil || strings.Contains(err.Error(), "a b") || f.puts != 0 {
		t.Errorf("bad current value: %v, puts %d", err, f.puts)
	}
}

func TestIsRotationEvent(t *testing.T) {
	ev, ok := IsRotationEvent([]byte(`{"SecretId":"arn:x","ClientRequestToken":"t","Step":"createSecret"}`))
	if !ok || ev != (RotationEvent{"arn:x", "t", "createSecret"}) {
		t.Errorf("rotation event: %v %v", ev, ok)
	}
	for _, raw := range []string{`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`, `{}`, `[]`, `nope`, `{"SecretId":"x","Step":"createSecret"}`} {
		if _, ok := IsRotationEvent([]byte(raw)); ok {
			t.Errorf("%s is taken for a rotation event", raw)
		}
	}
}

func TestNewAdminKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k, err := NewAdminKey()
		if err != nil || !keyRE.MatchString(k) || seen[k] {
			t.Fatalf("key %q %v (repeated %v)", k, err, seen[k])
		}
		seen[k] = true
	}
}

func TestWithRotation(t *testing.T) {
	f := newVersioned("first-key")
	f.start("t1")
	var resets []string
	clients := 0
	h := WithRotation(func(_ context.Context, raw json.RawMessage) (any, error) {
		resets = append(resets, string(raw))
		return "reset", nil
	}, func(context.Context) (RotationAPI, error) { clients++; return f, nil })
	ctx := context.Background()
	if out, err := h(ctx, json.RawMessage(`{"source":"aws.events"}`)); out != "reset" || err != nil {
		t.Fatalf("scheduled event: %v %v", out, err)
	}
	for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		raw := `{"SecretId":"admin","ClientRequestToken":"t1","Step":"` + step + `"}`
		if out, err := h(ctx, json.RawMessage(raw)); out != nil || err != nil {
			t.Fatalf("%s: %v %v", step, out, err)
		}
	}
	if k := strings.Split(f.current(), ","); len(k) != 2 || k[1] != "first-key" || clients != 1 || len(resets) != 1 {
		t.Fatalf("keys %d, clients %d, resets %d", len(k), clients, len(resets))
	}
}
