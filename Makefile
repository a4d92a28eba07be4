# Every command the README shows is a target here. Tools the tests need are
# installed into .tools/ by the targets that need them (never by hand).
SHELL := /bin/bash
GO ?= go
FUNCTIONS := tenants agents execute reports reset authorizer
TOOLS := $(CURDIR)/.tools/bin
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export CDK_DISABLE_CLI_TELEMETRY := 1

.PHONY: all build build-host run test vet synth deploy template load bench tools clean

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

## run: the API on http://127.0.0.1:3000 with the embedded DynamoDB
run:
	$(GO) run ./cmd/tenancy-local

## load: concurrent executes against a fresh local API; prints a table and a JSON line, fails on a broken invariant
load:
	$(GO) run ./cmd/load $(LOAD_FLAGS)

vet:
	$(GO) vet ./...

## test: vet, then every test with the race detector (store suite on minidyn and moto)
test: vet tools build-host
	RIE=$(TOOLS)/aws-lambda-rie BOOTSTRAP_DIR=$(CURDIR)/bin/host $(GO) test -race -count=1 ./...

clean:
	rm -rf bin cdk.out .tools
