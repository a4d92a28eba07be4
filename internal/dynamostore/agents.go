package dynamostore

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// allowedCond is the tenant's model and tool whitelist as a condition.
func allowedCond(model string, tools []string) expression.ConditionBuilder {
	c := allows("allowed_models", model)
	for _, tool := range tools {
		c = c.And(allows("allowed_tools", tool))
	}
	return c
}

// allows is "set[name] = true OR set['*'] = true" for an allowSet attribute.
func allows(set, name string) expression.ConditionBuilder {
	entry := func(n string) expression.NameBuilder {
		return expression.Name(set).AppendName(expression.NameNoDotSplit(n))
	}
	return expression.Or(entry(name).Equal(expression.Value(true)), entry(anyName).Equal(expression.Value(true)))
}

// CreateAgent counts the agent against max_agents and inserts it in one
// transaction: concurrent creates can never exceed the limit.
func (s *Store) CreateAgent(ctx context.Context, a tenancy.Agent) error {
	item, err := encodeAgent(a)
	if err != nil {
		return storeErr(err)
	}
	upd, err := build(expression.NewBuilder().
		WithCondition(expression.And(exists,
			expression.Name("agent_count").LessThan(expression.Name("max_agents")),
			allowedCond(a.LLMModel, a.Tools))).
		WithUpdate(expression.Add(expression.Name("agent_count"), expression.Value(1)).
			Add(expression.Name("rev"), expression.Value(1))))
	if err != nil {
		return err
	}
	put, err := build(expression.NewBuilder().WithCondition(notExists))
	if err != nil {
		return err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		reasons, err := s.transact(ctx, []types.TransactWriteItem{
			{Update: &types.Update{TableName: s.table, Key: key(tenantPK(a.TenantID), tenantSK),
				UpdateExpression: upd.Update(), ConditionExpression: upd.Condition(), ExpressionAttributeNames: upd.Names(),
				ExpressionAttributeValues: upd.Values(), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Put: &types.Put{TableName: s.table, Item: item, ConditionExpression: put.Condition(),
				ExpressionAttributeNames: put.Names()}},
		})
		if reasons == nil {
			return err
		}
		if failed, old := failedAt(reasons, 0); failed {
			var t *tenancy.Tenant
			if old != nil {
				tt, _, derr := decodeTenant(old)
				if derr != nil {
					return derr
				}
				t = &tt
			}
			if rerr := tenancy.ExplainAgentRefusal(t, a); rerr != nil {
				return rerr
			}
		}
		if failed, _ := failedAt(reasons, 1); failed {
			return tenancy.AgentExists(a.AgentID, a.TenantID)
		}
		if err := backoff(ctx, attempt); err != nil {
			return storeErr(err)
		}
	}
	return tenancy.Unavailable(nil)
}

// GetAgent implements tenancy.Store.
func (s *Store) GetAgent(ctx context.Context, tenantID, agentID string) (tenancy.Agent, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: key(tenantPK(tenantID), agentSK(agentID)),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return tenancy.Agent{}, storeErr(err)
	}
	if len(out.Item) == 0 {
		return tenancy.Agent{}, tenancy.AgentNotFound(agentID, tenantID)
	}
	return decodeAgent(out.Item)
}

// ListAgents implements tenancy.Store (all of a tenant's agents, by id).
func (s *Store) ListAgents(ctx context.Context, tenantID string) ([]tenancy.Agent, error) {
	items, err := s.queryPrefix(ctx, tenantPK(tenantID), agentPrefix)
	if err != nil {
		return nil, err
	}
	agents := make([]tenancy.Agent, 0, len(items))
	for _, it := range items {
		a, err := decodeAgent(it)
		if err != nil {
			return nil, err
		}
		agents = append(agents, a)
	}
	return agents, nil
}

// queryPrefix reads every item of a partition whose sort key starts with
// prefix, following pages to the end.
func (s *Store) queryPrefix(ctx context.Context, pk, prefix string) ([]map[string]types.AttributeValue, error) {
	kc, err := build(expression.NewBuilder().WithKeyCondition(
		expression.Key(schema.PartitionKey).Equal(expression.Value(pk)).
			And(expression.Key(schema.SortKey).BeginsWith(prefix))))
	if err != nil {
		return nil, err
	}
	return s.query(ctx, kc)
}

func (s *Store) query(ctx context.Context, kc expression.Expression) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{TableName: s.table, KeyConditionExpression: kc.KeyCondition(),
		ExpressionAttributeNames: kc.Names(), ExpressionAttributeValues: kc.Values(), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, storeErr(err)
		}
		items = append(items, out.Items...)
	}
	return items, nil
}

// DeleteAgent deletes the agent and frees its slot in one transaction.
func (s *Store) DeleteAgent(ctx context.Context, tenantID, agentID string) error {
	del, err := build(expression.NewBuilder().WithCondition(exists))
	if err != nil {
		return err
	}
	upd, err := build(expression.NewBuilder().WithCondition(exists).WithUpdate(
		expression.Add(expression.Name("agent_count"), expression.Value(-1)).Add(expression.Name("rev"), expression.Value(1))))
	if err != nil {
		return err
	}
	reasons, err := s.transact(ctx, []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: s.table, Key: key(tenantPK(tenantID), agentSK(agentID)),
			ConditionExpression: del.Condition(), ExpressionAttributeNames: del.Names()}},
		{Update: &types.Update{TableName: s.table, Key: key(tenantPK(tenantID), tenantSK), UpdateExpression: upd.Update(),
			ConditionExpression: upd.Condition(), ExpressionAttributeNames: upd.Names(), ExpressionAttributeValues: upd.Values()}},
	})
	if reasons != nil {
		if failed, _ := failedAt(reasons, 0); failed {
			if _, terr := s.GetTenant(ctx, tenantID); terr != nil {
				return terr
			}
			return tenancy.AgentNotFound(agentID, tenantID)
		}
		if failed, _ := failedAt(reasons, 1); failed {
			return tenancy.TenantNotFound(tenantID)
		}
		return tenancy.Unavailable(nil)
	}
	return err
}
