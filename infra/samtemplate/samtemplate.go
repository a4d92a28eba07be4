// Package samtemplate turns the synthesized CloudFormation template of the
// CDK stack (infra/stack) into template.yaml: a SAM template for running the
// same functions locally (`sam local invoke -t template.yaml Execute -e
// events/execute.json`), with code at the local build output of `make
// build` instead of CDK's S3 assets.
//
// What it keeps from the synth: each function's runtime, architecture,
// handler, memory, timeout, logging format and environment, and the table.
// References to stack resources in the environment (the table name, secret
// names) become template parameters with local defaults. Two local-only
// variables are declared too, because SAM passes a function only the
// variables its template declares: DYNAMODB_ENDPOINT (a local DynamoDB) on
// every function and TENANCY_ADMIN_KEY (the admin key itself) wherever the
// admin key secret is named. Roles, the API, the schedule and alarms stay in
// the CDK stack: this template is for local runs, not for deployment.
//
// The package needs no CDK, so `make template` compiles in seconds.
//
// YAML: gopkg.in/yaml.v3 was already in the module graph (a dependency of
// aws-lambda-go and minidyn); emitting JSON would have been valid YAML too,
// but SAM users read and edit template.yaml by hand.
package samtemplate

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/schema"
)

// TableLogicalID is the table's logical id, in the stack and in template.yaml.
const TableLogicalID = "Table"

// CodeRoot is where `make build` puts <fn>/bootstrap, relative to the repo
// root (where template.yaml lives).
const CodeRoot = "bin/lambda"

// LogicalID is a function's logical id, in the stack and in template.yaml:
// "execute" -> "Execute".
func LogicalID(fn string) string {
	if fn == "" {
		return ""
	}
	return strings.ToUpper(fn[:1]) + fn[1:]
}

// parameter is a template parameter standing for a stack reference.
type parameter struct {
	Name, Default, Description string
	NoEcho                     bool
}

// refParams: the parameter that replaces a reference in an env variable.
var refParams = map[string]parameter{
	schema.EnvTable:          {"TableName", schema.DefaultTableName, "DynamoDB table the functions use", false},
	schema.EnvAdminKeySecret: {"AdminKeySecretName", "", "Secrets Manager secret holding the admin key (empty: use AdminKey)", false},
	schema.EnvProviderSecret: {"ProviderKeysSecretName", "", "Secrets Manager secret holding the provider keys (empty: none)", false},
}

// Local-only variables.
var (
	endpointParam = parameter{"DynamoDBEndpoint", "", "Local DynamoDB endpoint, e.g. http://host.docker.internal:8000 (empty: AWS)", false}
	adminKeyParam = parameter{"AdminKey", "", "The admin key itself, for local runs without Secrets Manager", true}
)

// Generate converts the stack's synthesized template (decoded JSON) into
// template.yaml.
func Generate(cfn map[string]any) ([]byte, error) {
	resources, _ := cfn["Resources"].(map[string]any)
	if resources == nil {
		return nil, fmt.Errorf("samtemplate: the template has no Resources")
	}
	want := map[string]string{} // logical id -> function
	for _, fn := range api.Functions {
		want[LogicalID(fn)] = fn
	}
	for id, r := range resources {
		if typeOf(r) == "AWS::Lambda::Function" && want[id] == "" {
			return nil, fmt.Errorf("samtemplate: function %s is not one of api.Functions (logical ids must be pinned)", id)
		}
	}

	params := map[string]parameter{}
	out := map[string]any{}
	for _, fn := range api.Functions {
		id := LogicalID(fn)
		r, ok := resources[id].(map[string]any)
		if !ok || typeOf(r) != "AWS::Lambda::Function" {
			return nil, fmt.Errorf("samtemplate: no AWS::Lambda::Function %s in the template", id)
		}
		f, err := function(fn, props(r), params)
		if err != nil {
			return nil, fmt.Errorf("samtemplate: %s: %w", id, err)
		}
		out[id] = f
	}

	table, ok := resources[TableLogicalID].(map[string]any)
	if !ok || typeOf(table) != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("samtemplate: no AWS::DynamoDB::Table %s in the template", TableLogicalID)
	}
	tp := map[string]any{}
	for k, v := range props(table) {
		if k != "Tags" {
			tp[k] = v
		}
	}
	tp["TableName"] = ref(refParams[schema.EnvTable].Name)
	params[refParams[schema.EnvTable].Name] = refParams[schema.EnvTable]
	out[TableLogicalID] = resource{
		Type:                "AWS::DynamoDB::Table",
		DeletionPolicy:      table["DeletionPolicy"],
		UpdateReplacePolicy: table["UpdateReplacePolicy"],
		Properties:          tp,
	}

	doc := document{
		AWSTemplateFormatVersion: "2010-09-09",
		Transform:                "AWS::Serverless-2016-10-31",
		Description:              "OpenClaw tenancy functions for local runs (sam local invoke). Generated from the CDK stack by make template; do not edit.",
		Parameters:               map[string]templateParameter{},
		Resources:                out,
	}
	for _, p := range params {
		doc.Parameters[p.Name] = templateParameter{Type: "String", Default: p.Default, Description: p.Description, NoEcho: p.NoEcho}
	}

	var b bytes.Buffer
	b.WriteString("# Generated by `make template` from the CDK stack (infra/stack) via infra/samtemplate: do not edit.\n")
	b.WriteString("# Local runs of the Lambda functions built by `make build`, for users who have AWS SAM:\n")
	b.WriteString("#   sam local invoke -t template.yaml Execute -e events/execute.json \\\n")
	b.WriteString("#     --parameter-overrides DynamoDBEndpoint=http://host.docker.internal:8000\n")
	b.WriteString("# Deploy with the CDK stack (make deploy), not with this template.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	return b.Bytes(), nil
}

// document fixes the order of the top-level keys (maps below are sorted).
type document struct {
	AWSTemplateFormatVersion string                       `yaml:"AWSTemplateFormatVersion"`
	Transform                string                       `yaml:"Transform"`
	Description              string                       `yaml:"Description"`
	Parameters               map[string]templateParameter `yaml:"Parameters"`
	Resources                map[string]any               `yaml:"Resources"`
}

type templateParameter struct {
	Type        string `yaml:"Type"`
	Default     string `yaml:"Default"`
	Description string `yaml:"Description"`
	NoEcho      bool   `yaml:"NoEcho,omitempty"`
}

type resource struct {
	Type                string         `yaml:"Type"`
	DeletionPolicy      any            `yaml:"DeletionPolicy,omitempty"`
	UpdateReplacePolicy any            `yaml:"UpdateReplacePolicy,omitempty"`
	Properties          map[string]any `yaml:"Properties"`
}

type serverlessFunction struct {
	Type       string             `yaml:"Type"`
	Properties functionProperties `yaml:"Properties"`
}

type functionProperties struct {
	Description   any            `yaml:"Description,omitempty"`
	CodeUri       string         `yaml:"CodeUri"`
	Handler       any            `yaml:"Handler"`
	Runtime       any            `yaml:"Runtime"`
	Architectures any            `yaml:"Architectures"`
	MemorySize    any            `yaml:"MemorySize"`
	Timeout       any            `yaml:"Timeout"`
	LoggingConfig map[string]any `yaml:"LoggingConfig,omitempty"`
	Environment   map[string]any `yaml:"Environment"`
}

func function(fn string, p map[string]any, params map[string]parameter) (serverlessFunction, error) {
	for _, k := range []string{"Handler", "Runtime", "Architectures", "MemorySize", "Timeout"} {
		if p[k] == nil {
			return serverlessFunction{}, fmt.Errorf("no %s", k)
		}
	}
	vars := map[string]any{}
	env, _ := p["Environment"].(map[string]any)
	src, _ := env["Variables"].(map[string]any)
	names := make([]string, 0, len(src))
	for k := range src {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch v := src[k].(type) {
		case string:
			vars[k] = v
		default: // a reference to a stack resource
			param, ok := refParams[k]
			if !ok {
				return serverlessFunction{}, fmt.Errorf("env %s refers to a stack resource and has no template parameter (add it to refParams)", k)
			}
			vars[k] = ref(param.Name)
			params[param.Name] = param
		}
		if k == schema.EnvAdminKeySecret {
			vars[schema.EnvAdminKey] = ref(adminKeyParam.Name)
			params[adminKeyParam.Name] = adminKeyParam
		}
	}
	vars[schema.EnvEndpoint] = ref(endpointParam.Name)
	params[endpointParam.Name] = endpointParam

	var logging map[string]any
	if lc, ok := p["LoggingConfig"].(map[string]any); ok {
		logging = map[string]any{}
		for k, v := range lc {
			if k != "LogGroup" { // the stack's log group; SAM local logs to the terminal
				logging[k] = v
			}
		}
	}
	return serverlessFunction{
		Type: "AWS::Serverless::Function",
		Properties: functionProperties{
			Description:   p["Description"],
			CodeUri:       path.Join(CodeRoot, fn),
			Handler:       p["Handler"],
			Runtime:       p["Runtime"],
			Architectures: p["Architectures"],
			MemorySize:    p["MemorySize"],
			Timeout:       p["Timeout"],
			LoggingConfig: logging,
			Environment:   map[string]any{"Variables": vars},
		},
	}, nil
}

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func typeOf(r any) string {
	m, _ := r.(map[string]any)
	t, _ := m["Type"].(string)
	return t
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}
