package dynamostore_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/dynamostore"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// The execute path's hand-written expressions (hotpath.go) must do exactly
// what the feature/dynamodb/expression builders they replace did: each
// test here applies both to the same items on every DynamoDB engine and
// compares the outcome (condition held or not) and the resulting item.

// builtAdmit is the admit's expression as the builder made it before it
// was written by hand (the reference).
func builtAdmit(a tenancy.Admission, plan tenancy.AdmitPlan) expression.Builder {
	hour := expression.Name("h_key").Equal(expression.Value(plan.Hour)).
		And(expression.Name("h_queries").LessThan(expression.Name("max_qph")))
	ub := expression.Add(expression.Name("h_queries"), expression.Value(1))
	if plan.NewHour {
		hour = expression.Name("h_key").LessThan(expression.Value(plan.Hour)).
			And(expression.Name("max_qph").GreaterThanEqual(expression.Value(1)))
		ub = expression.Set(expression.Name("h_key"), expression.Value(plan.Hour)).
			Set(expression.Name("h_queries"), expression.Value(1))
	}
	ub = ub.Add(expression.Name("d_reserved"), expression.Value(int64(a.Reserve))).
		Add(expression.Name("d_budget"), expression.Value(-int64(a.Reserve))).
		Add(expression.Name("m_reserved"), expression.Value(int64(a.Reserve))).
		Add(expression.Name("m_budget"), expression.Value(-int64(a.Reserve))).
		Add(expression.Name("rev"), expression.Value(1))
	month := expression.Or(
		expression.AttributeNotExists(expression.Name("m_capped")),
		expression.Name("m_capped").Equal(expression.Value(false)),
		expression.Name("m_budget").GreaterThanEqual(expression.Value(int64(a.Reserve))))
	allows := func(set, name string) expression.ConditionBuilder {
		entry := func(n string) expression.NameBuilder {
			return expression.Name(set).AppendName(expression.NameNoDotSplit(n))
		}
		return expression.Or(entry(name).Equal(expression.Value(true)), entry("*").Equal(expression.Value(true)))
	}
	allowed := allows("allowed_models", a.Model)
	for _, tool := range a.Tools {
		allowed = allowed.And(allows("allowed_tools", tool))
	}
	cond := expression.And(
		expression.Name("is_active").Equal(expression.Value(true)),
		expression.Name("w_day").Equal(expression.Value(plan.Day)),
		expression.Name("d_budget").GreaterThanEqual(expression.Value(int64(a.Reserve))),
		month, allowed, hour)
	return expression.NewBuilder().WithCondition(cond).WithUpdate(ub)
}

func numAttr(n int64) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(n)} }

func allowAttr(names ...string) types.AttributeValue {
	m := map[string]types.AttributeValue{}
	for _, n := range names {
		m[n] = &types.AttributeValueMemberBOOL{Value: true}
	}
	return &types.AttributeValueMemberM{Value: m}
}

// pick returns one of xs, the first with probability p, else any other.
func pick[T any](rng *rand.Rand, p float64, xs ...T) T {
	if rng.Float64() < p || len(xs) == 1 {
		return xs[0]
	}
	return xs[1+rng.IntN(len(xs)-1)]
}

// randomAdmit is a tenant item and an admission, each rule of the admit
// holding with probability 0.85 (so both outcomes are common).
func randomAdmit(rng *rand.Rand) (map[string]types.AttributeValue, tenancy.Admission, tenancy.AdmitPlan) {
	const model = "gpt-4.1-mini" // a dot: it must be one map key, never a path
	plan := tenancy.AdmitPlan{Day: "2026-11-28", Hour: "2026-11-28T14", NewHour: rng.IntN(2) == 0}
	reserve := pick(rng, 0.5, int64(631500), 1, 1_000_000_000)
	a := tenancy.Admission{TenantID: "acme", Model: model, Reserve: tenancy.Money(reserve),
		Tools: pick(rng, 0.4, []string(nil), []string{"search"}, []string{"search", "calc.v2"})}
	hKey, hQueries, maxQPH := plan.Hour, int64(rng.IntN(3)), int64(3)
	if plan.NewHour {
		hKey = "2026-11-28T13"
	}
	hKey = pick(rng, 0.85, hKey, "2026-11-28T15", "2026-11-28T14", "2026-11-28T13")
	maxQPH = pick(rng, 0.85, maxQPH, 0, hQueries)
	item := map[string]types.AttributeValue{
		"is_active":      &types.AttributeValueMemberBOOL{Value: pick(rng, 0.85, true, false)},
		"w_day":          strAttr(pick(rng, 0.85, plan.Day, "2026-11-27")),
		"d_budget":       numAttr(reserve + pick(rng, 0.85, int64(5), 0, -1)),
		"d_reserved":     numAttr(rng.Int64N(1000)),
		"m_reserved":     numAttr(rng.Int64N(1000)),
		"m_budget":       numAttr(reserve + pick(rng, 0.6, int64(0), -1, 7)),
		"rev":            numAttr(rng.Int64N(100)),
		"h_key":          strAttr(hKey),
		"h_queries":      numAttr(hQueries),
		"max_qph":        numAttr(maxQPH),
		"allowed_models": pick(rng, 0.85, allowAttr("*"), allowAttr("gpt-4o"), allowAttr("gpt-4")),
		"allowed_tools":  pick(rng, 0.85, allowAttr("*"), allowAttr("search"), allowAttr("calc")),
	}
	if allowed := rng.IntN(3); allowed == 1 {
		item["allowed_models"] = allowAttr(model, "gpt-4o")
	}
	if a.Tools != nil && rng.IntN(2) == 0 {
		item["allowed_tools"] = allowAttr(a.Tools...)
	}
	switch rng.IntN(3) {
	case 0: // an item from before monthly budgets
	case 1:
		item["m_capped"] = &types.AttributeValueMemberBOOL{Value: false}
	case 2:
		item["m_capped"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	return item, a, plan
}

// show prints an item's attributes with their values (sorted by name).
func show(item map[string]types.AttributeValue) string {
	names := make([]string, 0, len(item))
	for n := range item {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		switch av := item[n].(type) {
		case *types.AttributeValueMemberN:
			fmt.Fprintf(&b, "%s=%s ", n, av.Value)
		case *types.AttributeValueMemberS:
			fmt.Fprintf(&b, "%s=%q ", n, av.Value)
		case *types.AttributeValueMemberBOOL:
			fmt.Fprintf(&b, "%s=%v ", n, av.Value)
		default:
			fmt.Fprintf(&b, "%s=%T ", n, av)
		}
	}
	return b.String()
}

func strAttr(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// applied puts item at pk, applies the update, and returns whether its
// condition held and the item after it.
func applied(t *testing.T, v *env, pk string, item map[string]types.AttributeValue, update, cond string,
	names map[string]string, values map[string]types.AttributeValue) (bool, map[string]types.AttributeValue) {
	t.Helper()
	k := map[string]types.AttributeValue{"pk": strAttr(pk), "sk": strAttr("TENANT")}
	put := map[string]types.AttributeValue{}
	for n, av := range item {
		put[n] = av
	}
	put["pk"], put["sk"] = k["pk"], k["sk"]
	if _, err := v.db.PutItem(v.ctx, &dynamodb.PutItemInput{TableName: aws.String(v.table), Item: put}); err != nil {
		t.Fatal(err)
	}
	in := &dynamodb.UpdateItemInput{TableName: aws.String(v.table), Key: k, UpdateExpression: aws.String(update),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values}
	if cond != "" {
		in.ConditionExpression = aws.String(cond)
	}
	_, err := v.db.UpdateItem(v.ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		t.Fatalf("update %s: %v", update, err)
	}
	out, gerr := v.db.GetItem(v.ctx, &dynamodb.GetItemInput{TableName: aws.String(v.table), Key: k, ConsistentRead: aws.Bool(true)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	delete(out.Item, "pk")
	return err == nil, out.Item
}

func TestAdmitExprMatchesBuilder(t *testing.T) {
	for _, e := range engines {
		if e.bolt {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			v := newEnv(t, e)
			rng := rand.New(rand.NewPCG(15, 1))
			cases := 160
			if e.name == "moto" {
				cases = 40 // a few ms per request
			}
			held := 0
			for i := range cases {
				item, a, plan := randomAdmit(rng)
				ref, err := builtAdmit(a, plan).Build()
				if err != nil {
					t.Fatal(err)
				}
				hand := dynamostore.AdmitExpr(a, plan)
				okRef, afterRef := applied(t, v, fmt.Sprintf("REF#%d", i), item, *ref.Update(), *ref.Condition(), ref.Names(), ref.Values())
				okHand, afterHand := applied(t, v, fmt.Sprintf("HAND#%d", i), item, hand.Update, hand.Cond, hand.Names, hand.Values)
				if okRef != okHand || !reflect.DeepEqual(afterRef, afterHand) {
					t.Fatalf("case %d (%+v, %+v): builder held=%v, hand-written held=%v\nbuilder: %v\nhand:    %v\n%s\n%s",
						i, a, plan, okRef, okHand, show(afterRef), show(afterHand), hand.Cond, hand.Update)
				}
				if okRef {
					held++
				}
			}
			// Both outcomes were exercised, in a proportion fixed by the seed.
			if held < cases/8 || held > cases-cases/8 {
				t.Fatalf("the condition held in %d of %d cases: the cases do not exercise both outcomes", held, cases)
			}
		})
	}
}

// randomSettle is a tenant item, a ticket and a settlement: failed or not,
// charged nothing, less than, exactly or more than its reservation, with
// or without cache tokens and a price version; the window still the
// call's day and the cost within both alert rooms with probability 0.85
// each.
func randomSettle(rng *rand.Rand) (map[string]types.AttributeValue, tenancy.Ticket, tenancy.Settlement) {
	reserve := pick(rng, 0.5, int64(631500), 0, 1_000_000_000)
	t := tenancy.Ticket{CallID: "c1", TenantID: "acme", Model: "gpt-4.1-mini", Reserve: tenancy.Money(reserve), Day: "2026-11-28"}
	cost := pick(rng, 0.4, reserve/3, 0, reserve, reserve+777)
	st := tenancy.Settlement{Cost: tenancy.Money(cost), Failed: rng.IntN(5) == 0,
		PriceVersion: pick(rng, 0.5, "2026-11-01.v2", ""),
		Tokens: tenancy.Tokens{Input: rng.Int64N(3) * 120, Output: rng.Int64N(2) * 80, CacheRead: pick(rng, 0.7, int64(0), 64),
			CacheWrite: pick(rng, 0.7, int64(0), 32)}}
	item := map[string]types.AttributeValue{
		"w_day":    strAttr(pick(rng, 0.85, t.Day, "2026-11-29")),
		"a_d_room": numAttr(cost + pick(rng, 0.85, int64(1), 0, -5)),
		"a_m_room": numAttr(cost + pick(rng, 0.85, int64(9), 0)),
	}
	// Counters present (with values) or not yet (ADD creates them).
	for _, n := range []string{"rev", "total_queries", "lifetime_cost", "d_queries", "d_failed", "d_spent", "d_reserved",
		"d_over", "d_in", "d_out", "d_cr", "d_cw", "m_reserved", "m_budget", "m_spent", "d_budget",
		"m|gpt-4.1-mini|q", "m|gpt-4.1-mini|cost", "pv|2026-11-01.v2"} {
		if rng.IntN(4) != 0 {
			item[n] = numAttr(rng.Int64N(5_000_000))
		}
	}
	return item, t, st
}

func TestSettleExprMatchesBuilder(t *testing.T) {
	for _, e := range engines {
		if e.bolt {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			v := newEnv(t, e)
			rng := rand.New(rand.NewPCG(15, 2))
			cases := 160
			if e.name == "moto" {
				cases = 40
			}
			held := 0
			for i := range cases {
				item, tk, st := randomSettle(rng)
				ref, err := dynamostore.BuiltSettle(tk, st)
				if err != nil {
					t.Fatal(err)
				}
				hand := dynamostore.SettleExpr(tk, st)
				okRef, afterRef := applied(t, v, fmt.Sprintf("REF#%d", i), item, *ref.Update(), *ref.Condition(), ref.Names(), ref.Values())
				okHand, afterHand := applied(t, v, fmt.Sprintf("HAND#%d", i), item, hand.Update, hand.Cond, hand.Names, hand.Values)
				if okRef != okHand || !reflect.DeepEqual(afterRef, afterHand) {
					t.Fatalf("case %d (%+v, %+v): builder held=%v, hand-written held=%v\nbuilder: %v\nhand:    %v\n%s\n%s",
						i, tk, st, okRef, okHand, show(afterRef), show(afterHand), hand.Cond, hand.Update)
				}
				if okRef {
					held++
				}
			}
			if held < cases/8 || held > cases-cases/8 {
				t.Fatalf("the condition held in %d of %d cases: the cases do not exercise both outcomes", held, cases)
			}
		})
	}
}

func TestAgentDayExprMatchesBuilder(t *testing.T) {
	for _, e := range engines {
		if e.bolt {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			v := newEnv(t, e)
			rng := rand.New(rand.NewPCG(15, 3))
			for i := range 30 {
				u := tenancy.ModelUsage{Queries: rng.Int64N(2), Cost: tenancy.Money(pick(rng, 0.7, int64(631500), 0)),
					Tokens: tenancy.Tokens{Input: rng.Int64N(3) * 120, Output: rng.Int64N(2) * 80,
						CacheRead: pick(rng, 0.7, int64(0), 64), CacheWrite: pick(rng, 0.7, int64(0), 32)}}
				if u == (tenancy.ModelUsage{}) {
					u.Cost = 1 // the settle writes no agent day for a call that adds nothing
				}
				// The counters present with values, or not yet (ADD creates them).
				item := map[string]types.AttributeValue{}
				for _, n := range []string{"q", "in", "out", "cr", "cw", "cost"} {
					if rng.IntN(3) != 0 {
						item[n] = numAttr(rng.Int64N(1_000_000))
					}
				}
				ref, err := dynamostore.BuiltAgentDay(u)
				if err != nil {
					t.Fatal(err)
				}
				hand := dynamostore.AgentDayExpr(u)
				_, afterRef := applied(t, v, fmt.Sprintf("REF#%d", i), item, *ref.Update(), "", ref.Names(), ref.Values())
				_, afterHand := applied(t, v, fmt.Sprintf("HAND#%d", i), item, hand.Update, "", hand.Names, hand.Values)
				if !reflect.DeepEqual(afterRef, afterHand) {
					t.Fatalf("case %d (%+v):\nbuilder: %v\nhand:    %v\n%s", i, u, show(afterRef), show(afterHand), hand.Update)
				}
			}
		})
	}
}

func TestCallRecordMatchesMarshal(t *testing.T) {
	tk := tenancy.Ticket{CallID: "c0ffee", TenantID: "acme", AgentID: "support", Model: "gpt-4.1-mini",
		Reserve: 631500, Day: "2026-11-28", AdmittedAt: time.Date(2026, 11, 28, 14, 30, 1, 123456789, time.UTC)}
	want, err := dynamostore.CallItem(tk)
	if err != nil {
		t.Fatal(err)
	}
	if got := dynamostore.CallRecord(tk); !reflect.DeepEqual(got, want) {
		t.Fatalf("call record:\n got %v\nwant %v", got, want)
	}
	eq(t, "attributes", len(want), 18)
}
