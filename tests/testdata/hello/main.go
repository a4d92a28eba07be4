// Command hello is the smallest aws-lambda-go function: the cold-start
// benchmark's baseline for the emulator and process start-up alone.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (string, error) { return "hello", nil })
}
