package dynamostore

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Admit is one transaction: the conditional update of the tenant item that
// enforces every rule and reserves the worst-case cost, and the call record
// that makes settling idempotent and reconcilable. When the condition fails,
// the tenant item as it was (ALL_OLD) tells the domain why.
func (s *Store) Admit(ctx context.Context, a tenancy.Admission) (tenancy.Ticket, error) {
	plan := tenancy.PlanFor(a.Now, s.calendar(a.TenantID))
	for attempt := 0; attempt < maxAttempts; attempt++ {
		t := tenancy.Ticket{CallID: a.CallID, TenantID: a.TenantID, AgentID: a.AgentID, Model: a.Model,
			Reserve: a.Reserve, Day: plan.Day, AdmittedAt: a.Now}
		upd := admitExpr(a, plan)
		reasons, err := s.transact(ctx, []types.TransactWriteItem{
			{Update: &types.Update{TableName: s.table, Key: key(tenantPK(a.TenantID), tenantSK),
				UpdateExpression: &upd.update, ConditionExpression: &upd.cond, ExpressionAttributeNames: upd.names,
				ExpressionAttributeValues: upd.values, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Put: &types.Put{TableName: s.table, Item: callRecord(t), ConditionExpression: aws.String(condNotExists)}},
		})
		if err != nil {
			return tenancy.Ticket{}, err
		}
		if reasons == nil {
			return t, nil
		}
		failed, old := failedAt(reasons, 0)
		if !failed {
			return tenancy.Ticket{}, tenancy.Unavailable(nil) // a call id collided: never with random ids
		}
		var cur *tenancy.Tenant
		if old != nil {
			tt, _, err := decodeTenant(old)
			if err != nil {
				return tenancy.Ticket{}, err
			}
			cur = &tt
			s.cals.Store(a.TenantID, tt.Calendar())
		}
		verdict, next, rerr := tenancy.ExplainRefusal(cur, a, plan)
		switch verdict {
		case tenancy.Refuse:
			if cur != nil {
				if err := s.wallAlerts(ctx, *cur, old, rerr, a.Now); err != nil {
					return tenancy.Ticket{}, err
				}
			}
			return tenancy.Ticket{}, rerr
		case tenancy.Rollover:
			if _, err := s.Rollover(ctx, a.TenantID, a.Now, false); err != nil {
				return tenancy.Ticket{}, err
			}
		case tenancy.Retry:
			if next == plan {
				if err := backoff(ctx, attempt); err != nil {
					return tenancy.Ticket{}, storeErr(err)
				}
			}
			plan = next
		}
	}
	return tenancy.Ticket{}, tenancy.Unavailable(nil)
}

// wallAlerts records the alerts of a refusal at the wall
// (tenancy.WallAlerts: cost_limit or monthly_cost_limit) and attaches them
// to the refusal for the service to deliver; any other refusal is left
// alone. The period's highest threshold sent and its room are set in a
// transaction with the alert records, conditioned on the window, the
// configuration, the period's spend and the threshold the refusal saw: of
// refusals and settlements racing across a threshold exactly one records
// it. When that condition fails, the tenant as it then was decides again.
// Nothing else of the tenant moves.
func (s *Store) wallAlerts(ctx context.Context, cur tenancy.Tenant, old map[string]types.AttributeValue, refusal error, now time.Time) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		alerts, as := tenancy.WallAlerts(cur, refusal, now)
		if len(alerts) == 0 {
			return nil
		}
		_, it, err := decodeTenant(old)
		if err != nil {
			return err
		}
		pctName, roomName, spentName := "a_d_pct", "a_d_room", "d_spent"
		pct, room, spent, seenPct := as.DayPct, as.DayRoom, it.Spent, it.ADPct
		periodKey := it.WDay
		if alerts[0].Period == tenancy.PeriodMonth {
			pctName, roomName, spentName = "a_m_pct", "a_m_room", "m_spent"
			pct, room, spent, seenPct = as.MonthPct, as.MonthRoom, it.MSpent, it.AMPct
			periodKey = tenancy.MonthKey(it.WDay)
		}
		cond := expression.And(
			expression.Name("w_day").Equal(expression.Value(it.WDay)),
			expression.Name("cfg_rev").Equal(expression.Value(it.CfgRev)),
			eqOrMissing(spentName, spent), eqOrMissing(pctName, int64(seenPct)))
		e, err := build(expression.NewBuilder().WithCondition(cond).WithUpdate(
			expression.Set(expression.Name(pctName), expression.Value(pct)).
				Set(expression.Name(roomName), expression.Value(int64(room)))))
		if err != nil {
			return err
		}
		items := []types.TransactWriteItem{{Update: &types.Update{TableName: s.table, Key: key(tenantPK(cur.TenantID), tenantSK),
			UpdateExpression: e.Update(), ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(),
			ExpressionAttributeValues: e.Values(), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}}
		for _, a := range alerts {
			item, err := encodeAlert(a, periodKey)
			if err != nil {
				return storeErr(err)
			}
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: s.table, Item: item}})
		}
		reasons, err := s.transact(ctx, items)
		if err != nil {
			return err
		}
		if reasons == nil {
			var e *tenancy.Error
			if errors.As(refusal, &e) {
				e.Alerts = alerts
			}
			return nil
		}
		_, old = failedAt(reasons, 0)
		if old == nil {
			return tenancy.Unavailable(nil)
		}
		if cur, _, err = decodeTenant(old); err != nil {
			return err
		}
		if cur.Usage.Day != it.WDay {
			return nil // rolled over since: a new period, nothing to record
		}
	}
	return tenancy.Unavailable(nil)
}

// eqOrMissing is the condition that a number attribute is v (or, for 0,
// absent: an item written before the attribute existed).
func eqOrMissing(name string, v int64) expression.ConditionBuilder {
	c := expression.Name(name).Equal(expression.Value(v))
	if v == 0 {
		c = c.Or(expression.AttributeNotExists(expression.Name(name)))
	}
	return c
}

// settlementDelta is what a settlement changes in its day's counters.
func settlementDelta(t tenancy.Ticket, st tenancy.Settlement) delta {
	d := delta{c: counters{Reserved: -int64(t.Reserve)}}
	if st.Failed {
		// A failed call costs nothing, unless it reported implausible
		// usage: then it is charged its reservation.
		d.c.Failed, d.c.Spent = 1, int64(st.Cost)
		if st.Cost != 0 {
			d.byModel = map[string]tenancy.ModelUsage{t.Model: {Cost: st.Cost}}
			if st.PriceVersion != "" { // the version that priced the reservation
				d.prices = map[string]int64{st.PriceVersion: 1}
			}
		}
		return d
	}
	d.c.Overage = int64(st.Overage(t))
	tk := st.Tokens
	d.c.Queries, d.c.Spent = 1, int64(st.Cost)
	d.c.In, d.c.Out, d.c.CR, d.c.CW = tk.Input, tk.Output, tk.CacheRead, tk.CacheWrite
	if st.PriceVersion != "" {
		d.prices = map[string]int64{st.PriceVersion: 1}
	}
	d.byModel = map[string]tenancy.ModelUsage{t.Model: {Queries: 1, Tokens: tk, Cost: st.Cost}}
	return d
}

// Settle applies a settlement to the live window when the call's day is
// still live, else to that day's history item; deleting the call record in
// the same transaction makes a second settle of the same ticket a no-op.
//
// Alerts cost nothing on the common path: the tenant item keeps, per
// period, the room left before the next alert threshold, and the settle's
// condition requires the cost to fit in it. Only the settlement that
// crosses a threshold fails that condition; it then writes the crossing
// (the highest threshold sent, the new room and the alert records) in a
// transaction conditioned on the spend and thresholds it saw, so exactly one
// settlement records each threshold of each period.
func (s *Store) Settle(ctx context.Context, t tenancy.Ticket, st tenancy.Settlement) ([]tenancy.Alert, error) {
	d := settlementDelta(t, st)
	// lifetime returns a new builder each time: an UpdateBuilder's copies
	// share one map, so adding to a copy would change the original.
	lifetime := func() expression.UpdateBuilder {
		ub := expression.Add(expression.Name("rev"), expression.Value(1))
		if !st.Failed {
			ub = ub.Add(expression.Name("total_queries"), expression.Value(1))
		}
		if st.Cost != 0 {
			ub = ub.Add(expression.Name("lifetime_cost"), expression.Value(int64(st.Cost)))
		}
		return ub
	}
	live := func() expression.UpdateBuilder {
		return monthDelta(d.add(lifetime()), t, st).Add(expression.Name("d_budget"), expression.Value(int64(t.Reserve-st.Cost)))
	}
	deleteCall := types.TransactWriteItem{Delete: &types.Delete{TableName: s.table, Key: key(tenantPK(t.TenantID), callSK(t.CallID)),
		ConditionExpression: aws.String(condExists)}}
	// The agent's counters of the call's day: one more item of the same
	// transaction, whichever path below settles (none for a call that
	// failed at no cost, which moves no per-model counter either).
	agentDay := s.agentDayUpdate(t, d)
	normal := settleExpr(t, st, d)
	for attempt := 0; ; attempt++ {
		if attempt >= maxAttempts {
			return nil, tenancy.Unavailable(nil)
		}
		reasons, err := s.transact(ctx, withAgentDay([]types.TransactWriteItem{deleteCall,
			{Update: &types.Update{TableName: s.table, Key: key(tenantPK(t.TenantID), tenantSK), UpdateExpression: &normal.update,
				ConditionExpression: &normal.cond, ExpressionAttributeNames: normal.names, ExpressionAttributeValues: normal.values,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}}, agentDay))
		if err != nil || reasons == nil {
			return nil, err
		}
		if failed, _ := failedAt(reasons, 0); failed {
			return nil, nil // already settled
		}
		_, old := failedAt(reasons, 1)
		if old == nil {
			return nil, tenancy.Unavailable(nil)
		}
		cur, it, err := decodeTenant(old)
		if err != nil {
			return nil, err
		}
		if it.WDay != t.Day {
			break // rolled over: the history path below
		}
		// This settlement crosses a threshold (or the room is stale after a
		// change of cap or thresholds): record the crossing exactly once.
		alerts, as := tenancy.SettleAlerts(cur, st.Cost, st.At)
		ub := live().Set(expression.Name("a_d_pct"), expression.Value(as.DayPct)).
			Set(expression.Name("a_d_room"), expression.Value(int64(as.DayRoom))).
			Set(expression.Name("a_m_pct"), expression.Value(as.MonthPct)).
			Set(expression.Name("a_m_room"), expression.Value(int64(as.MonthRoom)))
		cond := expression.And(
			expression.Name("w_day").Equal(expression.Value(t.Day)),
			expression.Name("cfg_rev").Equal(expression.Value(it.CfgRev)),
			expression.Name("d_spent").Equal(expression.Value(it.Spent)),
			expression.Name("m_spent").Equal(expression.Value(it.MSpent)),
			expression.Name("a_d_pct").Equal(expression.Value(it.ADPct)),
			expression.Name("a_m_pct").Equal(expression.Value(it.AMPct)))
		if _, ok := old["m_spent"]; !ok { // an item from before monthly budgets
			cond = expression.And(expression.Name("w_day").Equal(expression.Value(t.Day)),
				expression.Name("rev").Equal(expression.Value(it.Rev)))
		}
		cross, err := build(expression.NewBuilder().WithCondition(cond).WithUpdate(ub))
		if err != nil {
			return nil, err
		}
		items := withAgentDay([]types.TransactWriteItem{deleteCall,
			{Update: &types.Update{TableName: s.table, Key: key(tenantPK(t.TenantID), tenantSK), UpdateExpression: cross.Update(),
				ConditionExpression: cross.Condition(), ExpressionAttributeNames: cross.Names(), ExpressionAttributeValues: cross.Values()}}}, agentDay)
		for _, a := range alerts {
			periodKey := t.Day
			if a.Period == tenancy.PeriodMonth {
				periodKey = tenancy.MonthKey(t.Day)
			}
			item, err := encodeAlert(a, periodKey)
			if err != nil {
				return nil, storeErr(err)
			}
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: s.table, Item: item}})
		}
		reasons, err = s.transact(ctx, items)
		if err != nil {
			return nil, err
		}
		if reasons == nil {
			return alerts, nil
		}
		if failed, _ := failedAt(reasons, 0); failed {
			return nil, nil // already settled
		}
		// Another write changed the spend or the thresholds first: again.
		if err := backoff(ctx, attempt); err != nil {
			return nil, storeErr(err)
		}
	}
	// The window has rolled over since the call was admitted: the call
	// belongs to its admit day, which is in the history now.
	hist, err := build(expression.NewBuilder().WithUpdate(
		d.add(expression.Set(expression.Name("date"), expression.Value(t.Day)))))
	if err != nil {
		return nil, err
	}
	// The month's counters still hold the call while the window is in the
	// call's month (a day rollover within a month keeps them); a rollover
	// into a new month reset them, and then only the lifetime totals move.
	for _, sameMonth := range []bool{true, false} {
		tb := expression.NewBuilder().WithUpdate(lifetime())
		if sameMonth {
			tb = expression.NewBuilder().WithUpdate(monthDelta(lifetime(), t, st).
				Add(expression.Name("a_m_room"), expression.Value(-int64(st.Cost)))).
				WithCondition(expression.Name("m_key").Equal(expression.Value(tenancy.MonthKey(t.Day))))
		}
		tot, err := build(tb)
		if err != nil {
			return nil, err
		}
		reasons, err := s.transact(ctx, withAgentDay([]types.TransactWriteItem{deleteCall,
			{Update: &types.Update{TableName: s.table, Key: key(tenantPK(t.TenantID), histSK(t.Day)), UpdateExpression: hist.Update(),
				ExpressionAttributeNames: hist.Names(), ExpressionAttributeValues: hist.Values()}},
			{Update: &types.Update{TableName: s.table, Key: key(tenantPK(t.TenantID), tenantSK), UpdateExpression: tot.Update(),
				ConditionExpression: tot.Condition(), ExpressionAttributeNames: tot.Names(), ExpressionAttributeValues: tot.Values()}}}, agentDay))
		if err != nil || reasons == nil {
			return nil, err
		}
		if failed, _ := failedAt(reasons, 0); failed {
			return nil, nil // the call record was gone: already settled
		}
	}
	return nil, tenancy.Unavailable(nil)
}

// agentDayUpdate is the update of the agent's counters of the call's day
// (TENANT#<t>#AGENTDAY / AGENTDAY#<day>#<agent>): the amounts the settlement adds to
// the day's per-model counters. Nil when it adds none (a call that failed
// at no cost) or the ticket names no agent.
func (s *Store) agentDayUpdate(t tenancy.Ticket, d delta) *types.TransactWriteItem {
	u, ok := d.byModel[t.Model]
	if !ok || u == (tenancy.ModelUsage{}) || t.AgentID == "" {
		return nil
	}
	e := agentDayExpr(u)
	return &types.TransactWriteItem{Update: &types.Update{TableName: s.table, Key: key(agentDayPK(t.TenantID), agentDaySK(t.Day, t.AgentID)),
		UpdateExpression: &e.update, ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values}}
}

// withAgentDay appends the agent's day update (when there is one) to a
// settle's transaction, after the items whose cancellation reasons the
// settle reads.
func withAgentDay(items []types.TransactWriteItem, agentDay *types.TransactWriteItem) []types.TransactWriteItem {
	if agentDay == nil {
		return items
	}
	return append(items, *agentDay)
}

// AgentDays implements tenancy.Store: one Query of the tenant's agent-day
// items between the two dates (paged to the end).
func (s *Store) AgentDays(ctx context.Context, tenantID, from, to string) ([]tenancy.AgentDay, error) {
	kc, err := build(expression.NewBuilder().WithKeyCondition(
		expression.Key(schema.PartitionKey).Equal(expression.Value(agentDayPK(tenantID))).
			And(expression.Key(schema.SortKey).Between(expression.Value(agentDayPrefix+from+"#"),
				expression.Value(agentDayPrefix+to+"#~")))))
	if err != nil {
		return nil, err
	}
	items, err := s.query(ctx, kc)
	if err != nil {
		return nil, err
	}
	out := make([]tenancy.AgentDay, 0, len(items))
	for _, item := range items {
		ad, ok := decodeAgentDay(item)
		if ok {
			out = append(out, ad)
		}
	}
	return out, nil
}

// monthDelta adds a settlement to the month's counters: the reservation
// becomes the cost.
func monthDelta(ub expression.UpdateBuilder, t tenancy.Ticket, st tenancy.Settlement) expression.UpdateBuilder {
	ub = ub.Add(expression.Name("m_reserved"), expression.Value(-int64(t.Reserve))).
		Add(expression.Name("m_budget"), expression.Value(int64(t.Reserve-st.Cost)))
	if st.Cost != 0 {
		ub = ub.Add(expression.Name("m_spent"), expression.Value(int64(st.Cost)))
	}
	return ub
}

// RecordUnsettled implements tenancy.Store.
func (s *Store) RecordUnsettled(ctx context.Context, t tenancy.Ticket, st tenancy.Settlement) error {
	tk := st.Tokens
	e, err := build(expression.NewBuilder().WithCondition(exists).WithUpdate(
		expression.Set(expression.Name("rec_set"), expression.Value(true)).
			Set(expression.Name("rec_failed"), expression.Value(st.Failed)).
			Set(expression.Name("rec_in"), expression.Value(tk.Input)).
			Set(expression.Name("rec_out"), expression.Value(tk.Output)).
			Set(expression.Name("rec_cr"), expression.Value(tk.CacheRead)).
			Set(expression.Name("rec_cw"), expression.Value(tk.CacheWrite)).
			Set(expression.Name("rec_cost"), expression.Value(int64(st.Cost))).
			Set(expression.Name("rec_price"), expression.Value(st.PriceVersion))))
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: s.table, Key: key(tenantPK(t.TenantID), callSK(t.CallID)),
		UpdateExpression: e.Update(), ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(),
		ExpressionAttributeValues: e.Values()})
	if failed, _ := condFailed(err); failed {
		return nil // settled meanwhile
	}
	if err != nil {
		return storeErr(err)
	}
	return nil
}

// OpenCalls implements tenancy.Store.
func (s *Store) OpenCalls(ctx context.Context, tenantID string) ([]tenancy.OpenCall, error) {
	items, err := s.queryPrefix(ctx, tenantPK(tenantID), callPrefix)
	if err != nil {
		return nil, err
	}
	calls := make([]tenancy.OpenCall, 0, len(items))
	for _, it := range items {
		c, err := decodeCall(it)
		if err != nil {
			return nil, err
		}
		calls = append(calls, c)
	}
	return calls, nil
}

var zeroedCounters = []string{"d_queries", "d_failed", "d_spent", "d_over", "d_in", "d_out", "d_cr", "d_cw"}

// Rollover reads the tenant item and, in one transaction conditioned on the
// item being unchanged since (rev), adds the window to its day's history
// item and starts the new window.
func (s *Store) Rollover(ctx context.Context, tenantID string, now time.Time, manual bool) (bool, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		t, it, item, err := s.readTenant(ctx, tenantID)
		if err != nil {
			return false, err
		}
		today := t.Calendar().Day(now)
		stale := it.WDay < today
		if !stale && !manual {
			return false, nil // already today's window: twice-run safe
		}
		// A manual reset of today's window keeps in-flight reservations in
		// it (their calls settle into it); a stale window hands them to its
		// history day, where late settlements find them.
		keepReserved := !stale
		archive := windowDelta(it, item, keepReserved)
		day, budget := it.WDay, it.MaxCost
		if stale {
			day = today
		} else {
			budget -= it.Reserved
		}
		ub := expression.Set(expression.Name("w_day"), expression.Value(day)).
			Set(expression.Name("d_budget"), expression.Value(budget)).
			Add(expression.Name("rev"), expression.Value(1)).
			Add(expression.Name("resets"), expression.Value(1))
		for _, n := range zeroedCounters {
			ub = ub.Set(expression.Name(n), expression.Value(0))
		}
		if !keepReserved {
			ub = ub.Set(expression.Name("d_reserved"), expression.Value(0))
		}
		// The alert room of today restarts from no spend: a new day's with no
		// threshold sent, a manual reset's keeping those already sent.
		dayPct := it.ADPct
		if stale {
			dayPct = 0
		}
		ub = ub.Set(expression.Name("a_d_pct"), expression.Value(dayPct)).
			Set(expression.Name("a_d_room"), expression.Value(int64(tenancy.AlertRoom(t.AlertThresholdsPct, dayPct, t.MaxCostPerDay, 0))))
		if month := tenancy.MonthKey(day); month != it.MKey {
			ub = ub.Set(expression.Name("a_m_pct"), expression.Value(0)).
				Set(expression.Name("a_m_room"), expression.Value(int64(tenancy.AlertRoom(t.AlertThresholdsPct, 0, t.MonthCap(), 0))))
			// A new month: its budget is whole; calls still in flight were
			// the last month's and settle into its history day.
			ub = ub.Set(expression.Name("m_key"), expression.Value(month)).
				Set(expression.Name("m_spent"), expression.Value(0)).
				Set(expression.Name("m_reserved"), expression.Value(0)).
				Set(expression.Name("m_budget"), expression.Value(it.MaxCostMonth))
		}
		for _, n := range flatCounterNames(item) {
			ub = ub.Set(expression.NameNoDotSplit(n), expression.Value(0))
		}
		upd, err := build(expression.NewBuilder().WithUpdate(ub).
			WithCondition(expression.Name("rev").Equal(expression.Value(it.Rev))))
		if err != nil {
			return false, err
		}
		items := []types.TransactWriteItem{{Update: &types.Update{TableName: s.table, Key: key(tenantPK(tenantID), tenantSK),
			UpdateExpression: upd.Update(), ConditionExpression: upd.Condition(), ExpressionAttributeNames: upd.Names(),
			ExpressionAttributeValues: upd.Values()}}}
		if !archive.empty() {
			hist, err := build(expression.NewBuilder().WithUpdate(
				archive.add(expression.Set(expression.Name("date"), expression.Value(it.WDay)))))
			if err != nil {
				return false, err
			}
			items = append(items, types.TransactWriteItem{Update: &types.Update{TableName: s.table,
				Key: key(tenantPK(tenantID), histSK(it.WDay)), UpdateExpression: hist.Update(),
				ExpressionAttributeNames: hist.Names(), ExpressionAttributeValues: hist.Values()}})
		}
		reasons, err := s.transact(ctx, items)
		if err != nil {
			return false, err
		}
		if reasons == nil {
			return true, nil
		}
		if err := backoff(ctx, attempt); err != nil { // the window changed meanwhile: read it again
			return false, storeErr(err)
		}
	}
	return false, tenancy.Unavailable(nil)
}

// History reads the archived days in [from, to] and merges the live window.
// The tenant item is read before and after the history query; if a rollover
// happened in between (resets changed), it reads again, so a day is never
// counted twice or missed.
func (s *Store) History(ctx context.Context, tenantID, from, to string) ([]tenancy.DayUsage, error) {
	kc, err := build(expression.NewBuilder().WithKeyCondition(
		expression.Key(schema.PartitionKey).Equal(expression.Value(tenantPK(tenantID))).
			And(expression.Key(schema.SortKey).Between(expression.Value(histSK(from)), expression.Value(histSK(to))))))
	if err != nil {
		return nil, err
	}
	proj, err := build(expression.NewBuilder().WithProjection(expression.NamesList(expression.Name("resets"))))
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		t, it, _, err := s.readTenant(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		items, err := s.query(ctx, kc)
		if err != nil {
			return nil, err
		}
		after, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: key(tenantPK(tenantID), tenantSK),
			ConsistentRead: aws.Bool(true), ProjectionExpression: proj.Projection(), ExpressionAttributeNames: proj.Names()})
		if err != nil {
			return nil, storeErr(err)
		}
		var resets struct {
			Resets int64 `dynamodbav:"resets"`
		}
		if err := attributevalue.UnmarshalMap(after.Item, &resets); err != nil {
			return nil, storeErr(err)
		}
		if resets.Resets != it.Resets {
			continue
		}
		days := map[string]tenancy.DayUsage{}
		for _, hi := range items {
			d, err := decodeDay(hi)
			if err != nil {
				return nil, err
			}
			days[d.Date] = tenancy.MergeDays(days[d.Date], d)
		}
		if it.WDay >= from && it.WDay <= to {
			w := tenancy.WindowDay(t.Usage)
			days[w.Date] = tenancy.MergeDays(days[w.Date], w)
		}
		out := make([]tenancy.DayUsage, 0, len(days))
		for date, d := range days {
			d.Date = date
			out = append(out, d)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
		return out, nil
	}
	return nil, tenancy.Unavailable(nil)
}

// Alerts implements tenancy.Store: the newest first.
func (s *Store) Alerts(ctx context.Context, tenantID string, limit int) ([]tenancy.Alert, error) {
	kc, err := build(expression.NewBuilder().WithKeyCondition(
		expression.Key(schema.PartitionKey).Equal(expression.Value(tenantPK(tenantID))).
			And(expression.Key(schema.SortKey).BeginsWith(alertPrefix))))
	if err != nil {
		return nil, err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: s.table, KeyConditionExpression: kc.KeyCondition(),
		ExpressionAttributeNames: kc.Names(), ExpressionAttributeValues: kc.Values(), ConsistentRead: aws.Bool(true),
		ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(limit))})
	if err != nil {
		return nil, storeErr(err)
	}
	alerts := make([]tenancy.Alert, 0, len(out.Items))
	for _, item := range out.Items {
		a, err := decodeAlert(item)
		if err != nil {
			return nil, err
		}
		alerts = append(alerts, a)
	}
	return alerts, nil
}
