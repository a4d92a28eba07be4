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

// Secrets and provider settings, read from env by the functions. In AWS the
// stack sets the *_SECRET names; locally the plain values are used.
const (
	EnvAdminKey       = "TENANCY_ADMIN_KEY"        // local: the admin keys themselves (comma-separated)
	EnvAdminKeySecret = "TENANCY_ADMIN_KEY_SECRET" // AWS: Secrets Manager name holding the admin keys
	EnvProviderSecret = "TENANCY_PROVIDER_SECRET"  // AWS: Secrets Manager name holding provider keys (JSON object of env names to values)
	EnvListen         = "TENANCY_LISTEN"           // local server address
	EnvStore          = "TENANCY_STORE"            // local server: bolt (default), memory or dynamodb
	EnvDataDir        = "TENANCY_DATA_DIR"         // local server: the bolt store's directory (default .data)
	// Budget alerts: a webhook (POSTed JSON signed with the secret) wherever
	// set, and in AWS the EventBridge bus the stack names (the default bus).
	EnvAlertWebhook = "TENANCY_ALERT_WEBHOOK"
	EnvAlertSecret  = "TENANCY_ALERT_SECRET"
	EnvAlertBus     = "TENANCY_ALERT_BUS"
)

// AdminKeyRotationDays is how often Secrets Manager rotates the admin keys
// secret (the reset function is its rotation function, see
// internal/app/adminkeys).
const AdminKeyRotationDays = 30

// FunctionActions lists, per Lambda function, the DynamoDB actions its code
// uses on the table. The CDK stack grants exactly these and nothing else.
// Transactions need no action of their own: IAM authorizes each item of a
// TransactWriteItems as its PutItem / UpdateItem / DeleteItem /
// ConditionCheckItem.
var FunctionActions = map[string][]string{
	"tenants":    {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"},
	"agents":     {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
	"execute":    {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
	"reports":    {"dynamodb:GetItem", "dynamodb:Query"},
	"reset":      {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
	"authorizer": {"dynamodb:GetItem"},
}
