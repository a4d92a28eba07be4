package dynamostore

import (
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/tenancy"
)

// The execute path's writes (admit, settle) and the call record are
// written by hand here, in one place. Building them with
// feature/dynamodb/expression and attributevalue cost about 640 of an
// execute's 2,229 allocations (go test -memprofile of
// BenchmarkExecuteHandler, -memprofilerate 1): its builder makes a tree,
// aliases every name and marshals every value with reflection on each
// call. Here the expressions are constant strings, and the operands are
// put in maps sized once.
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
