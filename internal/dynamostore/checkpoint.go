package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// The scheduled reset's checkpoint: SCHED / RESET.
const (
	schedPK = "SCHED"
	resetSK = "RESET"
)

type checkpointItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	Type   string `dynamodbav:"type"`
	Hour   string `dynamodbav:"hour"`
	Cursor string `dynamodbav:"cursor"`
	Done   bool   `dynamodbav:"done"`
}

// ResetCheckpoint implements tenancy.Store.
func (s *Store) ResetCheckpoint(ctx context.Context) (tenancy.ResetCheckpoint, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: key(schedPK, resetSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return tenancy.ResetCheckpoint{}, storeErr(err)
	}
	var it checkpointItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return tenancy.ResetCheckpoint{}, storeErr(err)
	}
	return tenancy.ResetCheckpoint{Hour: it.Hour, Cursor: it.Cursor, Done: it.Done}, nil
}

// SaveResetCheckpoint implements tenancy.Store.
func (s *Store) SaveResetCheckpoint(ctx context.Context, cp tenancy.ResetCheckpoint) error {
	item, err := attributevalue.MarshalMap(checkpointItem{PK: schedPK, SK: resetSK, Type: "checkpoint", Hour: cp.Hour,
		Cursor: cp.Cursor, Done: cp.Done})
	if err != nil {
		return storeErr(err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: item}); err != nil {
		return storeErr(err)
	}
	return nil
}
