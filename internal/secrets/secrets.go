// Package secrets reads secrets from AWS Secrets Manager at cold start: the
// provider keys (a JSON object of env names to values) and the admin key.
// Errors name the secret, never its value.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// API is the part of the Secrets Manager client used here;
// *secretsmanager.Client implements it.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ErrNotFound is returned (wrapped) when the secret does not exist.
var ErrNotFound = errors.New("secret not found")

// NewClient is a Secrets Manager client from the default AWS configuration
// (the Lambda's region and role).
func NewClient(ctx context.Context, optFns ...func(*secretsmanager.Options)) (*secretsmanager.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return secretsmanager.NewFromConfig(cfg, optFns...), nil
}

// GetString returns the current string value of the secret named name (a
// name or an ARN).
func GetString(ctx context.Context, client API, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("reading secret: empty secret name")
	}
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return "", fmt.Errorf("reading secret %q: %w", name, ErrNotFound)
		}
		return "", fmt.Errorf("reading secret %q: %w", name, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("reading secret %q: it holds binary data, not a string", name)
	}
	return *out.SecretString, nil
}

// GetJSON decodes the secret named name, a JSON document, into v. A decoding
// error does not quote the secret.
func GetJSON(ctx context.Context, client API, name string, v any) error {
	s, err := GetString(ctx, client, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			at := ""
			if typeErr.Field != "" {
				at = fmt.Sprintf(" at %q", typeErr.Field)
			}
			return fmt.Errorf("secret %q: a JSON %s%s where %s was expected", name, typeErr.Value, at, typeErr.Type)
		}
		return fmt.Errorf("secret %q is not valid JSON", name)
	}
	return nil
}
