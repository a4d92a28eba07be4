package dynamostore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

var notExists = expression.AttributeNotExists(expression.Name(schema.PartitionKey))
var exists = expression.AttributeExists(expression.Name(schema.PartitionKey))

// CreateTenant writes the tenant and its directory entry in one transaction.
func (s *Store) CreateTenant(ctx context.Context, t tenancy.Tenant) error {
	item, err := encodeTenant(t)
	if err != nil {
		return err
	}
	return s.putNewTenant(ctx, t.TenantID, item)
}

// putNewTenant writes a tenant item that must not exist yet and its
// directory entry in one transaction (registration and import).
func (s *Store) putNewTenant(ctx context.Context, tenantID string, item map[string]types.AttributeValue) error {
	cond, err := build(expression.NewBuilder().WithCondition(notExists))
	if err != nil {
		return err
	}
	dir := key(directoryPK, directoryPfx+tenantID)
	dir["tenant_id"] = strAV(tenantID)
	reasons, err := s.transact(ctx, []types.TransactWriteItem{
		{Put: &types.Put{TableName: s.table, Item: item, ConditionExpression: cond.Condition(),
			ExpressionAttributeNames: cond.Names()}},
		{Put: &types.Put{TableName: s.table, Item: dir}},
	})
	if reasons != nil {
		return tenancy.TenantExists(tenantID)
	}
	return err
}

// getTenantItem reads the raw tenant item (strongly consistent); nil if absent.
func (s *Store) getTenantItem(ctx context.Context, tenantID string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: key(tenantPK(tenantID), tenantSK),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, storeErr(err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// readTenant reads and decodes the tenant item (strongly consistent), with
// its raw form; TenantNotFound when there is none.
func (s *Store) readTenant(ctx context.Context, tenantID string) (tenancy.Tenant, tenantItem, map[string]types.AttributeValue, error) {
	item, err := s.getTenantItem(ctx, tenantID)
	if err != nil {
		return tenancy.Tenant{}, tenantItem{}, nil, err
	}
	if item == nil {
		return tenancy.Tenant{}, tenantItem{}, nil, tenancy.TenantNotFound(tenantID)
	}
	t, it, err := decodeTenant(item)
	return t, it, item, err
}

// GetTenant implements tenancy.Store.
func (s *Store) GetTenant(ctx context.Context, tenantID string) (tenancy.Tenant, error) {
	t, _, _, err := s.readTenant(ctx, tenantID)
	return t, err
}

// ListTenants queries the directory partition (never a Scan) and reads the
// page's tenants with one BatchGetItem.
func (s *Store) ListTenants(ctx context.Context, limit int, pageToken string) ([]tenancy.Tenant, string, error) {
	kc, err := build(expression.NewBuilder().WithKeyCondition(
		expression.Key(schema.PartitionKey).Equal(expression.Value(directoryPK))))
	if err != nil {
		return nil, "", err
	}
	in := &dynamodb.QueryInput{TableName: s.table, KeyConditionExpression: kc.KeyCondition(),
		ExpressionAttributeNames: kc.Names(), ExpressionAttributeValues: kc.Values(), Limit: aws.Int32(int32(limit))}
	if pageToken != "" {
		last, err := decodePageToken(pageToken)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = key(directoryPK, directoryPfx+last)
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", storeErr(err)
	}
	ids := make([]string, 0, len(out.Items))
	for _, it := range out.Items {
		var d struct {
			TenantID string `dynamodbav:"tenant_id"`
		}
		if err := attributevalue.UnmarshalMap(it, &d); err != nil {
			return nil, "", storeErr(err)
		}
		ids = append(ids, d.TenantID)
	}
	tenants, err := s.batchGetTenants(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 && len(ids) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(ids[len(ids)-1]))
	}
	return tenants, next, nil
}

func decodePageToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !tenancy.ValidTenantID(string(b)) {
		return "", tenancy.Validationf("next_token is not a valid page token")
	}
	return string(b), nil
}

// batchGetTenants reads tenants by id, in the given order (at most 100).
func (s *Store) batchGetTenants(ctx context.Context, ids []string) ([]tenancy.Tenant, error) {
	if len(ids) == 0 {
		return []tenancy.Tenant{}, nil
	}
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = key(tenantPK(id), tenantSK)
	}
	byID := make(map[string]tenancy.Tenant, len(ids))
	for attempt := 0; len(keys) > 0; attempt++ {
		if attempt > 0 {
			if attempt >= maxAttempts {
				return nil, tenancy.Unavailable(nil)
			}
			if err := backoff(ctx, attempt); err != nil {
				return nil, storeErr(err)
			}
		}
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			*s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}})
		if err != nil {
			return nil, storeErr(err)
		}
		for _, item := range out.Responses[*s.table] {
			t, _, err := decodeTenant(item)
			if err != nil {
				return nil, err
			}
			byID[t.TenantID] = t
		}
		keys = out.UnprocessedKeys[*s.table].Keys
	}
	tenants := make([]tenancy.Tenant, 0, len(ids))
	for _, id := range ids {
		if t, ok := byID[id]; ok {
			tenants = append(tenants, t)
		}
	}
	return tenants, nil
}

// UpdateTenant reads the config, applies change, and writes it back on the
// condition that no other config write happened in between (cfg_rev). A
// changed cap moves d_budget by the difference in the same write.
func (s *Store) UpdateTenant(ctx context.Context, tenantID string, now time.Time, change func(*tenancy.TenantConfig) error) (tenancy.Tenant, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		t, it, _, err := s.readTenant(ctx, tenantID)
		if err != nil {
			return tenancy.Tenant{}, err
		}
		cfg := t.TenantConfig
		if err := change(&cfg); err != nil {
			return tenancy.Tenant{}, err
		}
		cfg.TenantID = tenantID
		meta, err := json.Marshal(cfg.Metadata)
		if err != nil || cfg.Metadata == nil {
			meta = []byte("{}")
		}
		ub := expression.Set(expression.Name("name"), expression.Value(cfg.Name)).
			Set(expression.Name("max_agents"), expression.Value(cfg.MaxAgents)).
			Set(expression.Name("max_qph"), expression.Value(cfg.MaxQueriesPerHour)).
			Set(expression.Name("max_cost"), expression.Value(int64(cfg.MaxCostPerDay))).
			Set(expression.Name("metadata"), expression.Value(string(meta))).
			Set(expression.Name("oc_gateway_url"), expression.Value(cfg.OpenClawGatewayURL)).
			Set(expression.Name("oc_gateway_secret"), expression.Value(cfg.OpenClawTokenSecret)).
			Set(expression.Name("session_ttl_days"), expression.Value(cfg.SessionTTLDays)).
			Set(expression.Name("updated_at"), expression.Value(nowString(now))).
			Add(expression.Name("cfg_rev"), expression.Value(1)).
			Add(expression.Name("rev"), expression.Value(1))
		ub = ub.Set(expression.Name("allowed_models"), expression.Value(toAllowSet(cfg.AllowedModels))).
			Set(expression.Name("allowed_tools"), expression.Value(toAllowSet(cfg.AllowedTools)))
		if cfg.Timezone != t.Timezone {
			// The zone in effect now keeps today; the new one starts at the
			// next local midnight.
			cal := t.Calendar().Rezone(cfg.Timezone, now)
			from := ""
			if cal.Prev != "" {
				from = nowString(cal.From)
			}
			ub = ub.Set(expression.Name("tz"), expression.Value(cal.Zone)).
				Set(expression.Name("tz_prev"), expression.Value(cal.Prev)).
				Set(expression.Name("tz_from"), expression.Value(from))
		}
		if d := int64(cfg.MaxCostPerDay - t.MaxCostPerDay); d != 0 {
			ub = ub.Add(expression.Name("d_budget"), expression.Value(d))
		}
		ub = ub.Set(expression.Name("max_cost_month"), expression.Value(int64(cfg.MonthCap()))).
			Set(expression.Name("m_capped"), expression.Value(cfg.MaxCostPerMonth != nil))
		if d := int64(cfg.MonthCap() - t.MonthCap()); d != 0 {
			ub = ub.Add(expression.Name("m_budget"), expression.Value(d))
		}
		// The alert rooms move with the next threshold's amount (a new cap or
		// threshold list), on the condition that no threshold was sent since.
		_, oldDay := tenancy.NextThreshold(t.AlertThresholdsPct, it.ADPct, t.MaxCostPerDay)
		_, newDay := tenancy.NextThreshold(cfg.AlertThresholdsPct, it.ADPct, cfg.MaxCostPerDay)
		_, oldMonth := tenancy.NextThreshold(t.AlertThresholdsPct, it.AMPct, t.MonthCap())
		_, newMonth := tenancy.NextThreshold(cfg.AlertThresholdsPct, it.AMPct, cfg.MonthCap())
		ub = ub.Set(expression.Name("alert_pcts"), expression.Value(tenancy.FormatThresholds(cfg.AlertThresholdsPct)))
		if d := int64(newDay - oldDay); d != 0 {
			ub = ub.Add(expression.Name("a_d_room"), expression.Value(d))
		}
		if d := int64(newMonth - oldMonth); d != 0 {
			ub = ub.Add(expression.Name("a_m_room"), expression.Value(d))
		}
		e, err := build(expression.NewBuilder().WithUpdate(ub).WithCondition(
			expression.Name("cfg_rev").Equal(expression.Value(it.CfgRev)).
				And(expression.Name("a_d_pct").Equal(expression.Value(it.ADPct))).
				And(expression.Name("a_m_pct").Equal(expression.Value(it.AMPct)))))
		if err != nil {
			return tenancy.Tenant{}, err
		}
		out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: s.table, Key: key(tenantPK(tenantID), tenantSK),
			UpdateExpression: e.Update(), ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(),
			ExpressionAttributeValues: e.Values(), ReturnValues: types.ReturnValueAllNew})
		if failed, _ := condFailed(err); failed {
			if err := backoff(ctx, attempt); err != nil {
				return tenancy.Tenant{}, storeErr(err)
			}
			continue
		}
		if err != nil {
			return tenancy.Tenant{}, storeErr(err)
		}
		t, _, err = decodeTenant(out.Attributes)
		return t, err
	}
	return tenancy.Tenant{}, tenancy.Unavailable(nil)
}

// SetActive implements tenancy.Store.
func (s *Store) SetActive(ctx context.Context, tenantID string, active bool, now time.Time) (tenancy.Tenant, error) {
	e, err := build(expression.NewBuilder().WithCondition(exists).WithUpdate(
		expression.Set(expression.Name("is_active"), expression.Value(active)).
			Set(expression.Name("updated_at"), expression.Value(nowString(now))).
			Add(expression.Name("cfg_rev"), expression.Value(1)).
			Add(expression.Name("rev"), expression.Value(1))))
	if err != nil {
		return tenancy.Tenant{}, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: s.table, Key: key(tenantPK(tenantID), tenantSK),
		UpdateExpression: e.Update(), ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(),
		ExpressionAttributeValues: e.Values(), ReturnValues: types.ReturnValueAllNew})
	if failed, _ := condFailed(err); failed {
		return tenancy.Tenant{}, tenancy.TenantNotFound(tenantID)
	}
	if err != nil {
		return tenancy.Tenant{}, storeErr(err)
	}
	t, _, err := decodeTenant(out.Attributes)
	return t, err
}
