package adminkeys

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/openclaw/tenancy/internal/auth"
)

// Scheduled rotation of the admin keys secret by Secrets Manager (the stack
// schedules it every schema.AdminKeyRotationDays, with the reset function). A rotation puts a new key first and
// keeps the newest key of the current list, dropping older ones: after a
// rotation the previous admin key stays valid until the next one, so
// clients have a whole rotation period to move to the new key. An operator
// may still edit the list by hand (README: add, move clients, remove).

// KeyLength is the length of a generated admin key: letters and digits, as
// the stack's first key.
const KeyLength = 48

// RotationEvent is what Secrets Manager sends a rotation function.
type RotationEvent struct {
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	Step               string `json:"Step"`
}

// IsRotationEvent tells a rotation event from other events a function
// receives (the reset function also gets EventBridge's scheduled events).
func IsRotationEvent(raw []byte) (RotationEvent, bool) {
	var ev RotationEvent
	if json.Unmarshal(raw, &ev) != nil || ev.SecretID == "" || ev.ClientRequestToken == "" || ev.Step == "" {
		return RotationEvent{}, false
	}
	return ev, true
}

// RotationAPI is the part of Secrets Manager a rotation uses;
// *secretsmanager.Client implements it.
type RotationAPI interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

const (
	stageCurrent = "AWSCURRENT"
	stagePending = "AWSPENDING"
)

// Rotate runs one step of a rotation (createSecret, setSecret, testSecret,
// finishSecret). Every step may run again (Secrets Manager retries), so each
// is idempotent. Errors never quote a key.
func Rotate(ctx context.Context, c RotationAPI, ev RotationEvent) error {
	desc, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
	if err != nil {
		return fmt.Errorf("rotation: describing the secret: %w", err)
	}
	if !aws.ToBool(desc.RotationEnabled) {
		return fmt.Errorf("rotation: secret %s does not have rotation enabled", ev.SecretID)
	}
	stages, ok := desc.VersionIdsToStages[ev.ClientRequestToken]
	if !ok {
		return fmt.Errorf("rotation: version %s is not a version of the secret", ev.ClientRequestToken)
	}
	if slices.Contains(stages, stageCurrent) {
		return nil // already finished
	}
	if !slices.Contains(stages, stagePending) {
		return fmt.Errorf("rotation: version %s is not pending", ev.ClientRequestToken)
	}
	switch ev.Step {
	case "createSecret":
		return create(ctx, c, ev)
	case "setSecret":
		return nil // the keys live only in the secret
	case "testSecret":
		keys, err := value(ctx, c, ev.SecretID, ev.ClientRequestToken, stagePending)
		if err == nil && len(keys) < 2 {
			err = errors.New("the pending list does not keep the previous key")
		}
		if err != nil {
			return fmt.Errorf("rotation: testing the pending keys: %w", err)
		}
		return nil
	case "finishSecret":
		var current string
		for v, st := range desc.VersionIdsToStages {
			if slices.Contains(st, stageCurrent) {
				current = v
			}
		}
		_, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(ev.SecretID), VersionStage: aws.String(stageCurrent),
			MoveToVersionId: aws.String(ev.ClientRequestToken), RemoveFromVersionId: aws.String(current),
		})
		if err != nil {
			return fmt.Errorf("rotation: making the new keys current: %w", err)
		}
		return nil
	}
	return fmt.Errorf("rotation: unknown step %q", ev.Step)
}

func create(ctx context.Context, c RotationAPI, ev RotationEvent) error {
	current, err := value(ctx, c, ev.SecretID, "", stageCurrent)
	if err != nil {
		return fmt.Errorf("rotation: reading the current keys: %w", err)
	}
	if _, err := value(ctx, c, ev.SecretID, ev.ClientRequestToken, stagePending); err == nil {
		return nil // created by an earlier try
	} else if !errors.As(err, new(*types.ResourceNotFoundException)) {
		return fmt.Errorf("rotation: reading the pending keys: %w", err)
	}
	key, err := NewAdminKey()
	if err != nil {
		return err
	}
	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(ev.SecretID), ClientRequestToken: aws.String(ev.ClientRequestToken),
		SecretString: aws.String(key + "," + current[0]), VersionStages: []string{stagePending},
	})
	if err != nil {
		return fmt.Errorf("rotation: writing the new keys: %w", err)
	}
	return nil
}

// value reads and parses a version of the secret (by id and stage).
func value(ctx context.Context, c RotationAPI, secret, version, stage string) ([]string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(secret), VersionStage: aws.String(stage)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := c.GetSecretValue(ctx, in)
	if err != nil {
		return nil, err
	}
	return auth.ParseAdminKeys(aws.ToString(out.SecretString))
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewAdminKey is a random admin key of KeyLength letters and digits (~285
// bits).
func NewAdminKey() (string, error) {
	var b strings.Builder
	max := big.NewInt(int64(len(keyAlphabet)))
	for range KeyLength {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("rotation: generating a key: %w", err)
		}
		b.WriteByte(keyAlphabet[n.Int64()])
	}
	return b.String(), nil
}

// Handler is a Lambda handler on raw events.
type Handler func(ctx context.Context, raw json.RawMessage) (any, error)

// WithRotation makes a function also the rotation function of the admin
// keys secret: rotation events run a step with the client client gives
// (made on the first rotation event), every other event goes to next.
func WithRotation(next Handler, client func(ctx context.Context) (RotationAPI, error)) Handler {
	var c RotationAPI
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		ev, ok := IsRotationEvent(raw)
		if !ok {
			return next(ctx, raw)
		}
		if c == nil {
			var err error
			if c, err = client(ctx); err != nil {
				return nil, err
			}
		}
		return nil, Rotate(ctx, c, ev)
	}
}
