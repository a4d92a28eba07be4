package dynamostore

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Sessions are items TENANT#<t> / SESSION#<agent>#<session>: the tenant's
// partition, so no key of another tenant can reach them; agent ids contain
// no "#", session ids neither, so an agent's prefix never matches another
// agent's sessions. The whole bounded transcript is one item (see
// tenancy.MaxSessionBytes), written with a condition on its version.

const sessionPrefix = "SESSION#"

func sessionSK(agentID, sessionID string) string { return sessionPrefix + agentID + "#" + sessionID }

type turnItem struct {
	Query     string `dynamodbav:"q"`
	Answer    string `dynamodbav:"a"`
	Truncated bool   `dynamodbav:"tr,omitempty"`
	In        int64  `dynamodbav:"in"`
	Out       int64  `dynamodbav:"out"`
	CR        int64  `dynamodbav:"cr,omitempty"`
	CW        int64  `dynamodbav:"cw,omitempty"`
	Cost      int64  `dynamodbav:"c"`
	CallID    string `dynamodbav:"id"`
	At        string `dynamodbav:"at"`
}

type sessionItem struct {
	PK         string     `dynamodbav:"pk"`
	SK         string     `dynamodbav:"sk"`
	Type       string     `dynamodbav:"type"`
	TenantID   string     `dynamodbav:"tenant_id"`
	AgentID    string     `dynamodbav:"agent_id"`
	SessionID  string     `dynamodbav:"session_id"`
	Turns      []turnItem `dynamodbav:"turns,omitempty"`
	NTurns     int        `dynamodbav:"n_turns"`
	TotalTurns int64      `dynamodbav:"total_turns"`
	Cost       int64      `dynamodbav:"cost"`
	CreatedAt  string     `dynamodbav:"created_at"`
	LastAt     string     `dynamodbav:"last_at"`
	Expires    int64      `dynamodbav:"expires_at"` // schema.TTLAttribute: DynamoDB's TTL deletes it
	ExpiresAt  string     `dynamodbav:"expires"`    // the exact expiry
	Version    int64      `dynamodbav:"version"`
}

func encodeSession(s tenancy.Session) (map[string]types.AttributeValue, error) {
	it := sessionItem{PK: tenantPK(s.TenantID), SK: sessionSK(s.AgentID, s.SessionID), Type: "session",
		TenantID: s.TenantID, AgentID: s.AgentID, SessionID: s.SessionID, NTurns: len(s.Turns),
		TotalTurns: s.TotalTurns, Cost: int64(s.Cost), CreatedAt: nowString(s.CreatedAt), LastAt: nowString(s.LastAt),
		Expires: s.ExpiresAt.Unix(), ExpiresAt: nowString(s.ExpiresAt), Version: s.Version}
	for _, t := range s.Turns {
		it.Turns = append(it.Turns, turnItem{Query: t.Query, Answer: t.Answer, Truncated: t.Truncated,
			In: t.Tokens.Input, Out: t.Tokens.Output, CR: t.Tokens.CacheRead, CW: t.Tokens.CacheWrite,
			Cost: int64(t.Cost), CallID: t.CallID, At: nowString(t.At)})
	}
	return attributevalue.MarshalMap(it)
}

func decodeSession(item map[string]types.AttributeValue) (tenancy.Session, error) {
	var it sessionItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return tenancy.Session{}, tenancy.Unavailable(err)
	}
	s := tenancy.Session{SessionKey: tenancy.SessionKey{TenantID: it.TenantID, AgentID: it.AgentID, SessionID: it.SessionID},
		Turns: make([]tenancy.Turn, 0, len(it.Turns)), TotalTurns: it.TotalTurns, Cost: tenancy.Money(it.Cost),
		CreatedAt: parseTime(it.CreatedAt), LastAt: parseTime(it.LastAt), ExpiresAt: parseTime(it.ExpiresAt), Version: it.Version}
	for _, t := range it.Turns {
		s.Turns = append(s.Turns, tenancy.Turn{Query: t.Query, Answer: t.Answer, Truncated: t.Truncated,
			Tokens: tenancy.Tokens{Input: t.In, Output: t.Out, CacheRead: t.CR, CacheWrite: t.CW},
			Cost:   tenancy.Money(t.Cost), CallID: t.CallID, At: parseTime(t.At)})
	}
	return s, nil
}

// GetSession reads the session and the tenant item in one BatchGetItem.
func (s *Store) GetSession(ctx context.Context, k tenancy.SessionKey) (tenancy.Session, error) {
	sk := key(tenantPK(k.TenantID), sessionSK(k.AgentID, k.SessionID))
	keys := []map[string]types.AttributeValue{key(tenantPK(k.TenantID), tenantSK), sk}
	var tenant, session map[string]types.AttributeValue
	for attempt := 0; len(keys) > 0; attempt++ {
		if attempt > 0 {
			if attempt >= maxAttempts {
				return tenancy.Session{}, tenancy.Unavailable(nil)
			}
			if err := backoff(ctx, attempt); err != nil {
				return tenancy.Session{}, storeErr(err)
			}
		}
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			*s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}})
		if err != nil {
			return tenancy.Session{}, storeErr(err)
		}
		for _, item := range out.Responses[*s.table] {
			if v, ok := item[schema.SortKey].(*types.AttributeValueMemberS); ok && v.Value == tenantSK {
				tenant = item
			} else {
				session = item
			}
		}
		keys = out.UnprocessedKeys[*s.table].Keys
	}
	if tenant == nil {
		return tenancy.Session{}, tenancy.TenantNotFound(k.TenantID)
	}
	t, _, err := decodeTenant(tenant)
	if err != nil {
		return tenancy.Session{}, err
	}
	sess := tenancy.Session{SessionKey: k}
	if session != nil {
		if sess, err = decodeSession(session); err != nil {
			return tenancy.Session{}, err
		}
	}
	sess.TTLDays = t.SessionTTLDays
	return sess, nil
}

// AppendTurn implements tenancy.SessionStore: a PutItem conditioned on the
// version read (or on absence), re-read and retried when another call
// appended first.
func (s *Store) AppendTurn(ctx context.Context, base tenancy.Session, t tenancy.Turn, maxTurns int) (tenancy.Session, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		next := base.WithTurn(t, maxTurns, base.TTLDays)
		item, err := encodeSession(next)
		if err != nil {
			return tenancy.Session{}, storeErr(err)
		}
		cond := notExists
		if base.Version > 0 {
			cond = expression.Name("version").Equal(expression.Value(base.Version))
		}
		e, err := build(expression.NewBuilder().WithCondition(cond))
		if err != nil {
			return tenancy.Session{}, err
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: item, ConditionExpression: e.Condition(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()})
		if failed, _ := condFailed(err); !failed {
			if err != nil {
				return tenancy.Session{}, storeErr(err)
			}
			return next, nil
		}
		if err := backoff(ctx, attempt); err != nil {
			return tenancy.Session{}, storeErr(err)
		}
		if base, err = s.GetSession(ctx, base.SessionKey); err != nil {
			return tenancy.Session{}, err
		}
	}
	return tenancy.Session{}, tenancy.Unavailable(nil)
}

// ListSessions implements tenancy.SessionStore: one Query of the agent's
// session prefix, projected to the summary attributes (never the turns).
func (s *Store) ListSessions(ctx context.Context, tenantID, agentID string, now time.Time, limit int, pageToken string) ([]tenancy.SessionSummary, string, error) {
	prefix := sessionPrefix + agentID + "#"
	proj := expression.NamesList(expression.Name("session_id"), expression.Name("n_turns"), expression.Name("total_turns"),
		expression.Name("cost"), expression.Name("last_at"), expression.Name("expires"))
	e, err := build(expression.NewBuilder().WithKeyCondition(
		expression.Key(schema.PartitionKey).Equal(expression.Value(tenantPK(tenantID))).
			And(expression.Key(schema.SortKey).BeginsWith(prefix))).WithProjection(proj))
	if err != nil {
		return nil, "", err
	}
	in := &dynamodb.QueryInput{TableName: s.table, KeyConditionExpression: e.KeyCondition(), ProjectionExpression: e.Projection(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), Limit: aws.Int32(int32(limit)),
		ConsistentRead: aws.Bool(true)}
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || tenancy.CheckSessionID(string(b)) != nil {
			return nil, "", tenancy.Validationf("next_token is not a valid page token")
		}
		in.ExclusiveStartKey = key(tenantPK(tenantID), sessionSK(agentID, string(b)))
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", storeErr(err)
	}
	list := make([]tenancy.SessionSummary, 0, len(out.Items))
	last := ""
	for _, item := range out.Items {
		var it sessionItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, "", storeErr(err)
		}
		last = it.SessionID
		exp := parseTime(it.ExpiresAt)
		if !now.Before(exp) {
			continue
		}
		list = append(list, tenancy.SessionSummary{SessionID: it.SessionID, Turns: it.NTurns, TotalTurns: it.TotalTurns,
			LastAt: parseTime(it.LastAt), Cost: tenancy.Money(it.Cost), ExpiresAt: exp})
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 && last != "" {
		next = base64.RawURLEncoding.EncodeToString([]byte(last))
	}
	return list, next, nil
}

// DeleteSession implements tenancy.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, k tenancy.SessionKey, now time.Time) error {
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: s.table,
		Key: key(tenantPK(k.TenantID), sessionSK(k.AgentID, k.SessionID)), ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		return storeErr(err)
	}
	var it sessionItem
	if len(out.Attributes) == 0 || attributevalue.UnmarshalMap(out.Attributes, &it) != nil || !now.Before(parseTime(it.ExpiresAt)) {
		return tenancy.SessionNotFound(k.SessionID, k.AgentID)
	}
	return nil
}
