package dynamostore

import (
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
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
