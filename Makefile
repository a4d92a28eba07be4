# Every command the README shows is a target here. Tools the tests need are
# installed into .tools/ by the targets that need them (never by hand).
SHELL := /bin/bash
GO ?= go
FUNCTIONS := tenants agents execute reports reset authorizer
TOOLS := $(CURDIR)/.tools/bin
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export CDK_DISABLE_CLI_TELEMETRY := 1
STAGE ?= dev
CORS_ORIGINS ?=
CDK_VERSION := 2.1148
# The CDK CLI lives under .tools/ (ignored by `go ... ./...`: a node_modules at the root would
# put aws-cdk's Go init templates into ./... and break go vet)
REDOCLY_VERSION := 2.77.0
REDOCLY := $(CURDIR)/.tools/redocly/node_modules/.bin/redocly
CDK_DIR := $(CURDIR)/.tools/cdk
CDK := $(CDK_DIR)/node_modules/.bin/cdk
CFN_LINT_VERSION := 1.51.0

.PHONY: all build build-host run test vet synth deploy template load bench bench-store tools cfn-lint chromium screenshots clean client openapi lint-openapi

all: build

## build: the six Lambda binaries for AWS (linux/arm64, stripped) in bin/lambda/<fn>/bootstrap
build:
	@for f in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
	    -o bin/lambda/$$f/bootstrap ./functions/$$f || exit 1; done

## build-host: the same binaries for this machine, to run under the Lambda runtime emulator
build-host:
	@for f in $(FUNCTIONS); do \
	  CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' \
	    -o bin/host/$$f/bootstrap ./functions/$$f || exit 1; done

## tools: the AWS Lambda Runtime Interface Emulator, built from the Go module proxy
tools: $(TOOLS)/aws-lambda-rie
$(TOOLS)/aws-lambda-rie:
	GOBIN=$(TOOLS) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## cfn-lint: cfn-lint (with the SAM translator) for the template tests; installed with pip when
## neither the command nor the Python module is there (the tests run either)
cfn-lint:
	@command -v cfn-lint >/dev/null 2>&1 || python3 -c 'import cfnlint' 2>/dev/null || \
	  python3 -m pip install --quiet 'cfn-lint==$(CFN_LINT_VERSION)' || \
	  python3 -m pip install --quiet --user --break-system-packages 'cfn-lint==$(CFN_LINT_VERSION)'
	@python3 -c 'import cfnlint.version as v; print("cfn-lint", v.__version__)' 2>/dev/null || cfn-lint --version

## chromium: Debian's chromium for the console's browser tests (apt-get, as root or with sudo)
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
chromium: $(CHROMIUM)
$(CHROMIUM):
	$(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

## screenshots: the console's screenshots (internal/console/screenshots/*.png, shown in the README),
## taken by its browser test at 1440 and 360 px wide
screenshots: $(CHROMIUM)
	CONSOLE_SCREENSHOTS=1 $(GO) test -count=1 -run TestConsoleInBrowser ./internal/console/

## run: the API on http://127.0.0.1:3000 on the persistent embedded store (TENANCY_STORE=bolt, data in
## TENANCY_DATA_DIR, default .data/); TENANCY_STORE=memory (minidyn) or dynamodb (DYNAMODB_ENDPOINT)
run:
	$(GO) run ./cmd/tenancy-local

## load: concurrent executes against a fresh local API; prints a table and a JSON line, fails on a broken invariant
load:
	$(GO) run ./cmd/load $(LOAD_FLAGS)

## bench: first issue 15's targets, each figure next to its goal, in one run (execute overhead
## through the local API against a fake model answering from memory, one at a time and at 16
## concurrent clients, executes/s, allocations per execute in the handler, Lambda init over the
## smallest function); then DynamoDB requests per execute, allocations through the handler, and
## each function's size and cold start under the runtime emulator (BENCH_FLAGS="-count 3" to repeat)
bench: build build-host tools
	set -o pipefail; TENANCY_BENCH=1 RIE=$(TOOLS)/aws-lambda-rie BOOTSTRAP_DIR=$(CURDIR)/bin/host $(GO) test -count=1 \
	  -run '^TestPerformanceTargets$$' -v ./tests/ | grep -v -E '^(=== RUN|--- PASS|PASS|ok )'
	$(GO) test -run '^$$' -bench ExecuteAccounting -benchtime 2000x $(BENCH_FLAGS) ./internal/dynamostore/
	RIE=$(TOOLS)/aws-lambda-rie BOOTSTRAP_DIR=$(CURDIR)/bin/host $(GO) test -run '^$$' \
	  -bench 'ExecuteHandler|ExecuteOverhead|StreamTTFB' -benchtime 2000x $(BENCH_FLAGS) ./tests/
	RIE=$(TOOLS)/aws-lambda-rie BOOTSTRAP_DIR=$(CURDIR)/bin/host $(GO) test -run '^$$' \
	  -bench ColdStart -benchtime 10x $(BENCH_FLAGS) ./tests/

## client: internal/api/openapi.json (make openapi) and internal/apiclient/client.gen.go, the Go client
## oapi-codegen generates from it (go run of the pinned version); make test fails when either is stale
client: openapi
	$(GO) test -count=1 -run '^TestClientRegenerates$$' ./internal/apiclient -update

## openapi: rewrites internal/api/openapi.json, the OpenAPI document the Lambda binaries serve
## (they do not link kin-openapi, whose init takes milliseconds of every cold start)
openapi:
	$(GO) test -count=1 -run '^TestOpenAPIFile$$' ./internal/api/ -update

## lint-openapi: Redocly CLI's recommended rules, all as errors (redocly.yaml), on the served document
## (internal/api/openapi.json, which TestOpenAPIFile keeps equal to it); offline once installed
lint-openapi: $(REDOCLY)
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(REDOCLY) lint internal/api/openapi.json

$(REDOCLY):
	mkdir -p $(CURDIR)/.tools/redocly
	npm install --prefix $(CURDIR)/.tools/redocly --no-save --no-audit --no-fund --no-package-lock @redocly/cli@$(REDOCLY_VERSION)

## bench-store: the local API at scale on the default store (10,000 tenants with 2 agents, 1 key and
## 30 days of history each) and on the in-memory minidyn (100 tenants) in one run: execute p50/p99 empty
## vs full, GET tenant, list, registration first vs last 1,000 (STORE_BENCH_TENANTS,
## STORE_BENCH_MEMORY_TENANTS change the sizes)
bench-store:
	$(GO) test -run '^$$' -bench StoreAtScale -benchtime 1x -timeout 60m $(BENCH_FLAGS) ./tests/

vet:
	$(GO) vet ./...

## test: vet, then every test with the race detector (store suite on minidyn, bolt and moto); the CDK
## stack's tests (infra/) without it: they are single-threaded, and a race build of the CDK
## packages is a second ~3 min cold compile on top of the one go vet already made. The infra
## tests also run cdk-nag's AwsSolutions pack and cfn-lint on the synth and on template.yaml; the
## console's browser tests need chromium (installed when missing)
test: vet lint-openapi tools build-host cfn-lint $(CHROMIUM)
	RIE=$(TOOLS)/aws-lambda-rie BOOTSTRAP_DIR=$(CURDIR)/bin/host $(GO) test -race -count=1 $$($(GO) list -e ./... | grep -v -E '/infra(/|$$)')
	$(GO) test -count=1 ./infra/...

## synth: CloudFormation of stage $(STAGE) in cdk.out/Tenancy-$(STAGE).template.json, offline (no AWS
## credentials, no network, no CDK CLI); CORS_ORIGINS=https://a.example,https://b.example enables CORS
synth: build
	CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"stage":"$(STAGE)","corsOrigins":"$(CORS_ORIGINS)"}' $(GO) run ./infra
	@echo "cdk.out/Tenancy-$(STAGE).template.json"

## template: template.yaml (SAM, for sam local invoke) from the synth of the dev stage
template: STAGE = dev
template: CORS_ORIGINS =
template: synth
	$(GO) run ./infra/cmd/samtemplate -in cdk.out/Tenancy-dev.template.json -out template.yaml

## deploy: cdk deploy of stage $(STAGE) (needs AWS credentials and a bootstrapped account/region:
## .tools/cdk/node_modules/.bin/cdk bootstrap); the CDK CLI is installed from npm into .tools/cdk,
## never fetched by npx at run time
deploy: build $(CDK)
	$(CDK) deploy -c stage=$(STAGE) $(if $(CORS_ORIGINS),-c corsOrigins=$(CORS_ORIGINS)) $(DEPLOY_FLAGS)

$(CDK):
	mkdir -p $(CDK_DIR)
	npm install --prefix $(CDK_DIR) --no-save --no-audit --no-fund --no-package-lock aws-cdk@$(CDK_VERSION)

clean:
	rm -rf bin cdk.out .tools
