package dynamostore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/auth"
	"github.com/openclaw/tenancy/internal/backup"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

var _ backup.Store = (*Store)(nil)

// toCounters reads a day's counters from an item (the tenant item's live
// window, or a history item).
func toCounters(c counters, item map[string]types.AttributeValue) backup.Counters {
	out := backup.Counters{Queries: c.Queries, FailedCalls: c.Failed, SpentNanos: c.Spent, ReservedNanos: c.Reserved, OverageNanos: c.Overage,
		InputTokens: c.In, OutputTokens: c.Out, CacheRead: c.CR, CacheWrite: c.CW,
		ByModel: map[string]backup.ModelCounters{}, PriceVersions: map[string]int64{}}
	for m, u := range byModel(item) {
		out.ByModel[m] = backup.ModelCounters{Queries: u.Queries, InputTokens: u.Input, OutputTokens: u.Output,
			CacheRead: u.CacheRead, CacheWrite: u.CacheWrite, CostNanos: int64(u.Cost)}
	}
	_, prices := priceVersions(item)
	for v, n := range prices {
		out.PriceVersions[v] = n
	}
	return out
}

func fromCounters(c backup.Counters) counters {
	return counters{Queries: c.Queries, Failed: c.FailedCalls, Spent: c.SpentNanos, Reserved: c.ReservedNanos, Overage: c.OverageNanos,
		In: c.InputTokens, Out: c.OutputTokens, CR: c.CacheRead, CW: c.CacheWrite}
}

// putCounters adds the per-model and price-version attributes of c to item.
func putCounters(item map[string]types.AttributeValue, c backup.Counters) {
	num := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	for m, u := range c.ByModel {
		for i, v := range []int64{u.Queries, u.InputTokens, u.OutputTokens, u.CacheRead, u.CacheWrite, u.CostNanos} {
			item[modelAttr(m, modelFields[i])] = num(v)
		}
	}
	for v, n := range c.PriceVersions {
		item[priceAttrPrefix+v] = num(n)
	}
}

// Export implements backup.Store: the tenant directory, then each tenant's
// partition but its sessions (two queries, on either side of the sessions'
// sort keys) and its agent days' partition (one query), in the canonical
// order, then the tenant's sessions a page (at most 1 MB) at a time.
// Idempotency records are left out.
func (s *Store) Export(ctx context.Context, emit func(backup.Record) error) error {
	dir, err := s.queryPrefix(ctx, directoryPK, directoryPfx)
	if err != nil {
		return err
	}
	for _, d := range dir {
		var e struct {
			TenantID string `dynamodbav:"tenant_id"`
		}
		if err := attributevalue.UnmarshalMap(d, &e); err != nil {
			return storeErr(err)
		}
		pk := expression.Key(schema.PartitionKey).Equal(expression.Value(tenantPK(e.TenantID)))
		var items []map[string]types.AttributeValue
		for _, sk := range []expression.KeyConditionBuilder{
			expression.Key(schema.SortKey).LessThan(expression.Value(sessionPrefix)),
			// "$" follows "#": every sort key after the sessions'.
			expression.Key(schema.SortKey).GreaterThanEqual(expression.Value(sessionsEnd)),
		} {
			kc, err := build(expression.NewBuilder().WithKeyCondition(pk.And(sk)))
			if err != nil {
				return err
			}
			part, err := s.query(ctx, kc)
			if err != nil {
				return err
			}
			items = append(items, part...)
		}
		// The tenant's agent days have a partition of their own.
		agentDayItems, err := s.queryPrefix(ctx, agentDayPK(e.TenantID), agentDayPrefix)
		if err != nil {
			return err
		}
		items = append(items, agentDayItems...)
		var tenant, agents, keys, calls, days, agentDays, alerts []backup.Record
		for _, item := range items {
			skAV, _ := item[schema.SortKey].(*types.AttributeValueMemberS)
			if skAV == nil {
				continue
			}
			sk := skAV.Value
			switch {
			case sk == tenantSK:
				t, it, err := decodeTenant(item)
				if err != nil {
					return err
				}
				var from *time.Time
				if t.PrevTimezone != "" {
					from = &t.TimezoneFrom
				}
				tenant = append(tenant, backup.Record{Kind: backup.KindTenant, Tenant: &backup.Tenant{ID: t.TenantID,
					Timezone: t.Timezone, PrevTimezone: t.PrevTimezone, TimezoneFrom: from,
					Name: t.Name, MaxAgents: t.MaxAgents, MaxQueriesPerHour: t.MaxQueriesPerHour,
					MaxCostNanos: int64(t.MaxCostPerDay), AllowedModels: t.AllowedModels, AllowedTools: t.AllowedTools,
					Metadata: t.Metadata, Active: t.IsActive, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
					AgentCount: t.AgentCount, TotalQueries: t.TotalQueries, LifetimeCostNanos: int64(t.LifetimeCost),
					Day: it.WDay, Hour: it.HKey, HourQueries: it.HQueries, BudgetNanos: it.Budget,
					MaxCostNanosMonth: monthCap(it.MCapped, it.MaxCostMonth), Month: it.MKey, MonthSpentNanos: it.MSpent,
					MonthReserved: it.MReserved, MonthBudgetNanos: it.MBudget,
					OpenClawGatewayURL: t.OpenClawGatewayURL, OpenClawTokenSecret: t.OpenClawTokenSecret,
					AlertThresholdsPct: t.AlertThresholdsPct, DayAlertPct: it.ADPct, MonthAlertPct: it.AMPct,
					SessionTTLDays: t.SessionTTLDays, Window: toCounters(it.counters, item)}})
			case strings.HasPrefix(sk, agentPrefix):
				a, err := decodeAgent(item)
				if err != nil {
					return err
				}
				agents = append(agents, backup.Record{Kind: backup.KindAgent, Agent: &backup.Agent{TenantID: a.TenantID,
					AgentID: a.AgentID, Name: a.Name, SystemPrompt: a.SystemPrompt, LLMModel: a.LLMModel, Tools: a.Tools,
					MaxOutputTokens: a.MaxOutputTokens, MaxHistoryTurns: &a.MaxHistoryTurns, CreatedAt: a.CreatedAt}})
			case strings.HasPrefix(sk, "KEYID#"):
				var k keyItem
				if err := attributevalue.UnmarshalMap(item, &k); err != nil {
					return storeErr(err)
				}
				keys = append(keys, backup.Record{Kind: backup.KindKey, Key: &backup.Key{TenantID: k.TenantID, KeyID: k.KeyID,
					Hash: k.Hash, CreatedAt: parseTime(k.CreatedAt)}})
			case strings.HasPrefix(sk, callPrefix):
				c, err := decodeCall(item)
				if err != nil {
					return err
				}
				bc := &backup.Call{TenantID: c.TenantID, CallID: c.CallID, AgentID: c.AgentID, Model: c.Model,
					ReserveNanos: int64(c.Reserve), Day: c.Day, AdmittedAt: c.AdmittedAt}
				if st := c.Recorded; st != nil {
					bc.Recorded = &backup.Settlement{Failed: st.Failed, InputTokens: st.Tokens.Input,
						OutputTokens: st.Tokens.Output, CacheRead: st.Tokens.CacheRead, CacheWrite: st.Tokens.CacheWrite,
						CostNanos: int64(st.Cost), PriceVersion: st.PriceVersion}
				}
				calls = append(calls, backup.Record{Kind: backup.KindCall, Call: bc})
			case strings.HasPrefix(sk, histPrefix):
				var h historyItem
				if err := attributevalue.UnmarshalMap(item, &h); err != nil {
					return storeErr(err)
				}
				days = append(days, backup.Record{Kind: backup.KindDay, Day: &backup.Day{TenantID: e.TenantID,
					Date: sk[len(histPrefix):], Counters: toCounters(h.counters, item)}})
			case strings.HasPrefix(sk, agentDayPrefix):
				ad, ok := decodeAgentDay(item)
				if !ok {
					return tenancy.Unavailable(fmt.Errorf("agent day item %q is malformed", sk))
				}
				u := ad.Usage
				agentDays = append(agentDays, backup.Record{Kind: backup.KindAgentDay, AgentDay: &backup.AgentDay{
					TenantID: e.TenantID, Date: ad.Date, AgentID: ad.AgentID, ModelCounters: backup.ModelCounters{
						Queries: u.Queries, InputTokens: u.Input, OutputTokens: u.Output, CacheRead: u.CacheRead,
						CacheWrite: u.CacheWrite, CostNanos: int64(u.Cost)}}})
			case strings.HasPrefix(sk, alertPrefix):
				a, err := decodeAlert(item)
				if err != nil {
					return err
				}
				// ALERT#<at>#<period>#<period key>#<pct>
				parts := strings.Split(sk, "#")
				if len(parts) != 5 {
					return tenancy.Unavailable(nil)
				}
				alerts = append(alerts, backup.Record{Kind: backup.KindAlert, Alert: &backup.Alert{TenantID: a.TenantID,
					Period: a.Period, PeriodKey: parts[3], ThresholdPct: a.ThresholdPct, SpentNanos: int64(a.Spent),
					CapNanos: int64(a.Cap), At: a.At}})
			}
		}
		for _, group := range [][]backup.Record{tenant, agents, keys, calls, days, agentDays, alerts} {
			for _, r := range group {
				if err := emit(r); err != nil {
					return err
				}
			}
		}
		live := map[string]bool{}
		for _, a := range agents {
			live[a.Agent.AgentID] = true
		}
		if err := s.exportSessions(ctx, e.TenantID, live, emit); err != nil {
			return err
		}
	}
	return nil
}

// sessionsEnd is the first sort key after every session's.
const sessionsEnd = "SESSION$"

// exportSessions emits a tenant's sessions in sort key order (agent, then
// session id), one query page at a time; those of a deleted agent (not in
// agents) are left out.
func (s *Store) exportSessions(ctx context.Context, tenantID string, agents map[string]bool, emit func(backup.Record) error) error {
	kc, err := build(expression.NewBuilder().WithKeyCondition(
		expression.Key(schema.PartitionKey).Equal(expression.Value(tenantPK(tenantID))).
			And(expression.Key(schema.SortKey).BeginsWith(sessionPrefix))))
	if err != nil {
		return err
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{TableName: s.table, KeyConditionExpression: kc.KeyCondition(),
		ExpressionAttributeNames: kc.Names(), ExpressionAttributeValues: kc.Values(), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return storeErr(err)
		}
		for _, item := range out.Items {
			sess, err := decodeSession(item)
			if err != nil {
				return err
			}
			if !agents[sess.AgentID] {
				continue
			}
			if err := emit(backup.Record{Kind: backup.KindSession, Session: backup.FromSession(sess)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Import implements backup.Store: a tenant with its directory entry in one
// transaction (refused when the tenant exists), a session with a check of
// its agent in one transaction, every other record one write.
func (s *Store) Import(ctx context.Context, rec backup.Record) error {
	put := func(v any, extra func(map[string]types.AttributeValue)) error {
		item, err := attributevalue.MarshalMap(v)
		if err != nil {
			return storeErr(err)
		}
		if extra != nil {
			extra(item)
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: item})
		return storeErrOrNil(err)
	}
	switch {
	case rec.Tenant != nil:
		t := rec.Tenant
		md := t.Metadata
		if md == nil {
			md = tenancy.Metadata{}
		}
		meta, err := json.Marshal(md)
		if err != nil {
			return tenancy.Validationf("metadata must be a JSON object")
		}
		it := tenantItem{PK: tenantPK(t.ID), SK: tenantSK, Type: "tenant", TenantID: t.ID, Name: t.Name,
			MaxAgents: t.MaxAgents, MaxQPH: t.MaxQueriesPerHour, MaxCost: t.MaxCostNanos,
			AllowedModels: toAllowSet(t.AllowedModels), AllowedTools: toAllowSet(t.AllowedTools), Metadata: string(meta),
			IsActive: t.Active, CreatedAt: nowString(t.CreatedAt), UpdatedAt: nowString(t.UpdatedAt),
			AgentCount: t.AgentCount, TotalQueries: t.TotalQueries, LifetimeCost: t.LifetimeCostNanos,
			WDay: t.Day, HKey: t.Hour, HQueries: t.HourQueries, Budget: t.BudgetNanos, counters: fromCounters(t.Window),
			Tz: t.Timezone, TzPrev: t.PrevTimezone, MCapped: t.MaxCostNanosMonth != nil, MKey: t.Month,
			MSpent: t.MonthSpentNanos, MReserved: t.MonthReserved, MBudget: t.MonthBudgetNanos,
			GatewayURL: t.OpenClawGatewayURL, GatewaySecret: t.OpenClawTokenSecret,
			AlertPcts: tenancy.FormatThresholds(t.AlertThresholdsPct), ADPct: t.DayAlertPct, AMPct: t.MonthAlertPct,
			SessionTTL: t.SessionTTLDays}
		if t.MaxCostNanosMonth != nil {
			it.MaxCostMonth = *t.MaxCostNanosMonth
		}
		if t.PrevTimezone != "" && t.TimezoneFrom != nil {
			it.TzFrom = nowString(*t.TimezoneFrom)
		}
		// The alert rooms: the next threshold's amount less the spend.
		it.ADRoom = int64(tenancy.AlertRoom(t.AlertThresholdsPct, t.DayAlertPct, tenancy.Money(t.MaxCostNanos),
			tenancy.Money(t.Window.SpentNanos)))
		it.AMRoom = int64(tenancy.AlertRoom(t.AlertThresholdsPct, t.MonthAlertPct, tenancy.Money(it.MaxCostMonth),
			tenancy.Money(t.MonthSpentNanos)))
		item, err := attributevalue.MarshalMap(it)
		if err != nil {
			return storeErr(err)
		}
		putCounters(item, t.Window)
		return s.putNewTenant(ctx, t.ID, item)
	case rec.Agent != nil:
		a := rec.Agent
		turns := tenancy.DefaultMaxHistoryTurns
		if a.MaxHistoryTurns != nil {
			turns = *a.MaxHistoryTurns
		}
		item, err := encodeAgent(tenancy.Agent{AgentConfig: tenancy.AgentConfig{AgentID: a.AgentID, Name: a.Name,
			SystemPrompt: a.SystemPrompt, LLMModel: a.LLMModel, Tools: a.Tools, MaxOutputTokens: a.MaxOutputTokens,
			MaxHistoryTurns: turns},
			TenantID: a.TenantID, CreatedAt: a.CreatedAt})
		if err != nil {
			return storeErr(err)
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: item})
		return storeErrOrNil(err)
	case rec.Key != nil:
		k := rec.Key
		return s.PutKey(ctx, auth.StoredKey{KeyID: k.KeyID, TenantID: k.TenantID, Hash: k.Hash, CreatedAt: k.CreatedAt})
	case rec.Call != nil:
		c := rec.Call
		it := callItem{PK: tenantPK(c.TenantID), SK: callSK(c.CallID), Type: "call", CallID: c.CallID, TenantID: c.TenantID,
			AgentID: c.AgentID, Model: c.Model, Reserve: c.ReserveNanos, Day: c.Day, AdmittedAt: nowString(c.AdmittedAt)}
		if st := c.Recorded; st != nil {
			it.RecSet, it.RecFailed, it.RecIn, it.RecOut, it.RecCR, it.RecCW, it.RecCost, it.RecPrice = true, st.Failed,
				st.InputTokens, st.OutputTokens, st.CacheRead, st.CacheWrite, st.CostNanos, st.PriceVersion
		}
		return put(it, nil)
	case rec.Session != nil:
		// The session with a check that its agent exists, in one
		// transaction.
		sess := rec.Session.Session()
		item, err := encodeSession(sess)
		if err != nil {
			return storeErr(err)
		}
		cond, err := build(expression.NewBuilder().WithCondition(exists))
		if err != nil {
			return err
		}
		reasons, err := s.transact(ctx, []types.TransactWriteItem{
			{ConditionCheck: &types.ConditionCheck{TableName: s.table, Key: key(tenantPK(sess.TenantID), agentSK(sess.AgentID)),
				ConditionExpression: cond.Condition(), ExpressionAttributeNames: cond.Names()}},
			{Put: &types.Put{TableName: s.table, Item: item}},
		})
		if reasons != nil {
			return tenancy.AgentNotFound(sess.AgentID, sess.TenantID)
		}
		return err
	case rec.Alert != nil:
		a := rec.Alert
		item, err := encodeAlert(tenancy.Alert{TenantID: a.TenantID, Period: a.Period, ThresholdPct: a.ThresholdPct,
			Spent: tenancy.Money(a.SpentNanos), Cap: tenancy.Money(a.CapNanos), At: a.At}, a.PeriodKey)
		if err != nil {
			return storeErr(err)
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: item})
		return storeErrOrNil(err)
	case rec.AgentDay != nil:
		a := rec.AgentDay
		item := key(agentDayPK(a.TenantID), agentDaySK(a.Date, a.AgentID))
		for i, v := range []int64{a.Queries, a.InputTokens, a.OutputTokens, a.CacheRead, a.CacheWrite, a.CostNanos} {
			item[modelFields[i]] = &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
		}
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: item})
		return storeErrOrNil(err)
	case rec.Day != nil:
		d := rec.Day
		return put(historyItem{Date: d.Date, counters: fromCounters(d.Counters)}, func(item map[string]types.AttributeValue) {
			item[schema.PartitionKey], item[schema.SortKey] = strAV(tenantPK(d.TenantID)), strAV(histSK(d.Date))
			putCounters(item, d.Counters)
		})
	}
	return nil
}

func monthCap(capped bool, nanos int64) *int64 {
	if !capped {
		return nil
	}
	return &nanos
}
