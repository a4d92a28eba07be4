package dynamostore_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// itemSize is DynamoDB's item size: attribute names plus values (numbers
// counted as their digits, an upper bound of DynamoDB's encoding).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	var size func(v types.AttributeValue) int
	size = func(v types.AttributeValue) int {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			return len(x.Value)
		case *types.AttributeValueMemberN:
			return len(x.Value)
		case *types.AttributeValueMemberBOOL:
			return 1
		case *types.AttributeValueMemberM:
			s := 3
			for k, e := range x.Value {
				s += len(k) + size(e) + 1
			}
			return s
		case *types.AttributeValueMemberL:
			s := 3
			for _, e := range x.Value {
				s += size(e) + 1
			}
			return s
		}
		return 0
	}
	for k, v := range item {
		n += len(k) + size(v)
	}
	return n
}

// TestTenantItemSize measures the hot item's size after calls on every
// catalog model (the README's per-tenant ceiling uses it): under 2 KB, a
// write of it is 2 write units, 4 WCU in a transaction.
func TestTenantItemSize(t *testing.T) {
	v := newEnv(t, engines[0])
	v.register(tenantCfg("acme", func(c *tenancy.TenantConfig) { c.AllowedModels = nil }))
	for i, m := range v.svc.Catalog().Models() {
		v.agent("acme", agentCfg(string(rune('a'+i)), func(c *tenancy.AgentConfig) { c.LLMModel = m.Name }))
		if _, err := v.svc.Execute(v.ctx, "acme", string(rune('a'+i)), query); err != nil {
			t.Fatal(err)
		}
	}
	out, err := v.db.GetItem(v.ctx, &dynamodb.GetItemInput{TableName: aws.String(v.table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "TENANT#acme"}, "sk": &types.AttributeValueMemberS{Value: "TENANT"}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	size := itemSize(out.Item)
	t.Logf("tenant item: %d attributes, about %d bytes with usage on %d models", len(out.Item), size, len(v.svc.Catalog().Models()))
	if size > 2048 {
		t.Fatalf("tenant item is %d bytes", size)
	}
}
