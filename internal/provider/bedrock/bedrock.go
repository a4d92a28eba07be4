// Package bedrock is the Amazon Bedrock provider (the Converse and
// ConverseStream APIs). It is a package of its own so that the domain, which
// knows providers only through the provider.Provider interface, links no AWS
// SDK package.
package bedrock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/openclaw/tenancy/internal/provider"
)

// ConverseAPI is the part of the Bedrock Runtime client this provider uses:
// Converse for Complete, ConverseStream for Stream. *bedrockruntime.Client
// implements it.
type ConverseAPI interface {
	Converse(ctx context.Context, in *bedrockruntime.ConverseInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseOutput, error)
	ConverseStream(ctx context.Context, in *bedrockruntime.ConverseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error)
}

// Provider calls models on Amazon Bedrock through the Converse API, with the
// function's IAM credentials. Request.ProviderModelID is the Bedrock model or
// inference profile id (e.g. "us.anthropic.claude-sonnet-4-20250514-v1:0").
type Provider struct {
	client ConverseAPI
	opts   provider.Options
	// openStream starts a ConverseStream call and returns its event stream:
	// client.ConverseStream, or in tests a stream built with
	// bedrockruntime.NewConverseStreamEventStream on a fake Reader (the
	// SDK's output type cannot be built outside the SDK).
	openStream func(ctx context.Context, in *bedrockruntime.ConverseStreamInput) (*bedrockruntime.ConverseStreamEventStream, error)
}

var (
	_ provider.Provider = (*Provider)(nil)
	_ provider.Streamer = (*Provider)(nil)
)

// New builds the Bedrock provider on a Bedrock Runtime client.
//
// Retries: the SDK's own retryer is switched off for these calls
// (aws.NopRetryer) and the provider's RetryPolicy retries instead, so there
// is one retry loop, the same for every provider, that honours the call
// deadline. The SDK's error classification still decides which network
// errors are transient.
func New(client ConverseAPI, opts provider.Options) *Provider {
	b := &Provider{client: client, opts: opts}
	b.openStream = func(ctx context.Context, in *bedrockruntime.ConverseStreamInput) (*bedrockruntime.ConverseStreamEventStream, error) {
		out, err := client.ConverseStream(ctx, in, noSDKRetries)
		if err != nil {
			return nil, err
		}
		return out.GetStream(), nil
	}
	return b
}

// Name implements provider.Provider.
func (*Provider) Name() string { return "bedrock" }

func noSDKRetries(o *bedrockruntime.Options) { o.Retryer = aws.NopRetryer{} }

// Complete implements provider.Provider.
func (b *Provider) Complete(ctx context.Context, req provider.Request) (provider.Response, error) {
	in, err := converseInput(req)
	if err != nil {
		return provider.Response{}, err
	}
	var out provider.Response
	err = b.opts.Call(ctx, "bedrock", func(ctx context.Context) error {
		co, err := b.client.Converse(ctx, in, noSDKRetries)
		if err != nil {
			return bedrockError(err)
		}
		r, err := parseConverse(co)
		out = r
		return err
	})
	return out, err
}

// converseInput is the Converse request for req: the system prompt, the
// history and the query, and max_tokens.
func converseInput(req provider.Request) (*bedrockruntime.ConverseInput, error) {
	if err := provider.CheckRequest("bedrock", req); err != nil {
		return nil, err
	}
	if req.MaxTokens > math.MaxInt32 {
		return nil, fmt.Errorf("bedrock: max_tokens %d is out of range: %w", req.MaxTokens, provider.ErrUpstream)
	}
	in := &bedrockruntime.ConverseInput{
		ModelId:         aws.String(provider.ModelID(req)),
		Messages:        converseMessages(req),
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(req.MaxTokens))},
	}
	if req.SystemPrompt != "" {
		in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: req.SystemPrompt}}
	}
	return in, nil
}

// Stream implements provider.Streamer with ConverseStream: each text
// contentBlockDelta goes to onDelta as it arrives, and the metadata event
// (sent last) carries the usage, counted as Converse counts it. An exception
// event in the stream (modelStreamErrorException, throttlingException...) ends
// it with that error, mapped like Converse's; it is retried only when nothing
// was streamed yet. A cancelled ctx stops reading at once.
func (b *Provider) Stream(ctx context.Context, req provider.Request, onDelta func(string) error) (provider.Response, error) {
	cin, err := converseInput(req)
	if err != nil {
		return provider.Response{}, err
	}
	in := &bedrockruntime.ConverseStreamInput{ModelId: cin.ModelId, Messages: cin.Messages,
		InferenceConfig: cin.InferenceConfig, System: cin.System}
	var usage *provider.Usage
	content, err := b.opts.StreamCall(ctx, "bedrock", onDelta, func(ctx context.Context, emit func(string) error, started func() bool) error {
		usage = nil
		es, err := b.openStream(ctx, in)
		if err != nil {
			return bedrockError(err)
		}
		if es == nil {
			return provider.Upstreamf(false, "malformed response: no event stream")
		}
		defer es.Close()
		events := es.Events()
		for {
			var ev types.ConverseStreamOutput
			var ok bool
			select {
			case <-ctx.Done():
				return ctx.Err()
			case ev, ok = <-events:
			}
			if !ok {
				err := es.Err()
				switch {
				case ctx.Err() != nil:
					return ctx.Err()
				case err == nil:
					return nil
				}
				return streamEventError(err, started())
			}
			switch v := ev.(type) {
			case *types.ConverseStreamOutputMemberContentBlockDelta:
				if t, ok := v.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
					if err := emit(t.Value); err != nil {
						return err
					}
				}
			case *types.ConverseStreamOutputMemberMetadata:
				u := v.Value.Usage
				if u == nil || u.InputTokens == nil || u.OutputTokens == nil {
					return provider.Upstreamf(false, "malformed metadata event: no usage (inputTokens, outputTokens); the call cannot be priced")
				}
				// As in Converse, inputTokens excludes the cache reads and
				// writes: the counts are already disjoint.
				usage = &provider.Usage{InputTokens: int64(*u.InputTokens), OutputTokens: int64(*u.OutputTokens),
					CacheReadTokens: int64(aws.ToInt32(u.CacheReadInputTokens)), CacheWriteTokens: int64(aws.ToInt32(u.CacheWriteInputTokens))}
			}
		}
	})
	resp := provider.Response{Content: content, Provider: "bedrock"}
	if usage != nil {
		resp.Usage, resp.Reported = *usage, reported(*usage)
	}
	if err != nil {
		return resp, err
	}
	if usage == nil {
		return resp, fmt.Errorf("bedrock: the stream ended without a metadata event (usage); the call cannot be priced: %w", provider.ErrUpstream)
	}
	return resp, nil
}

// streamEventError maps an exception event that ended a ConverseStream
// like bedrockError, which sees no HTTP status there: throttling and
// server-side faults are retried like a 429 or 5xx, but only while nothing
// was streamed (the client already has the text otherwise).
func streamEventError(err error, started bool) error {
	e := bedrockError(err)
	var ae *provider.AttemptError
	if !errors.As(e, &ae) {
		return e
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		ae.Retryable = apiErr.ErrorCode() == "ThrottlingException" || apiErr.ErrorFault() == smithy.FaultServer
	}
	if started {
		ae.Retryable = false
	}
	return e
}

var sdkRetryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// bedrockError classifies an SDK error like the HTTP providers: 429 and 5xx
// are retried, other statuses are not, a 2xx that did not deserialize is a
// malformed body, and errors without a response are retried when the SDK
// considers them transient (connection resets, DNS...).
func bedrockError(err error) error {
	var code, msg string
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code, msg = apiErr.ErrorCode(), apiErr.ErrorMessage()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil && re.HTTPStatusCode() > 0 {
		status := re.HTTPStatusCode()
		if status >= 200 && status <= 299 {
			return provider.Upstreamf(false, "malformed response body: %s", provider.Clip(innermost(err).Error(), 300))
		}
		detail := ""
		if code != "" {
			detail += " (" + code + ")"
		}
		if msg = provider.Clip(msg, 300); msg != "" {
			detail += ": " + msg
		}
		e := provider.Upstreamf(provider.RetryableStatus(status), "HTTP %d%s", status, detail)
		e.RetryAfter = provider.RetryAfter(re.Response.Header)
		return e
	}
	if code != "" {
		return provider.Upstreamf(false, "%s: %s", code, provider.Clip(msg, 300))
	}
	e := provider.Networkf("request failed", err)
	e.Retryable = sdkRetryables.IsErrorRetryable(err) == aws.TrueTernary
	return e
}

// innermost unwraps an error chain to its root cause, for a short message.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func parseConverse(co *bedrockruntime.ConverseOutput) (provider.Response, error) {
	if co == nil {
		return provider.Response{}, provider.Upstreamf(false, "malformed response body: empty")
	}
	msg, ok := co.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		return provider.Response{}, provider.Upstreamf(false, "malformed response body: no output message")
	}
	u := co.Usage
	if u == nil || u.InputTokens == nil || u.OutputTokens == nil {
		return provider.Response{}, provider.Upstreamf(false, "malformed response body: no usage (inputTokens, outputTokens); the call cannot be priced")
	}
	var b strings.Builder
	for _, blk := range msg.Value.Content {
		if t, ok := blk.(*types.ContentBlockMemberText); ok {
			b.WriteString(t.Value)
		}
	}
	// Converse reports inputTokens without the cache reads and writes, which
	// come separately: the counts are already disjoint.
	usage := provider.Usage{InputTokens: int64(*u.InputTokens), OutputTokens: int64(*u.OutputTokens),
		CacheReadTokens: int64(aws.ToInt32(u.CacheReadInputTokens)), CacheWriteTokens: int64(aws.ToInt32(u.CacheWriteInputTokens))}
	// Implausible counts are the domain's to judge (tenancy's usage rule).
	return provider.Response{Content: b.String(), Provider: "bedrock", Usage: usage, Reported: reported(usage)}, nil
}

// reported is a Converse usage in Converse's names (the counts are those
// of Usage: Converse's are already disjoint).
func reported(u provider.Usage) []provider.Count {
	return []provider.Count{{Name: "inputTokens", N: u.InputTokens}, {Name: "outputTokens", N: u.OutputTokens},
		{Name: "cacheReadInputTokens", N: u.CacheReadTokens}, {Name: "cacheWriteInputTokens", N: u.CacheWriteTokens}}
}

// converseMessages is the history, then the query, as Converse messages.
func converseMessages(req provider.Request) []types.Message {
	msgs := make([]types.Message, 0, len(req.History)+1)
	for _, m := range req.History {
		role := types.ConversationRoleUser
		if m.Role == "assistant" {
			role = types.ConversationRoleAssistant
		}
		msgs = append(msgs, types.Message{Role: role, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: m.Content}}})
	}
	return append(msgs, types.Message{Role: types.ConversationRoleUser,
		Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: req.Query}}})
}
