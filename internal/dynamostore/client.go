package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/schema"
)

// Retries: a request is tried at most 4 times with jittered backoff capped
// at 300ms, so a failing DynamoDB turns into a 503 within about a second
// rather than the SDK default's many seconds; the retry token bucket still
// stops retry storms.
func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 4
		o.MaxBackoff = 300 * time.Millisecond
	})
}

// keepAlive is the SDK's HTTP client with one change: it keeps the
// connection when the answer arrives before net/http has finished sending
// the request. The SDK closes a request's body as soon as the response is
// in (smithy-go's ClientHandler), while net/http's write goroutine may
// still be checking that body for bytes beyond its Content-Length; it does
// so with the body's WriteTo, which the SDK's wrapper answers with io.EOF
// once closed, and net/http takes that error as a failed write and drops
// the connection (the next request dials a new one: over TLS, a new
// handshake). Hiding WriteTo makes that check use Read, whose io.EOF is
// the normal end. TestConnectionsReused counts the connections.
type keepAlive struct{ c aws.HTTPClient }

type readOnlyBody struct{ io.ReadCloser }

// keepConnections wraps the client's HTTP client, as the SDK resolved it
// (its defaults mode's timeouts, a custom CA bundle), in keepAlive.
func keepConnections(o *dynamodb.Options) { o.HTTPClient = keepAlive{o.HTTPClient} }

func (k keepAlive) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readOnlyBody{r.Body}
	}
	return k.c.Do(r)
}

// NewClient returns a DynamoDB client. With an endpoint (a local engine:
// minidyn, moto, DynamoDB Local) it uses static dummy credentials unless AWS
// credentials are in the environment; without one, the AWS default chain.
func NewClient(ctx context.Context, endpoint string, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	if endpoint == "" {
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryer(retryer))
		if err != nil {
			return nil, fmt.Errorf("loading AWS config: %w", err)
		}
		return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){keepConnections}, optFns...)...), nil
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	var creds aws.CredentialsProvider = credentials.NewStaticCredentialsProvider("local", "local", "")
	if id := os.Getenv("AWS_ACCESS_KEY_ID"); id != "" {
		creds = credentials.NewStaticCredentialsProvider(id, os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	}
	opts := dynamodb.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: creds, Retryer: retryer()}
	return dynamodb.New(opts, append([]func(*dynamodb.Options){keepConnections}, optFns...)...), nil
}

// TableInput is the table definition from internal/schema: string pk/sk,
// on-demand. The CDK stack builds the same keys from the same constants.
func TableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(schema.PartitionKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(schema.SortKey), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(schema.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(schema.SortKey), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	}
}

// CreateTable creates the table if it does not exist and waits until it is
// usable. (minidyn reports an empty status: it is usable at once.)
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	_, err := db.CreateTable(ctx, TableInput(name))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("creating table %s: %w", name, err)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("describing table %s: %w", name, err)
		}
		if s := out.Table.TableStatus; s == types.TableStatusActive || s == "" {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("table %s did not become active", name)
}
