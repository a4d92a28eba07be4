package ddblocal

import (
	"context"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// Faults fails chosen DynamoDB operations on the client side, on every
// attempt (so the SDK's retries see each failure): throttling, or any error,
// for a number of attempts or until cleared. minidyn's server-side emulation
// fails whole tables; this fails one operation.
type Faults struct {
	mu    sync.Mutex
	rules map[string]*fault
	hits  map[string]int
}

type fault struct {
	remaining int // < 0: until cleared
	err       error
}

// Option installs the faults on a client.
func (f *Faults) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("InjectFaults",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if err := f.take(awsmiddleware.GetOperationName(ctx)); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

// Fail makes the next times attempts of op fail with err (times < 0: until Clear).
func (f *Faults) Fail(op string, times int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rules == nil {
		f.rules, f.hits = map[string]*fault{}, map[string]int{}
	}
	f.rules[op] = &fault{remaining: times, err: err}
}

// Clear removes every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	f.rules = nil
	f.mu.Unlock()
}

// Hits is how many attempts of op were failed.
func (f *Faults) Hits(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[op]
}

func (f *Faults) take(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rules[op]
	if r == nil || r.remaining == 0 {
		return nil
	}
	if r.remaining > 0 {
		r.remaining--
	}
	f.hits[op]++
	return r.err
}
