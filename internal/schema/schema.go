// Package schema is the one definition of the platform's DynamoDB table:
// its key attributes and TTL attribute. The store and the CDK stack both read
// it, so the deployed table and the code can never disagree.
package schema

const (
	// DefaultTableName is the table name used locally when TENANCY_TABLE is unset.
	DefaultTableName = "tenancy"
	// PartitionKey is the table's hash key (string).
	PartitionKey = "pk"
	// SortKey is the table's range key (string).
	SortKey = "sk"
	// TTLAttribute holds an epoch-seconds expiry on items that may be
	// deleted by DynamoDB's TTL sweeper (idempotency records).
	TTLAttribute = "expires_at"
)

// Env names shared by every function, the local server and the stack.
const (
	EnvTable    = "TENANCY_TABLE"
	EnvEndpoint = "DYNAMODB_ENDPOINT"
)
