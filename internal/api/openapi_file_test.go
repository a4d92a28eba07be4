package api

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var updateOpenAPI = flag.Bool("update", false, "rewrite openapi.json from the route docs")

// The Lambda binaries serve openapi.json (openapi_lambda.go): it must be the
// document the route docs build. `make openapi` rewrites it.
func TestOpenAPIFile(t *testing.T) {
	built, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	if *updateOpenAPI {
		if err := os.WriteFile("openapi.json", built, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, built) {
		t.Fatal("internal/api/openapi.json is not the document the route docs build: run make openapi")
	}
}
