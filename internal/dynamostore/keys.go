package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/tenancy"
)

var _ auth.KeyStore = (*Store)(nil)

const keySK = "KEY"

func keyPK(hash string) string    { return "KEY#" + hash }
func keyIDSK(keyID string) string { return "KEYID#" + keyID }

type keyItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Type      string `dynamodbav:"type"`
	KeyID     string `dynamodbav:"key_id"`
	TenantID  string `dynamodbav:"tenant_id"`
	Hash      string `dynamodbav:"hash"`
	CreatedAt string `dynamodbav:"created_at"`
}

// PutKey stores the key under its hash (for the authorizer's one GetItem)
// and under its tenant (for revocation by key id), if the tenant exists.
func (s *Store) PutKey(ctx context.Context, k auth.StoredKey) error {
	it := keyItem{Type: "key", KeyID: k.KeyID, TenantID: k.TenantID, Hash: k.Hash, CreatedAt: nowString(k.CreatedAt)}
	it.PK, it.SK = keyPK(k.Hash), keySK
	byHash, err := attributevalue.MarshalMap(it)
	if err != nil {
		return storeErr(err)
	}
	it.PK, it.SK = tenantPK(k.TenantID), keyIDSK(k.KeyID)
	byTenant, err := attributevalue.MarshalMap(it)
	if err != nil {
		return storeErr(err)
	}
	ne, err := build(expression.NewBuilder().WithCondition(notExists))
	if err != nil {
		return err
	}
	ex, err := build(expression.NewBuilder().WithCondition(exists))
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: s.table, Key: key(tenantPK(k.TenantID), tenantSK),
			ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names()}},
		{Put: &types.Put{TableName: s.table, Item: byHash, ConditionExpression: ne.Condition(), ExpressionAttributeNames: ne.Names()}},
		{Put: &types.Put{TableName: s.table, Item: byTenant, ConditionExpression: ne.Condition(), ExpressionAttributeNames: ne.Names()}},
	})
	if reasons != nil {
		if failed, _ := failedAt(reasons, 0); failed {
			return tenancy.TenantNotFound(k.TenantID)
		}
		return tenancy.Unavailable(nil) // a random key or id collided
	}
	return err
}

// KeyByHash implements auth.KeyStore.
func (s *Store) KeyByHash(ctx context.Context, hash string) (auth.StoredKey, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: key(keyPK(hash), keySK),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return auth.StoredKey{}, false, storeErr(err)
	}
	if len(out.Item) == 0 {
		return auth.StoredKey{}, false, nil
	}
	var it keyItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return auth.StoredKey{}, false, storeErr(err)
	}
	return auth.StoredKey{KeyID: it.KeyID, TenantID: it.TenantID, Hash: it.Hash, CreatedAt: parseTime(it.CreatedAt)}, true, nil
}

// DeleteKey implements auth.KeyStore: both items go in one transaction.
func (s *Store) DeleteKey(ctx context.Context, tenantID, keyID string) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: key(tenantPK(tenantID), keyIDSK(keyID)),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return storeErr(err)
	}
	var it keyItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return storeErr(err)
	}
	if len(out.Item) == 0 || it.Hash == "" {
		return auth.KeyNotFound(keyID, tenantID)
	}
	del, err := build(expression.NewBuilder().WithCondition(exists))
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: s.table, Key: key(tenantPK(tenantID), keyIDSK(keyID)),
			ConditionExpression: del.Condition(), ExpressionAttributeNames: del.Names()}},
		{Delete: &types.Delete{TableName: s.table, Key: key(keyPK(it.Hash), keySK)}},
	})
	if reasons != nil {
		return auth.KeyNotFound(keyID, tenantID) // revoked concurrently
	}
	return err
}
