package bedrock

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/openclaw/tenancy/internal/provider"
)

// fakeReader is a ConverseStream event stream: it sends events, then ends
// with err (nil: a clean end); with hold it stays open until closed.
type fakeReader struct {
	ch     chan types.ConverseStreamOutput
	err    error
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	done   bool
}

func newFakeReader(events []types.ConverseStreamOutput, err error, hold bool) *fakeReader {
	r := &fakeReader{ch: make(chan types.ConverseStreamOutput), err: err, closed: make(chan struct{})}
	go func() {
		defer close(r.ch)
		for _, ev := range events {
			select {
			case r.ch <- ev:
			case <-r.closed:
				return
			}
		}
		if hold {
			<-r.closed
			return
		}
		r.mu.Lock()
		r.done = true
		r.mu.Unlock()
	}()
	return r
}

func (r *fakeReader) Events() <-chan types.ConverseStreamOutput { return r.ch }
func (r *fakeReader) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}
func (r *fakeReader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return r.err
	}
	return nil
}

func (r *fakeReader) isClosed() bool {
	select {
	case <-r.closed:
		return true
	default:
		return false
	}
}

// fakeConverse answers ConverseStream with the readers it is given, one per
// call, and records the inputs.
type fakeConverse struct {
	mu      sync.Mutex
	inputs  []*bedrockruntime.ConverseStreamInput
	readers []*fakeReader
	calls   atomic.Int32
}

func (f *fakeConverse) open(_ context.Context, in *bedrockruntime.ConverseStreamInput) (*bedrockruntime.ConverseStreamEventStream, error) {
	n := int(f.calls.Add(1))
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	f.mu.Unlock()
	r := f.readers[n-1]
	return bedrockruntime.NewConverseStreamEventStream(func(es *bedrockruntime.ConverseStreamEventStream) { es.Reader = r }), nil
}

// bedrockOn is the provider reading its streams from f.
func bedrockOn(f *fakeConverse) *Provider {
	b := New(nil, fastOpts())
	b.openStream = f.open
	return b
}

func textDelta(s string) types.ConverseStreamOutput {
	return &types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{
		ContentBlockIndex: aws.Int32(0), Delta: &types.ContentBlockDeltaMemberText{Value: s}}}
}

func metadata(in, out, cacheRead, cacheWrite int32) types.ConverseStreamOutput {
	return &types.ConverseStreamOutputMemberMetadata{Value: types.ConverseStreamMetadataEvent{
		Usage: &types.TokenUsage{InputTokens: aws.Int32(in), OutputTokens: aws.Int32(out), TotalTokens: aws.Int32(in + out + cacheRead + cacheWrite),
			CacheReadInputTokens: aws.Int32(cacheRead), CacheWriteInputTokens: aws.Int32(cacheWrite)},
		Metrics: &types.ConverseStreamMetrics{LatencyMs: aws.Int64(412)}}}
}

func TestBedrockStream(t *testing.T) {
	f := &fakeConverse{readers: []*fakeReader{newFakeReader([]types.ConverseStreamOutput{
		&types.ConverseStreamOutputMemberMessageStart{Value: types.MessageStartEvent{Role: types.ConversationRoleAssistant}},
		textDelta("The capital"),
		&types.ConverseStreamOutputMemberContentBlockDelta{Value: types.ContentBlockDeltaEvent{
			ContentBlockIndex: aws.Int32(0), Delta: &types.ContentBlockDeltaMemberReasoningContent{
				Value: &types.ReasoningContentBlockDeltaMemberText{Value: "thinking"}}}},
		textDelta(" is Paris."),
		&types.ConverseStreamOutputMemberContentBlockStop{Value: types.ContentBlockStopEvent{ContentBlockIndex: aws.Int32(0)}},
		&types.ConverseStreamOutputMemberMessageStop{Value: types.MessageStopEvent{StopReason: types.StopReasonEndTurn}},
		metadata(30, 7, 2500, 1000),
	}, nil, false)}}
	req := bedrockReq
	req.History = []provider.Message{{Role: "user", Content: "Earlier"}, {Role: "assistant", Content: "Earlier answer"}}
	resp, deltas, err := collect(t, bedrockOn(f), req)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "deltas", strings.Join(deltas, "|"), "The capital| is Paris.")
	eq(t, "content", resp.Content, "The capital is Paris.")
	eq(t, "provider", resp.Provider, "bedrock")
	eq(t, "usage", resp.Usage, provider.Usage{InputTokens: 30, OutputTokens: 7, CacheReadTokens: 2500, CacheWriteTokens: 1000})
	eq(t, "calls", f.calls.Load(), int32(1))
	in := f.inputs[0]
	eq(t, "model", aws.ToString(in.ModelId), bedrockModel)
	eq(t, "max tokens", aws.ToInt32(in.InferenceConfig.MaxTokens), int32(512))
	eq(t, "system", in.System, []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "You are the ACME support agent."}})
	var msgs []string
	for _, m := range in.Messages {
		msgs = append(msgs, string(m.Role)+":"+m.Content[0].(*types.ContentBlockMemberText).Value)
	}
	eq(t, "messages", strings.Join(msgs, "|"), "user:Earlier|assistant:Earlier answer|user:What is the capital of France?")
	if !f.readers[0].isClosed() {
		t.Error("the event stream was not closed")
	}
}

func TestBedrockStreamErrors(t *testing.T) {
	t.Run("exception event mid-stream", func(t *testing.T) {
		f := &fakeConverse{readers: []*fakeReader{newFakeReader([]types.ConverseStreamOutput{textDelta("Hel"), textDelta("lo")},
			&types.ModelStreamErrorException{Message: aws.String("The model failed at https://bedrock-runtime.us-east-1.amazonaws.com/x"),
				OriginalStatusCode: aws.Int32(500)}, false)}}
		resp, deltas, err := collect(t, bedrockOn(f), bedrockReq)
		wantClass(t, err, provider.ErrUpstream, "bedrock: ModelStreamErrorException: The model failed at")
		eq(t, "public", provider.PublicMessage(err), "bedrock: ModelStreamErrorException: The model failed at [url]: model provider error")
		eq(t, "deltas", strings.Join(deltas, "|"), "Hel|lo")
		eq(t, "content so far", resp.Content, "Hello")
		eq(t, "usage so far", resp.Usage, provider.Usage{})
		eq(t, "calls (not retried after text)", f.calls.Load(), int32(1))
	})
	t.Run("throttling event before any text is retried", func(t *testing.T) {
		f := &fakeConverse{readers: []*fakeReader{
			newFakeReader(nil, &types.ThrottlingException{Message: aws.String("Too many tokens")}, false),
			newFakeReader([]types.ConverseStreamOutput{textDelta("ok"), metadata(3, 1, 0, 0)}, nil, false),
		}}
		resp, deltas, err := collect(t, bedrockOn(f), bedrockReq)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "deltas", strings.Join(deltas, "|"), "ok")
		eq(t, "usage", resp.Usage, provider.Usage{InputTokens: 3, OutputTokens: 1})
		eq(t, "calls", f.calls.Load(), int32(2))
	})
	t.Run("no metadata", func(t *testing.T) {
		f := &fakeConverse{readers: []*fakeReader{newFakeReader([]types.ConverseStreamOutput{textDelta("Hi")}, nil, false)}}
		resp, _, err := collect(t, bedrockOn(f), bedrockReq)
		wantClass(t, err, provider.ErrUpstream, "bedrock: the stream ended without a metadata event (usage); the call cannot be priced")
		eq(t, "content so far", resp.Content, "Hi")
	})
	t.Run("onDelta error stops the call", func(t *testing.T) {
		f := &fakeConverse{readers: []*fakeReader{newFakeReader([]types.ConverseStreamOutput{textDelta("a"), textDelta("b")}, nil, true)}}
		gone := errors.New("client gone")
		resp, err := bedrockOn(f).Stream(context.Background(), bedrockReq, func(string) error { return gone })
		if !errors.Is(err, gone) {
			t.Fatalf("err = %v, want %v", err, gone)
		}
		eq(t, "content", resp.Content, "a")
		eq(t, "calls", f.calls.Load(), int32(1))
		if !f.readers[0].isClosed() {
			t.Error("the event stream was not closed")
		}
	})
}

func TestBedrockStreamCancelled(t *testing.T) {
	// The stream sends one delta and then stays open: cancelling ctx must
	// stop reading at once, close the stream and return what was streamed.
	r := newFakeReader([]types.ConverseStreamOutput{textDelta("Once upon")}, nil, true)
	f := &fakeConverse{readers: []*fakeReader{r}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var deltas []string
	resp, err := bedrockOn(f).Stream(ctx, bedrockReq, func(d string) error {
		deltas = append(deltas, d)
		cancel()
		return nil
	})
	wantClass(t, err, provider.ErrTimeout, "bedrock: call canceled")
	eq(t, "deltas", strings.Join(deltas, "|"), "Once upon")
	eq(t, "content", resp.Content, "Once upon")
	eq(t, "usage so far", resp.Usage, provider.Usage{})
	eq(t, "calls", f.calls.Load(), int32(1))
	if !r.isClosed() {
		t.Error("the event stream was not closed")
	}
}

// The real SDK client: ConverseStream goes to /model/{id}/converse-stream
// with the Converse body, and an HTTP error before the stream is mapped like
// Converse's (no retry for a 400).
func TestBedrockStreamHTTPRequestAndError(t *testing.T) {
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/model/"+bedrockModel+"/converse-stream" {
			t.Errorf("request = %s %s, want POST /model/%s/converse-stream", r.Method, r.URL.Path, bedrockModel)
		}
		eq(t, "body", decodeBody(t, r), map[string]any{
			"messages":        []any{map[string]any{"role": "user", "content": []any{map[string]string{"text": "What is the capital of France?"}}}},
			"system":          []any{map[string]string{"text": "You are the ACME support agent."}},
			"inferenceConfig": map[string]int{"maxTokens": 512},
		})
		w.Header().Set("X-Amzn-ErrorType", "ValidationException")
		writeJSON(w, 400, `{"message":"The provided model identifier is invalid."}`)
	})
	resp, deltas, err := collect(t, newTestBedrock(t, f, fastOpts()), bedrockReq)
	wantClass(t, err, provider.ErrUpstream, "bedrock: HTTP 400 (ValidationException): The provided model identifier is invalid.")
	eq(t, "deltas", len(deltas), 0)
	eq(t, "response", resp, provider.Response{Provider: "bedrock"})
	eq(t, "calls", f.N(), 1)
}

// Implausible counts are handed on as reported (tenancy's usage rule
// settles the call), streamed as buffered.
func TestBedrockStreamHandsImplausibleUsageOn(t *testing.T) {
	f := &fakeConverse{readers: []*fakeReader{newFakeReader([]types.ConverseStreamOutput{
		textDelta("ok"), metadata(-3, 5, 0, 0)}, nil, false)}}
	resp, _, err := collect(t, bedrockOn(f), bedrockReq)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "usage", resp.Usage, provider.Usage{InputTokens: -3, OutputTokens: 5})
	eq(t, "reported", resp.Reported, []provider.Count{{Name: "inputTokens", N: -3}, {Name: "outputTokens", N: 5},
		{Name: "cacheReadInputTokens", N: 0}, {Name: "cacheWriteInputTokens", N: 0}})
}
