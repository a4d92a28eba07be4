package dynamostore

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/idempotency"
	"github.com/openclaw/tenancy/internal/schema"
)

var _ idempotency.Store = (*Store)(nil)

func idemSK(keyHash string) string { return "IDEM#" + keyHash }

type idemItem struct {
	Status      string `dynamodbav:"status"`
	PayloadHash string `dynamodbav:"payload_hash"`
	StatusCode  int    `dynamodbav:"status_code"`
	Body        string `dynamodbav:"body"`
	Expires     int64  `dynamodbav:"expires_at"`
	InProgUntil int64  `dynamodbav:"inprogress_until"`
}

// ClaimRequest claims a key with one conditional write: free, expired, or
// an in-progress claim whose process died. Otherwise the live record comes
// back (ALL_OLD of an UpdateItem, which every engine returns).
func (s *Store) ClaimRequest(ctx context.Context, tenantID, keyHash, owner, payloadHash string, now, inProgressUntil, expires time.Time) (idempotency.Record, bool, error) {
	nowS := expression.Value(now.Unix())
	e, err := build(expression.NewBuilder().
		WithCondition(expression.Or(notExists,
			expression.Name(schema.TTLAttribute).LessThan(nowS),
			expression.And(expression.Name("status").Equal(expression.Value(idempotency.InProgress)),
				expression.Name("inprogress_until").LessThan(nowS)))).
		WithUpdate(expression.Set(expression.Name("status"), expression.Value(idempotency.InProgress)).
			Set(expression.Name("type"), expression.Value("idempotency")).
			Set(expression.Name("payload_hash"), expression.Value(payloadHash)).
			Set(expression.Name("owner"), expression.Value(owner)).
			Set(expression.Name("inprogress_until"), expression.Value(inProgressUntil.Unix())).
			Set(expression.Name(schema.TTLAttribute), expression.Value(expires.Unix())).
			Set(expression.Name("status_code"), expression.Value(0)).
			Set(expression.Name("body"), expression.Value("-"))))
	if err != nil {
		return idempotency.Record{}, false, err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: s.table, Key: key(tenantPK(tenantID), idemSK(keyHash)),
		UpdateExpression: e.Update(), ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(),
		ExpressionAttributeValues: e.Values(), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	if failed, old := condFailed(err); failed {
		var it idemItem
		if err := attributevalue.UnmarshalMap(old, &it); err != nil {
			return idempotency.Record{}, false, storeErr(err)
		}
		return idempotency.Record{Status: it.Status, PayloadHash: it.PayloadHash, StatusCode: it.StatusCode, Body: it.Body}, false, nil
	}
	if err != nil {
		return idempotency.Record{}, false, storeErr(err)
	}
	return idempotency.Record{Status: idempotency.InProgress, PayloadHash: payloadHash}, true, nil
}

// ownedInProgress is the condition of completing or abandoning a claim:
// the record is still owner's, in progress.
func ownedInProgress(owner string) expression.ConditionBuilder {
	return expression.And(exists, expression.Name("owner").Equal(expression.Value(owner)),
		expression.Name("status").Equal(expression.Value(idempotency.InProgress)))
}

// CompleteRequest implements idempotency.Store.
func (s *Store) CompleteRequest(ctx context.Context, tenantID, keyHash, owner string, statusCode int, body string, expires time.Time) error {
	e, err := build(expression.NewBuilder().WithCondition(ownedInProgress(owner)).WithUpdate(
		expression.Set(expression.Name("status"), expression.Value(idempotency.Completed)).
			Set(expression.Name("status_code"), expression.Value(statusCode)).
			Set(expression.Name("body"), expression.Value(body)).
			Set(expression.Name(schema.TTLAttribute), expression.Value(expires.Unix()))))
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: s.table, Key: key(tenantPK(tenantID), idemSK(keyHash)),
		UpdateExpression: e.Update(), ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(),
		ExpressionAttributeValues: e.Values()})
	if failed, _ := condFailed(err); failed {
		return idempotency.ErrNotOwner
	}
	return storeErrOrNil(err)
}

// AbandonRequest implements idempotency.Store.
func (s *Store) AbandonRequest(ctx context.Context, tenantID, keyHash, owner string) error {
	e, err := build(expression.NewBuilder().WithCondition(ownedInProgress(owner)))
	if err != nil {
		return err
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: s.table, Key: key(tenantPK(tenantID), idemSK(keyHash)),
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()})
	if failed, _ := condFailed(err); failed {
		return idempotency.ErrNotOwner
	}
	return storeErrOrNil(err)
}

func storeErrOrNil(err error) error {
	if err == nil {
		return nil
	}
	return storeErr(err)
}
