package dynamostore

import (
	"context"
	"sync"
	"sync/atomic"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// Counter counts the DynamoDB requests a client sends (every attempt,
// retries included), as reads and writes and per operation.
type Counter struct {
	reads, writes atomic.Int64
	mu            sync.Mutex
	byOp          map[string]int64
}

var writeOps = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true,
	"TransactWriteItems": true, "BatchWriteItem": true}

var readOps = map[string]bool{"GetItem": true, "Query": true, "Scan": true,
	"BatchGetItem": true, "TransactGetItems": true}

// Option installs the counter on a client: dynamodb.New(opts, c.Option).
func (c *Counter) Option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("CountRequests",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c.count(awsmiddleware.GetOperationName(ctx))
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

func (c *Counter) count(op string) {
	switch {
	case writeOps[op]:
		c.writes.Add(1)
	case readOps[op]:
		c.reads.Add(1)
	}
	c.mu.Lock()
	if c.byOp == nil {
		c.byOp = map[string]int64{}
	}
	c.byOp[op]++
	c.mu.Unlock()
}

// Reads is the number of read requests so far.
func (c *Counter) Reads() int64 { return c.reads.Load() }

// Writes is the number of write requests so far.
func (c *Counter) Writes() int64 { return c.writes.Load() }

// ByOperation is a copy of the per-operation counts.
func (c *Counter) ByOperation() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.byOp))
	for k, v := range c.byOp {
		out[k] = v
	}
	return out
}

// Reset zeroes the counts.
func (c *Counter) Reset() {
	c.reads.Store(0)
	c.writes.Store(0)
	c.mu.Lock()
	c.byOp = nil
	c.mu.Unlock()
}
