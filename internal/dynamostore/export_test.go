package dynamostore

import (
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// EncodeTenant is encodeTenant, for the simulation's bulk load.
var EncodeTenant = encodeTenant

// HotExpr is a hand-written expression of the execute path (hotpath.go),
// for hotpath_test.go.
type HotExpr struct {
	Update, Cond string
	Names        map[string]string
	Values       map[string]types.AttributeValue
}

func exported(e hotExpr) HotExpr {
	return HotExpr{Update: e.update, Cond: e.cond, Names: e.names, Values: e.values}
}

// AdmitExpr is admitExpr.
func AdmitExpr(a tenancy.Admission, plan tenancy.AdmitPlan) HotExpr {
	return exported(admitExpr(a, plan))
}

// CallRecord is callRecord; CallItem is the item attributevalue makes of
// the same call.
var CallRecord = callRecord

func CallItem(t tenancy.Ticket) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(callItem{
		PK: tenantPK(t.TenantID), SK: callSK(t.CallID), Type: "call", CallID: t.CallID, TenantID: t.TenantID,
		AgentID: t.AgentID, Model: t.Model, Reserve: int64(t.Reserve), Day: t.Day, AdmittedAt: nowString(t.AdmittedAt),
	})
}

// SettleExpr is settleExpr.
func SettleExpr(t tenancy.Ticket, st tenancy.Settlement) HotExpr {
	return exported(settleExpr(t, st, settlementDelta(t, st)))
}

// BuiltSettle is the settle's live-window update as the builder made it
// before it was written by hand (the reference).
func BuiltSettle(t tenancy.Ticket, st tenancy.Settlement) (expression.Expression, error) {
	d := settlementDelta(t, st)
	ub := expression.Add(expression.Name("rev"), expression.Value(1))
	if !st.Failed {
		ub = ub.Add(expression.Name("total_queries"), expression.Value(1))
	}
	if st.Cost != 0 {
		ub = ub.Add(expression.Name("lifetime_cost"), expression.Value(int64(st.Cost)))
	}
	ub = monthDelta(d.add(ub), t, st).Add(expression.Name("d_budget"), expression.Value(int64(t.Reserve-st.Cost)))
	cost := expression.Value(int64(st.Cost))
	return expression.NewBuilder().
		WithCondition(expression.Name("w_day").Equal(expression.Value(t.Day)).
			And(expression.Name("a_d_room").GreaterThan(cost)).
			And(expression.Name("a_m_room").GreaterThan(cost))).
		WithUpdate(ub.
			Add(expression.Name("a_d_room"), expression.Value(-int64(st.Cost))).
			Add(expression.Name("a_m_room"), expression.Value(-int64(st.Cost)))).Build()
}

// AgentDayExpr is agentDayExpr.
func AgentDayExpr(u tenancy.ModelUsage) HotExpr { return exported(agentDayExpr(u)) }

// BuiltAgentDay is the agent-day update as the builder made it before it
// was written by hand (the reference).
func BuiltAgentDay(u tenancy.ModelUsage) (expression.Expression, error) {
	var ub expression.UpdateBuilder
	for i, v := range modelValues(u) {
		if v != 0 {
			ub = ub.Add(expression.Name(modelFields[i]), expression.Value(v))
		}
	}
	return expression.NewBuilder().WithUpdate(ub).Build()
}
