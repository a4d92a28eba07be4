// Package stack is the platform's AWS stack in CDK: one DynamoDB table, the
// six Lambda functions behind an HTTP API with a Lambda authorizer, the daily
// reset schedule, the secrets, least-privilege IAM, alarms and outputs.
//
// The table's keys come from internal/schema, the functions and routes from
// internal/api, and each function's DynamoDB actions from
// schema.FunctionActions, so the stack cannot drift from the code.
package stack

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/openclaw/tenancy/infra/samtemplate"
	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/schema"
	"github.com/openclaw/tenancy/internal/tenancy"
)

// Defaults of TenancyStackProps.
const (
	DefaultStage         = "dev"
	DefaultAssetDir      = "bin/lambda" // where `make build` puts <fn>/bootstrap
	DefaultThrottleRate  = 50           // steady requests per second, whole API
	DefaultThrottleBurst = 100
)

// The stack pins the logical ids of the functions and the table (instead of
// CDK's hashed ids) to samtemplate.LogicalID(fn) and
// samtemplate.TableLogicalID, so template.yaml names the same resources.

// Names of the stack outputs.
const (
	OutputAPIURL             = "ApiUrl"
	OutputTableName          = "TableName"
	OutputAdminSecretName    = "AdminKeySecretName"
	OutputProviderSecretName = "ProviderKeysSecretName"
	// OutputStreamURL is the execute function's URL (RESPONSE_STREAM):
	// streamed executes and the OpenAI-compatible /v1 routes.
	OutputStreamURL     = "StreamUrl"
	OutputAlarmTopicArn = "AlarmTopicArn"
)

// AuthorizerCacheTTLSeconds is how long API Gateway reuses the authorizer's
// answer for one Authorization header: a revoked tenant key, or an admin key
// removed from the secret (after the authorizer's reload, see
// internal/app/adminkeys), may pass that long.
const AuthorizerCacheTTLSeconds = 300

// AccessLogFields are the HTTP API's access log, one JSON object per request
// (field name, $context variable): the authorizer's labels (tenant and role,
// see internal/api/authorizer.go), never a key or a header. Every value is a
// string, because API Gateway writes "-" for a missing one.
var AccessLogFields = [][2]string{
	{"request_id", "$context.requestId"},
	{"time", "$context.requestTime"},
	{"route_key", "$context.routeKey"},
	{"status", "$context.status"},
	{"latency_ms", "$context.responseLatency"},
	{"integration_status", "$context.integrationStatus"},
	{"integration_latency_ms", "$context.integrationLatency"},
	{"integration_error", "$context.integrationErrorMessage"},
	{"authorizer_error", "$context.authorizer.error"},
	{"tenant_id", "$context.authorizer.tenant_id"},
	{"role", "$context.authorizer.role"},
	{"source_ip", "$context.identity.sourceIp"},
}

// AccessLogFormat is AccessLogFields as API Gateway's format string.
func AccessLogFormat() string {
	parts := make([]string, len(AccessLogFields))
	for i, f := range AccessLogFields {
		parts[i] = fmt.Sprintf("%q:%q", f[0], f[1])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// PublicRoutes say why each public route (api.Public) needs no key; cdk-nag's
// AwsSolutions-APIG4 is suppressed on them with this reason. A public route
// without a reason here is a synth error.
var PublicRoutes = map[string]string{
	"GET /openapi.json":    "The API document is public by design: clients and code generators read it before they have a key; it holds no tenant data.",
	"GET /console":         "The browser console is a static page, public by design; it holds no data and calls the API with the key its user types in.",
	"GET /console/app.js":  "The browser console's script: a static file, public by design, no data; the page loads it before any key is typed in.",
	"GET /console/app.css": "The browser console's style sheet: a static file, public by design, no data.",
}

// EnvClaudeProvider routes Claude models of the catalog to a provider; the
// AWS deployment sends them to Amazon Bedrock (IAM credentials, no key).
const EnvClaudeProvider = "TENANCY_CLAUDE_PROVIDER"

// ProviderSecretKeys are the keys of the provider keys secret: env names the
// provider clients read (issue 4). The stack creates the secret with these
// keys and empty values; the operator fills in the ones in use.
var ProviderSecretKeys = []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENCLAW_GATEWAY_TOKEN"}

// BedrockProfilePrefix is the geography of the cross-region inference
// profiles the catalog names ("us.anthropic.claude-...", see
// internal/catalog).
const BedrockProfilePrefix = "us"

// BedrockFamily is the model family of the catalog's Bedrock ids, the only
// one execute may invoke on Bedrock.
const BedrockFamily = "anthropic"

// FunctionSpec sizes one function.
type FunctionSpec struct {
	MemoryMB       float64
	TimeoutSeconds float64
}

// Functions sizes every function of api.Functions. The Go binaries are small
// and mostly wait on DynamoDB or a model, so memory is modest; execute gets
// more (Lambda's CPU share grows with memory, which shortens JSON work and
// TLS handshakes to providers) and a 30 s timeout: the HTTP API's maximum
// integration timeout, above the provider timeout of 25 s. The authorizer is
// small and fast; the nightly reset walks every tenant, so it gets minutes.
var Functions = map[string]FunctionSpec{
	api.FnTenants:    {MemoryMB: 256, TimeoutSeconds: 10},
	api.FnAgents:     {MemoryMB: 256, TimeoutSeconds: 10},
	api.FnExecute:    {MemoryMB: 512, TimeoutSeconds: 30},
	api.FnReports:    {MemoryMB: 256, TimeoutSeconds: 10},
	api.FnReset:      {MemoryMB: 512, TimeoutSeconds: 300},
	api.FnAuthorizer: {MemoryMB: 128, TimeoutSeconds: 5},
}

// TenancyStackProps configures the stack.
type TenancyStackProps struct {
	awscdk.StackProps
	// Stage names the environment (dev, prod, ...). Physical names are left
	// to CloudFormation, which makes them unique per stack, so two stages
	// coexist in one account; the stage appears in the API name and tags.
	Stage string
	// AssetDir holds <fn>/bootstrap for every function (default bin/lambda).
	AssetDir string
	// CorsOrigins are the browser origins allowed by CORS; none: no CORS.
	CorsOrigins []string
	// ThrottleRate and ThrottleBurst are the $default stage's default route
	// throttling (0: the defaults above).
	ThrottleRate, ThrottleBurst float64
	// NoTracing turns X-Ray active tracing off on every function (context
	// tracing=false); tracing is on by default.
	NoTracing bool
	// AlarmEmail, when set, subscribes an email address to the alarm topic
	// (context alarmEmail); the address must confirm the subscription.
	AlarmEmail string
}

// TenancyStack is the stack and the constructs tests and tools look at.
type TenancyStack struct {
	awscdk.Stack
	Table        awsdynamodb.Table
	Functions    map[string]awslambda.Function
	API          awsapigatewayv2.HttpApi
	HTTPStage    awsapigatewayv2.HttpStage
	AdminSecret  awssecretsmanager.Secret
	ProviderKeys awssecretsmanager.Secret
	DeadLetters  awssqs.Queue
	ResetRule    awsevents.Rule
	AlarmTopic   awssns.Topic
	AccessLogs   awslogs.LogGroup
	// StreamURL is the execute function's URL: API Gateway HTTP APIs cannot
	// stream, a function URL in RESPONSE_STREAM mode can. Its auth type is
	// NONE: the function checks the bearer keys itself.
	StreamURL awslambda.FunctionUrl
}

var (
	stageRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	emailRE = regexp.MustCompile(`^[^@\s,]+@[^@\s,]+\.[^@\s,]+$`)
)

// CheckAlarmEmail is nil for "" (no subscription) or an email address.
func CheckAlarmEmail(s string) error {
	if s != "" && !emailRE.MatchString(s) {
		return fmt.Errorf("alarmEmail %q is not an email address", s)
	}
	return nil
}

// StackName is the CloudFormation stack name of a stage.
func StackName(stage string) string { return "Tenancy-" + stage }

// FunctionLogicalID is the pinned logical id of a function: "execute" -> "Execute".
func FunctionLogicalID(fn string) string { return samtemplate.LogicalID(fn) }

// NewTenancyStack builds the stack. It panics on invalid props (a
// programming error, reported at synth).
func NewTenancyStack(scope constructs.Construct, id string, props *TenancyStackProps) *TenancyStack {
	p := TenancyStackProps{}
	if props != nil {
		p = *props
	}
	if p.Stage == "" {
		p.Stage = DefaultStage
	}
	if !stageRE.MatchString(p.Stage) {
		panic(fmt.Sprintf("stack: stage %q must match %s", p.Stage, stageRE))
	}
	if p.AssetDir == "" {
		p.AssetDir = DefaultAssetDir
	}
	if err := CheckAlarmEmail(p.AlarmEmail); err != nil {
		panic("stack: " + err.Error())
	}
	if p.ThrottleRate == 0 {
		p.ThrottleRate = DefaultThrottleRate
	}
	if p.ThrottleBurst == 0 {
		p.ThrottleBurst = DefaultThrottleBurst
	}
	if p.Description == nil {
		p.Description = jsii.String("OpenClaw tenancy platform (" + p.Stage + "): HTTP API, six Lambda functions, one DynamoDB table")
	}

	st := awscdk.NewStack(scope, jsii.String(id), &p.StackProps)
	awscdk.Tags_Of(st).Add(jsii.String("app"), jsii.String("openclaw-tenancy"), nil)
	awscdk.Tags_Of(st).Add(jsii.String("stage"), jsii.String(p.Stage), nil)
	s := &TenancyStack{Stack: st, Functions: map[string]awslambda.Function{}}

	s.Table = newTable(st)
	s.AdminSecret, s.ProviderKeys = newSecrets(st)
	s.DeadLetters = awssqs.NewQueue(st, jsii.String("ResetDeadLetters"), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		// A queue policy denies every request not made over TLS.
		EnforceSSL: jsii.Bool(true),
	})

	for _, fn := range api.Functions {
		s.Functions[fn] = s.newFunction(fn, p.AssetDir, !p.NoTracing)
	}
	s.grant(p.Stage)
	s.StreamURL = s.Functions[api.FnExecute].AddFunctionUrl(&awslambda.FunctionUrlOptions{
		AuthType:   awslambda.FunctionUrlAuthType_NONE,
		InvokeMode: awslambda.InvokeMode_RESPONSE_STREAM,
	})
	s.rotateAdminKeys()
	s.API, s.HTTPStage = s.newHTTPAPI(p)
	s.ResetRule = s.newSchedule()
	s.AlarmTopic = s.newAlarmTopic(p.AlarmEmail)
	s.alarms()

	out := func(id, desc string, v *string) {
		awscdk.NewCfnOutput(st, jsii.String(id), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(desc)})
	}
	out(OutputAPIURL, "Base URL of the HTTP API", s.HTTPStage.Url())
	out(OutputTableName, "DynamoDB table", s.Table.TableName())
	out(OutputAdminSecretName, "Secrets Manager secret holding the admin API key", s.AdminSecret.SecretName())
	out(OutputProviderSecretName, "Secrets Manager secret holding the provider keys (JSON object; fill in the keys in use)", s.ProviderKeys.SecretName())
	out(OutputStreamURL, "Function URL of execute (RESPONSE_STREAM): streamed executes and the OpenAI-compatible /v1 routes", s.StreamURL.Url())
	out(OutputAlarmTopicArn, "SNS topic every alarm notifies (subscribe to it)", s.AlarmTopic.TopicArn())
	return s
}

func newTable(st awscdk.Stack) awsdynamodb.Table {
	t := awsdynamodb.NewTable(st, jsii.String(samtemplate.TableLogicalID), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(schema.PartitionKey), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String(schema.SortKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		TimeToLiveAttribute: jsii.String(schema.TTLAttribute),
		// The table is the system of record (balances, ledgers): deleting
		// the stack keeps it.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	pin(t, samtemplate.TableLogicalID)
	return t
}

func newSecrets(st awscdk.Stack) (admin, providers awssecretsmanager.Secret) {
	admin = awssecretsmanager.NewSecret(st, jsii.String("AdminKeySecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Admin API keys of the tenancy platform (Bearer tokens for admin routes): a comma-separated list, each key valid"),
		// A plain string: no template, no key. 48 letters and digits
		// (~285 bits); no punctuation so it pastes into headers and shells.
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(48),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
	})
	// A JSON object of env names to values, empty until the operator fills
	// in the providers in use (an empty value means "not configured"). The
	// empty strings are not secrets, so SecretValue_UnsafePlainText is safe.
	values := map[string]awscdk.SecretValue{}
	for _, k := range ProviderSecretKeys {
		values[k] = awscdk.SecretValue_UnsafePlainText(jsii.String(""))
	}
	providers = awssecretsmanager.NewSecret(st, jsii.String("ProviderKeysSecret"), &awssecretsmanager.SecretProps{
		Description:       jsii.String("Model provider keys of the tenancy platform: a JSON object of env names (" + strings.Join(ProviderSecretKeys, ", ") + ") to values"),
		SecretObjectValue: &values,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(providers, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("Provider API keys (OpenAI, Anthropic, OpenClaw) are issued by their providers; only their owners can rotate them there, then put the new values here. Secrets Manager cannot rotate them."),
	}}, jsii.Bool(false))
	return admin, providers
}

// newFunction is one function with its own role and log group. The role is
// built here rather than by CDK so it carries no AWSLambdaBasicExecutionRole
// (whose logs statements use Resource "*"): it may write to its own log group
// only. Passing the log group as logGroup also avoids CDK's LogRetention
// custom resource (an extra Lambda function with broad log permissions).
func (s *TenancyStack) newFunction(fn, assetDir string, tracing bool) awslambda.Function {
	spec, ok := Functions[fn]
	if !ok {
		panic(fmt.Sprintf("stack: function %q has no FunctionSpec", fn))
	}
	lid := FunctionLogicalID(fn)
	logs := awslogs.NewLogGroup(s.Stack, jsii.String(lid+"Logs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_MONTH,
		// Logs follow the stack's life; the table alone is retained.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(s.Stack, jsii.String(lid+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of the " + fn + " function"),
	})
	logs.GrantWrite(role)

	env := map[string]*string{schema.EnvTable: s.Table.TableName()}
	switch fn {
	case api.FnAuthorizer:
		env[schema.EnvAdminKeySecret] = s.AdminSecret.SecretName()
	case api.FnExecute:
		// The function URL checks keys in-process, the admin keys included.
		env[schema.EnvAdminKeySecret] = s.AdminSecret.SecretName()
		env[schema.EnvProviderSecret] = s.ProviderKeys.SecretName()
		env[EnvClaudeProvider] = jsii.String("bedrock")
	}
	if slices.Contains(SettlingFunctions, fn) {
		env[schema.EnvAlertBus] = jsii.String(AlertBus)
	}

	props := &awslambda.FunctionProps{
		Description:           jsii.String("tenancy " + fn),
		Code:                  awslambda.Code_FromAsset(jsii.String(filepath.Join(assetDir, fn)), nil),
		Handler:               jsii.String("bootstrap"),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          awslambda.Architecture_ARM_64(),
		MemorySize:            jsii.Number(spec.MemoryMB),
		Timeout:               awscdk.Duration_Seconds(jsii.Number(spec.TimeoutSeconds)),
		Environment:           &env,
		Role:                  role,
		LogGroup:              logs,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		Tracing:               awslambda.Tracing_DISABLED,
	}
	if tracing {
		// CDK adds xray:PutTraceSegments and xray:PutTelemetryRecords on
		// Resource "*" to the role: X-Ray has no resource-level permissions.
		props.Tracing = awslambda.Tracing_ACTIVE
	}
	if fn == api.FnReset {
		// EventBridge invokes asynchronously: its retry policy and DLQ
		// (newSchedule) cover only failures to hand the event to Lambda. A
		// failed run (an error, a timeout) is retried by Lambda's own
		// asynchronous invocation, then sent to the same queue as the
		// function's dead-letter queue (the event itself; the error is in
		// the function's log).
		props.RetryAttempts = jsii.Number(2)
		props.MaxEventAge = awscdk.Duration_Hours(jsii.Number(6))
		props.DeadLetterQueue = s.DeadLetters
	}
	f := awslambda.NewFunction(s.Stack, jsii.String(lid), props)
	pin(f, lid)
	if tracing {
		cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String("X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so AWS requires Resource \"*\" for them (no other action has it)."),
			AppliesTo: &[]any{"Resource::*"},
		}}, jsii.Bool(true))
	}
	return f
}

// grant gives each function exactly what its code uses.
func (s *TenancyStack) grant(stage string) {
	for _, fn := range api.Functions {
		actions, ok := schema.FunctionActions[fn]
		if !ok || len(actions) == 0 {
			panic(fmt.Sprintf("stack: schema.FunctionActions has no actions for %q", fn))
		}
		// The table ARN only: the table has no indexes, and per-item
		// actions (transactions included) authorize on the table.
		s.Functions[fn].AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("Table"),
			Actions:   jsii.Strings(actions...),
			Resources: jsii.Strings(*s.Table.TableArn()),
		}))
	}
	// Secrets: secretsmanager:GetSecretValue/DescribeSecret on one secret each.
	s.AdminSecret.GrantRead(s.Functions[api.FnAuthorizer], nil)
	s.AdminSecret.GrantRead(s.Functions[api.FnExecute], nil)
	s.ProviderKeys.GrantRead(s.Functions[api.FnExecute], nil)
	// A tenant's own OpenClaw gateway token (admin-set
	// openclaw_gateway_token_secret): execute may read the secrets named
	// under this stage's tenant-gateway prefix and no others; the API
	// refuses any other name (tenancy.GatewayTokenSecretRule). The operator
	// creates those secrets (README); the trailing * also covers the random
	// suffix Secrets Manager adds to every secret's ARN.
	tenantSecrets := "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:" + tenancy.GatewayTokenSecretPrefix(stage) + "*"
	s.Functions[api.FnExecute].AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("TenantGatewayTokens"),
		Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
		Resources: jsii.Strings(*awscdk.Fn_Sub(jsii.String(tenantSecrets), nil)),
	}))

	// Budget alerts: events:PutEvents on the default bus, only for the
	// functions that settle (their settlements raise the alerts).
	for _, fn := range SettlingFunctions {
		s.Functions[fn].AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("BudgetAlerts"),
			Actions:   jsii.Strings("events:PutEvents"),
			Resources: jsii.Strings(*awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/"+AlertBus), nil)),
		}))
	}

	// Bedrock, execute only. The Converse API has no IAM action of its own:
	// it is authorized as bedrock:InvokeModel on the model id it is given,
	// and ConverseStream (streamed executes) as
	// bedrock:InvokeModelWithResponseStream, on the same resources.
	// The catalog's Bedrock ids are cross-region inference profiles
	// ("us.anthropic.claude-...-v1:0"), which need InvokeModel on the
	// profile in this region and on the foundation model in every region
	// the profile may route to, hence the region wildcard on
	// foundation-model (which has no account). Both are limited to
	// Anthropic models; there is no Resource "*".
	foundation := "arn:${AWS::Partition}:bedrock:*::foundation-model/" + BedrockFamily + ".*"
	profiles := "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/" + BedrockProfilePrefix + "." + BedrockFamily + ".*"
	execute := s.Functions[api.FnExecute]
	execute.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("BedrockInvoke"),
		Actions:   jsii.Strings("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"),
		Resources: jsii.Strings(*awscdk.Fn_Sub(jsii.String(foundation), nil), *awscdk.Fn_Sub(jsii.String(profiles), nil)),
	}))
	// cdk-nag names a finding by the resource with ${X} written <X>.
	nagName := strings.NewReplacer("${", "<", "}", ">")
	cdknag.NagSuppressions_AddResourceSuppressions(execute.Role(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Bedrock model ids are wildcards limited to the catalog's Bedrock family (" + BedrockFamily + "): its foundation models in the regions the " +
			BedrockProfilePrefix + ". inference profiles route to, and those profiles in this account and region; TestProviderContract checks every catalog id falls inside."),
		AppliesTo: &[]any{"Resource::" + nagName.Replace(foundation), "Resource::" + nagName.Replace(profiles)},
	}, {
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Tenant gateway tokens: secretsmanager:GetSecretValue only (no other action) on the secrets named " +
			tenancy.GatewayTokenSecretPrefix(stage) + "* in this account and region, one per tenant with its own OpenClaw gateway; " +
			"the API accepts no other name in openclaw_gateway_token_secret (admin-only field), and the wildcard also matches the random suffix of a secret's ARN."),
		AppliesTo: &[]any{"Resource::" + nagName.Replace(tenantSecrets)},
	}}, jsii.Bool(true))
}

// rotateAdminKeys has Secrets Manager rotate the admin keys secret every
// schema.AdminKeyRotationDays with the reset function (functions/reset: a new key
// first, the previous newest key kept, older ones dropped). The schedule is
// the L1 resource: CDK's RotationSchedule would also grant
// secretsmanager:GetRandomPassword on Resource "*", which the function does
// not use (it generates keys itself).
func (s *TenancyStack) rotateAdminKeys() {
	fn := s.Functions[api.FnReset]
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("RotateAdminKeys"),
		Actions:   jsii.Strings("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"),
		Resources: jsii.Strings(*s.AdminSecret.SecretArn()),
	}))
	fn.AddPermission(jsii.String("SecretsManagerRotation"), &awslambda.Permission{
		Principal: awsiam.NewServicePrincipal(jsii.String("secretsmanager.amazonaws.com"), nil),
		SourceArn: s.AdminSecret.SecretArn(),
	})
	sched := awssecretsmanager.NewCfnRotationSchedule(s.Stack, jsii.String("AdminKeyRotation"), &awssecretsmanager.CfnRotationScheduleProps{
		SecretId:          s.AdminSecret.SecretArn(),
		RotationLambdaArn: fn.FunctionArn(),
		RotationRules: &awssecretsmanager.CfnRotationSchedule_RotationRulesProperty{
			AutomaticallyAfterDays: jsii.Number(schema.AdminKeyRotationDays),
		},
		// The first key is the generated one; rotate on schedule only.
		RotateImmediatelyOnUpdate: jsii.Bool(false),
	})
	// Secrets Manager must be allowed to invoke the function (and the role
	// to rotate) before the schedule exists.
	sched.Node().AddDependency(fn.Role())
	sched.Node().AddDependency(fn.Node().TryFindChild(jsii.String("SecretsManagerRotation")))
}

func (s *TenancyStack) newHTTPAPI(p TenancyStackProps) (awsapigatewayv2.HttpApi, awsapigatewayv2.HttpStage) {
	props := &awsapigatewayv2.HttpApiProps{
		ApiName:     jsii.String("tenancy-" + p.Stage),
		Description: jsii.String("OpenClaw tenancy API (" + p.Stage + ")"),
		// The $default stage is created below, with throttling.
		CreateDefaultStage: jsii.Bool(false),
	}
	if len(p.CorsOrigins) > 0 {
		props.CorsPreflight = &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins: jsii.Strings(p.CorsOrigins...),
			AllowHeaders: jsii.Strings("authorization", "content-type", strings.ToLower(api.IdempotencyHeader)),
			AllowMethods: corsMethods(),
			MaxAge:       awscdk.Duration_Hours(jsii.Number(1)),
		}
	}
	httpAPI := awsapigatewayv2.NewHttpApi(s.Stack, jsii.String("HttpApi"), props)
	stage := awsapigatewayv2.NewHttpStage(s.Stack, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    httpAPI,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(p.ThrottleRate),
			BurstLimit: jsii.Number(p.ThrottleBurst),
		},
	})
	// Access logs: one JSON line per request (AccessLogFields). HTTP APIs
	// write them with a service-linked role; no account setting is needed.
	s.AccessLogs = awslogs.NewLogGroup(s.Stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	stage.Node().DefaultChild().(awsapigatewayv2.CfnStage).SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: s.AccessLogs.LogGroupArn(),
		Format:         jsii.String(AccessLogFormat()),
	})

	// The authorizer labels each request with its principal (simple
	// responses). Its result is cached per Authorization header for 5
	// minutes: a revoked key may keep working that long.
	authorizer := awsapigatewayv2authorizers.NewHttpLambdaAuthorizer(jsii.String("KeyAuthorizer"), s.Functions[api.FnAuthorizer],
		&awsapigatewayv2authorizers.HttpLambdaAuthorizerProps{
			AuthorizerName:  jsii.String("tenancy-key"),
			ResponseTypes:   &[]awsapigatewayv2authorizers.HttpLambdaResponseType{awsapigatewayv2authorizers.HttpLambdaResponseType_SIMPLE},
			IdentitySource:  jsii.Strings("$request.header.Authorization"),
			ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(AuthorizerCacheTTLSeconds)),
		})

	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	for _, r := range api.Routes {
		in, ok := integrations[r.Function]
		if !ok {
			fn, found := s.Functions[r.Function]
			if !found || r.Function == api.FnAuthorizer || r.Function == api.FnReset {
				panic(fmt.Sprintf("stack: route %s %s names function %q, which does not serve HTTP", r.Method, r.Path, r.Function))
			}
			in = awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(FunctionLogicalID(r.Function)+"Integration"), fn, nil)
			integrations[r.Function] = in
		}
		var auth awsapigatewayv2.IHttpRouteAuthorizer = authorizer
		reason := ""
		if r.Access == api.Public {
			auth = awsapigatewayv2.NewHttpNoneAuthorizer()
			if reason = PublicRoutes[r.Method+" "+r.Path]; reason == "" {
				panic(fmt.Sprintf("stack: public route %s %s has no reason in PublicRoutes", r.Method, r.Path))
			}
		}
		routes := httpAPI.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{httpMethod(r.Method)},
			Integration: in,
			Authorizer:  auth,
		})
		if reason != "" {
			for _, rt := range *routes {
				cdknag.NagSuppressions_AddResourceSuppressions(rt, &[]*cdknag.NagPackSuppression{
					{Id: jsii.String("AwsSolutions-APIG4"), Reason: jsii.String(reason)},
				}, jsii.Bool(false))
			}
		}
	}
	return httpAPI, stage
}

func httpMethod(m string) awsapigatewayv2.HttpMethod {
	switch hm := awsapigatewayv2.HttpMethod(m); hm {
	case awsapigatewayv2.HttpMethod_GET, awsapigatewayv2.HttpMethod_POST, awsapigatewayv2.HttpMethod_PUT,
		awsapigatewayv2.HttpMethod_PATCH, awsapigatewayv2.HttpMethod_DELETE, awsapigatewayv2.HttpMethod_HEAD:
		return hm
	}
	panic(fmt.Sprintf("stack: unsupported HTTP method %q in api.Routes", m))
}

// corsMethods are the methods api.Routes uses.
func corsMethods() *[]awsapigatewayv2.CorsHttpMethod {
	seen := map[string]bool{}
	var ms []string
	for _, r := range api.Routes {
		if !seen[r.Method] {
			seen[r.Method] = true
			ms = append(ms, r.Method)
		}
	}
	sort.Strings(ms)
	out := make([]awsapigatewayv2.CorsHttpMethod, len(ms))
	for i, m := range ms {
		out[i] = awsapigatewayv2.CorsHttpMethod(m)
	}
	return &out
}

// SettlingFunctions settle calls (execute; reset and the manual reset of
// tenants reconcile), so they raise budget alerts and may put them on
// AlertBus.
var SettlingFunctions = []string{api.FnExecute, api.FnTenants, api.FnReset}

// AlertBus is the EventBridge bus budget alerts go to.
const AlertBus = "default"

// newSchedule invokes reset at minute 0 of every hour: each run rolls over
// the tenants whose local midnight has passed. EventBridge retries
// handing the event to Lambda and, failing that, puts it in the dead-letter
// queue; failed runs are retried by Lambda and end in the same queue (see
// newFunction). The reset is idempotent, so retries are safe; any message
// in the queue alarms.
func (s *TenancyStack) newSchedule() awsevents.Rule {
	rule := awsevents.NewRule(s.Stack, jsii.String("DailyReset"), &awsevents.RuleProps{
		Description: jsii.String("Hourly rollover of the tenants whose local midnight has passed"),
		Schedule:    awsevents.Schedule_Cron(&awsevents.CronOptions{Minute: jsii.String("0"), Hour: jsii.String("*")}),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(s.Functions[api.FnReset], &awseventstargets.LambdaFunctionProps{
		RetryAttempts:   jsii.Number(4),
		MaxEventAge:     awscdk.Duration_Hours(jsii.Number(2)),
		DeadLetterQueue: s.DeadLetters,
	}))
	return rule
}

// newAlarmTopic is the SNS topic every alarm notifies, TLS-only, with an
// email subscription when email is set. It has no KMS key: CloudWatch alarms
// cannot publish to a topic under the AWS managed key (its key policy cannot
// grant them), and alarm messages hold no secrets.
func (s *TenancyStack) newAlarmTopic(email string) awssns.Topic {
	t := awssns.NewTopic(s.Stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("tenancy alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	if email != "" {
		t.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	return t
}

// alarms: every function's errors and throttles, DynamoDB throttling on the
// operations the code uses, and any message in the dead-letter queue; each
// notifies the alarm topic.
func (s *TenancyStack) alarms() {
	notify := awscloudwatchactions.NewSnsAction(s.AlarmTopic)
	alarm := func(id, desc string, m awscloudwatch.IMetric, threshold float64, op awscloudwatch.ComparisonOperator) {
		a := awscloudwatch.NewAlarm(s.Stack, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric:             m,
			AlarmDescription:   jsii.String(desc),
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: op,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(notify)
	}
	five := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}
	for _, fn := range api.Functions {
		f, lid := s.Functions[fn], FunctionLogicalID(fn)
		alarm(lid+"ErrorsAlarm", "tenancy "+fn+": function errors", f.MetricErrors(five), 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
		alarm(lid+"ThrottlesAlarm", "tenancy "+fn+": throttled invocations", f.MetricThrottles(five), 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	}
	alarm("TableThrottlesAlarm", "tenancy table: throttled requests",
		s.Table.MetricThrottledRequestsForOperations(&awsdynamodb.OperationsMetricOptions{
			Operations: tableOperations(),
			Period:     awscdk.Duration_Minutes(jsii.Number(5)),
		}), 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
	alarm("ResetDeadLettersAlarm", "tenancy: a daily reset event failed all retries (see the dead-letter queue)",
		s.DeadLetters.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum"),
		}), 0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)
}

// tableOperations are the DynamoDB operations the functions may call, from
// schema.FunctionActions ("dynamodb:BatchGetItem" -> BATCH_GET_ITEM), plus
// TransactWriteItems: transactions have no IAM action of their own but are
// their own operation in the ThrottledRequests metric. ConditionCheckItem is
// only ever part of a transaction, not an operation.
func tableOperations() *[]awsdynamodb.Operation {
	seen := map[string]bool{"TRANSACT_WRITE_ITEMS": true}
	for _, actions := range schema.FunctionActions {
		for _, a := range actions {
			if name := strings.TrimPrefix(a, "dynamodb:"); name != "ConditionCheckItem" {
				seen[upperSnake(name)] = true
			}
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	ops := make([]awsdynamodb.Operation, len(names))
	for i, n := range names {
		ops[i] = awsdynamodb.Operation(n)
	}
	return &ops
}

func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// pin gives a construct's CloudFormation resource a fixed logical id.
func pin(c constructs.IConstruct, id string) {
	c.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(id))
}
