package samtemplate

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/openclaw/tenancy/internal/api"
	"github.com/openclaw/tenancy/internal/schema"
)

// fixture is a minimal synthesized template: the six functions and the table.
func fixture() map[string]any {
	res := map[string]any{
		"Table": map[string]any{"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
			"Properties": map[string]any{"BillingMode": "PAY_PER_REQUEST", "Tags": []any{"x"}}},
		"SomeRole": map[string]any{"Type": "AWS::IAM::Role"},
	}
	for _, fn := range api.Functions {
		vars := map[string]any{schema.EnvTable: map[string]any{"Ref": "Table"}}
		if fn == api.FnAuthorizer {
			vars[schema.EnvAdminKeySecret] = map[string]any{"Fn::Join": []any{"-", []any{"a", "b"}}}
		}
		if fn == api.FnExecute {
			vars["PLAIN"] = "value"
		}
		res[LogicalID(fn)] = map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{
			"Handler": "bootstrap", "Runtime": "provided.al2023", "Architectures": []any{"arm64"},
			"MemorySize": 128.0, "Timeout": 5.0, "Code": map[string]any{"S3Key": "abc.zip"},
			"LoggingConfig": map[string]any{"LogFormat": "JSON", "LogGroup": map[string]any{"Ref": "Logs"}},
			"Environment":   map[string]any{"Variables": vars},
		}}
	}
	return map[string]any{"Resources": res}
}

func TestGenerate(t *testing.T) {
	b, err := Generate(fixture())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Transform  string                    `yaml:"Transform"`
		Parameters map[string]map[string]any `yaml:"Parameters"`
		Resources  map[string]struct {
			Type       string         `yaml:"Type"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Transform != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform %q", doc.Transform)
	}
	if len(doc.Resources) != len(api.Functions)+1 {
		t.Errorf("%d resources, want the functions and the table", len(doc.Resources))
	}
	for _, fn := range api.Functions {
		r := doc.Resources[LogicalID(fn)]
		if r.Type != "AWS::Serverless::Function" || r.Properties["CodeUri"] != "bin/lambda/"+fn || r.Properties["Code"] != nil {
			t.Errorf("%s: %v %v", fn, r.Type, r.Properties)
		}
		if lc := r.Properties["LoggingConfig"].(map[string]any); lc["LogGroup"] != nil || lc["LogFormat"] != "JSON" {
			t.Errorf("%s: LoggingConfig %v", fn, lc)
		}
		vars := r.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		if v := vars[schema.EnvTable].(map[string]any); v["Ref"] != "TableName" {
			t.Errorf("%s: %s = %v", fn, schema.EnvTable, v)
		}
		if v := vars[schema.EnvEndpoint].(map[string]any); v["Ref"] != "DynamoDBEndpoint" {
			t.Errorf("%s: %s = %v", fn, schema.EnvEndpoint, v)
		}
		_, hasKey := vars[schema.EnvAdminKey]
		if hasKey != (fn == api.FnAuthorizer) {
			t.Errorf("%s: %s declared = %v", fn, schema.EnvAdminKey, hasKey)
		}
	}
	if vars := doc.Resources["Execute"].Properties["Environment"].(map[string]any)["Variables"].(map[string]any); vars["PLAIN"] != "value" {
		t.Errorf("plain env value not kept: %v", vars)
	}
	table := doc.Resources["Table"].Properties
	if table["Tags"] != nil || table["TableName"].(map[string]any)["Ref"] != "TableName" {
		t.Errorf("table %v", table)
	}
	if doc.Parameters["TableName"]["Default"] != schema.DefaultTableName || doc.Parameters["AdminKey"]["NoEcho"] != true {
		t.Errorf("parameters %v", doc.Parameters)
	}
	again, _ := Generate(fixture())
	if string(again) != string(b) {
		t.Errorf("output is not deterministic")
	}
}

func TestGenerateErrors(t *testing.T) {
	for name, c := range map[string]struct {
		mutate func(res map[string]any)
		want   string
	}{
		"unpinned function": {func(res map[string]any) { res["ExecuteABC123"] = res["Execute"]; delete(res, "Execute") }, "not one of api.Functions"},
		"missing function":  {func(res map[string]any) { delete(res, "Reset") }, "no AWS::Lambda::Function Reset"},
		"missing table":     {func(res map[string]any) { delete(res, "Table") }, "no AWS::DynamoDB::Table"},
		"unknown reference": {func(res map[string]any) {
			p := res["Agents"].(map[string]any)["Properties"].(map[string]any)
			p["Environment"].(map[string]any)["Variables"].(map[string]any)["QUEUE"] = map[string]any{"Ref": "Q"}
		}, "env QUEUE refers to a stack resource"},
	} {
		cfn := fixture()
		c.mutate(cfn["Resources"].(map[string]any))
		if _, err := Generate(cfn); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
}
