package dynamostore

import (
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// The execute path's writes (admit, settle) and the call record are
// written by hand here, in one place. Building them with
// feature/dynamodb/expression and attributevalue cost about 620 of an
// execute's 2,248 allocations (the profile of go test -bench ExecuteHandler
// -memprofile, -memprofilerate 1, on main at 5e53c92): the builder makes a
// tree, aliases every name and marshals every value with reflection on
// each call. Here the expressions are constant strings, and the operands
// are put in maps sized once.
//
// Attribute names that are our schema's fixed identifiers appear as they
// are (none is a DynamoDB reserved word: moto rejects those, and the store
// contract suite runs on moto); a name that comes from data (a model, a
// tool, a price version) is always an alias. hotpath_test.go checks each
// expression against the builder's on the same items.

// Operands that never change, shared by every call (the SDK only reads
// them).
var (
	avTrue  types.AttributeValue = &types.AttributeValueMemberBOOL{Value: true}
	avFalse types.AttributeValue = &types.AttributeValueMemberBOOL{Value: false}
	avOne   types.AttributeValue = &types.AttributeValueMemberN{Value: "1"}
	avZero  types.AttributeValue = &types.AttributeValueMemberN{Value: "0"}
	avEmpty types.AttributeValue = &types.AttributeValueMemberS{Value: ""}
	avCall  types.AttributeValue = &types.AttributeValueMemberS{Value: "call"}
)

func numAV(n int64) types.AttributeValue {
	switch n {
	case 0:
		return avZero
	case 1:
		return avOne
	}
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Conditions on an item's existence (pk is on every item).
const (
	condNotExists = "attribute_not_exists(pk)"
	condExists    = "attribute_exists(pk)"
)

// hotExpr is one hand-written update with its condition and operands.
type hotExpr struct {
	update, cond string
	names        map[string]string
	values       map[string]types.AttributeValue
}

// The admit's condition: the tenant is active, the window is the plan's
// day, the reservation fits the day's budget and, when the month is
// capped, the month's; the model is allowed (by name or "*"); then each
// tool (admitToolCond) and the hour (admitHour / admitNewHour).
const admitCond = "is_active = :true AND w_day = :day AND d_budget >= :reserve" +
	" AND (attribute_not_exists(m_capped) OR m_capped = :false OR m_budget >= :reserve)" +
	" AND (allowed_models.#model = :true OR allowed_models.#any = :true)"

// admitToolCond is the condition on tool i (its alias is #tool<i>).
func admitToolCond(b *strings.Builder, i int) {
	n := strconv.Itoa(i)
	b.WriteString(" AND (allowed_tools.#tool")
	b.WriteString(n)
	b.WriteString(" = :true OR allowed_tools.#any = :true)")
}

const (
	// Within the window's hour: below the hourly limit.
	admitHourCond = " AND h_key = :hour AND h_queries < max_qph"
	// The first call of a new hour: any limit of at least 1.
	admitNewHourCond = " AND h_key < :hour AND max_qph >= :one"
	// The reservation moves the day's and the month's budgets.
	admitReserve    = "d_reserved :reserve, d_budget :unreserve, m_reserved :reserve, m_budget :unreserve, rev :one"
	admitHourUpdate = "ADD h_queries :one, " + admitReserve
	admitNewHourUpd = "SET h_key = :hour, h_queries = :one ADD " + admitReserve
)

// admitExpr is the admit's update and condition for a plan.
func admitExpr(a tenancy.Admission, plan tenancy.AdmitPlan) hotExpr {
	e := hotExpr{cond: admitCond + admitHourCond, update: admitHourUpdate,
		names: make(map[string]string, 2+len(a.Tools))}
	if plan.NewHour {
		e.cond, e.update = admitCond+admitNewHourCond, admitNewHourUpd
	}
	e.names["#model"], e.names["#any"] = a.Model, anyName
	if len(a.Tools) > 0 {
		var b strings.Builder
		b.WriteString(admitCond)
		for i, tool := range a.Tools {
			admitToolCond(&b, i)
			e.names["#tool"+strconv.Itoa(i)] = tool
		}
		if plan.NewHour {
			b.WriteString(admitNewHourCond)
		} else {
			b.WriteString(admitHourCond)
		}
		e.cond = b.String()
	}
	r := int64(a.Reserve)
	e.values = map[string]types.AttributeValue{":true": avTrue, ":false": avFalse, ":one": avOne,
		":day": strAV(plan.Day), ":hour": strAV(plan.Hour), ":reserve": numAV(r), ":unreserve": numAV(-r)}
	return e
}

// callRecord is the call record of an admitted call: the same attributes
// as attributevalue.MarshalMap of a callItem (decodeCall reads it back;
// hotpath_test.go compares the two).
func callRecord(t tenancy.Ticket) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": strAV(tenantPK(t.TenantID)), "sk": strAV(callSK(t.CallID)), "type": avCall,
		"call_id": strAV(t.CallID), "tenant_id": strAV(t.TenantID), "agent_id": strAV(t.AgentID),
		"model": strAV(t.Model), "reserve": numAV(int64(t.Reserve)), "day": strAV(t.Day),
		"admitted_at": strAV(nowString(t.AdmittedAt)), "rec_set": avFalse, "rec_failed": avFalse,
		"rec_in": avZero, "rec_out": avZero, "rec_cr": avZero, "rec_cw": avZero, "rec_cost": avZero,
		"rec_price": avEmpty,
	}
}

// adds writes the ADD clauses of an update expression and their operands.
type adds struct {
	b      strings.Builder
	names  map[string]string
	values map[string]types.AttributeValue
}

// add adds v to path (an attribute, or an alias of names), with operand ph.
func (a *adds) add(path, ph string, v types.AttributeValue) {
	if a.b.Len() == 0 {
		a.b.WriteString("ADD ")
	} else {
		a.b.WriteString(", ")
	}
	a.b.WriteString(path)
	a.b.WriteByte(' ')
	a.b.WriteString(ph)
	a.values[ph] = v
}

// alias names attr (a name from data) with alias.
func (a *adds) alias(alias, attr string) {
	if a.names == nil {
		a.names = make(map[string]string, len(modelFieldAliases)+1)
	}
	a.names[alias] = attr
}

// addNonZero adds v unless it is 0.
func (a *adds) addNonZero(path, ph string, v int64) {
	if v != 0 {
		a.add(path, ph, numAV(v))
	}
}

// The per-model counters' aliases and operands, in modelFields' order.
var (
	modelFieldAliases  = []string{"#m_q", "#m_in", "#m_out", "#m_cr", "#m_cw", "#m_cost"}
	modelFieldOperands = []string{":m_q", ":m_in", ":m_out", ":m_cr", ":m_cw", ":m_cost"}
)

// settleCond: the call's day is still the window's, and its cost crosses
// no alert threshold of the day or the month (the room left before the
// next one).
const settleCond = "w_day = :day AND a_d_room > :cost AND a_m_room > :cost"

// settleExpr is the settle's update of the live window, its common path:
// the reservation becomes the cost in the day's, the month's and the
// lifetime counters (with d, the settlement's per-model and price-version
// counters), and the alert rooms shrink by the cost.
func settleExpr(t tenancy.Ticket, st tenancy.Settlement, d delta) hotExpr {
	cost, reserve := int64(st.Cost), int64(t.Reserve)
	costAV, unspent, uncost := numAV(cost), numAV(reserve-cost), numAV(-cost)
	a := adds{values: make(map[string]types.AttributeValue, 24)}
	a.values[":day"], a.values[":cost"] = strAV(t.Day), costAV
	// Lifetime.
	a.add("rev", ":one", avOne)
	if !st.Failed {
		a.add("total_queries", ":one", avOne)
	}
	if cost != 0 {
		a.add("lifetime_cost", ":cost", costAV)
	}
	// The day (delta.add's counters).
	a.addNonZero("d_queries", ":d_queries", d.c.Queries)
	a.addNonZero("d_failed", ":d_failed", d.c.Failed)
	a.addNonZero("d_spent", ":d_spent", d.c.Spent)
	a.addNonZero("d_reserved", ":d_reserved", d.c.Reserved)
	a.addNonZero("d_over", ":d_over", d.c.Overage)
	a.addNonZero("d_in", ":d_in", d.c.In)
	a.addNonZero("d_out", ":d_out", d.c.Out)
	a.addNonZero("d_cr", ":d_cr", d.c.CR)
	a.addNonZero("d_cw", ":d_cw", d.c.CW)
	for v, n := range d.prices { // at most one: the settlement's
		if n != 0 {
			a.alias("#pv", priceAttrPrefix+v)
			a.add("#pv", ":pv", numAV(n))
		}
	}
	for model, u := range d.byModel { // at most one: the call's
		for i, v := range modelValues(u) {
			if v != 0 {
				a.alias(modelFieldAliases[i], modelAttr(model, modelFields[i]))
				a.add(modelFieldAliases[i], modelFieldOperands[i], numAV(v))
			}
		}
	}
	// The month (monthDelta), the day's budget and the alert rooms.
	a.add("m_reserved", ":unreserve", numAV(-reserve))
	a.add("m_budget", ":unspent", unspent)
	if cost != 0 {
		a.add("m_spent", ":cost", costAV)
	}
	a.add("d_budget", ":unspent", unspent)
	a.add("a_d_room", ":uncost", uncost)
	a.add("a_m_room", ":uncost", uncost)
	return hotExpr{update: a.b.String(), cond: settleCond, names: a.names, values: a.values}
}

// The agent-day item's counters are the model fields themselves ("in" is
// a reserved word: all are aliased).
var (
	agentDayAliases  = []string{"#q", "#in", "#out", "#cr", "#cw", "#cost"}
	agentDayOperands = []string{":q", ":in", ":out", ":cr", ":cw", ":cost"}
)

// agentDayExpr is the update of the agent's counters of the call's day:
// the amounts u the settlement adds to its model's counters (at least one
// is not zero).
func agentDayExpr(u tenancy.ModelUsage) hotExpr {
	a := adds{values: make(map[string]types.AttributeValue, len(agentDayOperands))}
	for i, v := range modelValues(u) {
		if v != 0 {
			a.alias(agentDayAliases[i], modelFields[i])
			a.add(agentDayAliases[i], agentDayOperands[i], numAV(v))
		}
	}
	return hotExpr{update: a.b.String(), names: a.names, values: a.values}
}
