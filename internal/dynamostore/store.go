// Package dynamostore is the DynamoDB single-table store of the tenancy
// domain. Every quota is a condition on one write; every multi-item change is
// one transaction; nothing is read-then-written without a condition that
// proves the read is still current.
//
// Items (pk / sk, strings; ids are [A-Za-z0-9_-] so "#" never collides):
//
//	TENANT#<t> / TENANT      config, state, lifetime totals, live daily window
//	TENANTS    / TENANT#<t>  directory entry (tenant listing without a Scan)
//	TENANT#<t> / AGENT#<a>   agent
//	TENANT#<t> / CALL#<id>   admitted, unsettled call (deleted when settled)
//	TENANT#<t> / HIST#<day>  archived usage of one day (added to, never rewritten)
//	TENANT#<t>#AGENTDAY / AGENTDAY#<day>#<a>  one agent's usage of one day (added to by
//	                         settles; a partition key of its own, off the tenant's hot one)
//	TENANT#<t> / ALERT#<at>#<period>#<key>#<pct>  a budget alert
//	KEY#<sha256> / KEY       API key (see keys.go)
//	TENANT#<t> / KEYID#<id>  the same key, listed under its tenant
//	TENANT#<t> / IDEM#<key>  idempotency record of an execute
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store implements tenancy.Store on one DynamoDB table.
type Store struct {
	db    API
	table *string
	// cals remembers each tenant's calendar as last seen by an admit, so
	// the first attempt counts in the right local day; a stale entry costs
	// one refused attempt, never a wrong count.
	cals sync.Map // tenant id -> tenancy.Calendar
}

// calendar is the tenant's calendar as last seen (UTC before any).
func (s *Store) calendar(tenantID string) tenancy.Calendar {
	if c, ok := s.cals.Load(tenantID); ok {
		return c.(tenancy.Calendar)
	}
	return tenancy.Calendar{Zone: tenancy.DefaultTimezone}
}

var _ tenancy.Store = (*Store)(nil)

// New returns a store on table.
func New(db API, table string) *Store { return &Store{db: db, table: aws.String(table)} }

// maxAttempts bounds every optimistic retry loop (concurrent changes,
// transaction conflicts, window rollovers).
const maxAttempts = 12

// backoff sleeps before retry attempt n (jittered, capped), or returns the
// context's error.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(1<<min(n, 6)) * time.Millisecond
	d = d/2 + rand.N(d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func tenantPK(t string) string { return "TENANT#" + t }
func agentSK(a string) string  { return "AGENT#" + a }
func callSK(id string) string  { return "CALL#" + id }
func histSK(day string) string { return "HIST#" + day }

// agentDayPK is the partition of a tenant's agent days: its own key, so
// their writes (one per settled call) do not add to the tenant partition's
// write rate, which bounds a tenant's executes per second.
func agentDayPK(t string) string { return tenantPK(t) + "#AGENTDAY" }

// agentDaySK keys an agent's counters of a day: a tenant's agent days sort
// by date, then agent, so one Query reads a range of days.
func agentDaySK(day, agent string) string { return agentDayPrefix + day + "#" + agent }

// alertSK orders a tenant's alerts by time; the period's key and the
// threshold make it unique.
func alertSK(a tenancy.Alert, periodKey string) string {
	return fmt.Sprintf("%s%s#%s#%s#%03d", alertPrefix, a.At.UTC().Format("20060102T150405.000000000Z"), a.Period, periodKey, a.ThresholdPct)
}
func strAV(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

const (
	tenantSK       = "TENANT"
	directoryPK    = "TENANTS"
	agentPrefix    = "AGENT#"
	callPrefix     = "CALL#"
	histPrefix     = "HIST#"
	agentDayPrefix = "AGENTDAY#"
	alertPrefix    = "ALERT#"
	directoryPfx   = "TENANT#"
)

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{schema.PartitionKey: strAV(pk), schema.SortKey: strAV(sk)}
}

// cancelReasons returns the cancellation reasons of a cancelled transaction.
func cancelReasons(err error) ([]types.CancellationReason, bool) {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return tce.CancellationReasons, true
	}
	return nil, false
}

// failedAt reports whether item i of a cancelled transaction failed its
// condition, with the item as it was (nil when it did not exist).
func failedAt(reasons []types.CancellationReason, i int) (bool, map[string]types.AttributeValue) {
	if i >= len(reasons) || aws.ToString(reasons[i].Code) != "ConditionalCheckFailed" {
		return false, nil
	}
	return true, reasons[i].Item
}

// conflicted reports whether a transaction was cancelled for a reason that
// a retry can clear (another transaction in progress on one of its items,
// throttling).
func conflicted(reasons []types.CancellationReason) bool {
	for _, r := range reasons {
		switch aws.ToString(r.Code) {
		case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded":
			return true
		}
	}
	return false
}

// condFailed reports whether err is a plain conditional check failure.
func condFailed(err error) (bool, map[string]types.AttributeValue) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true, ccf.Item
	}
	return false, nil
}

// storeErr turns an unexpected DynamoDB error into the domain's 503.
func storeErr(err error) error {
	var te *tenancy.Error
	if errors.As(err, &te) {
		return err
	}
	return tenancy.Unavailable(err)
}

func build(b expression.Builder) (expression.Expression, error) {
	e, err := b.Build()
	if err != nil {
		return e, tenancy.Unavailable(fmt.Errorf("building expression: %w", err))
	}
	return e, nil
}

func nowString(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// transact runs one transaction, retrying it while DynamoDB cancels it for
// a transient reason (a conflicting transaction on the same item,
// throttling). It returns the cancellation reasons when a condition failed,
// nil and nil on success, and other errors as the domain's 503.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) ([]types.CancellationReason, error) {
	for attempt := 0; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil, nil
		}
		reasons, cancelled := cancelReasons(err)
		switch {
		case !cancelled:
			return nil, storeErr(err)
		case !conflicted(reasons):
			return reasons, nil
		case attempt+1 >= maxAttempts:
			return nil, storeErr(err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, storeErr(err)
		}
	}
}

// TableName is the store's table.
func (s *Store) TableName() *string { return s.table }
