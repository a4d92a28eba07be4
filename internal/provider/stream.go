package provider

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Stream implements Streamer: the answer word by word, with the usage of
// Complete at the end.
func (d Dev) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	full, err := d.Complete(ctx, req)
	if err != nil {
		return Response{Provider: "dev"}, err
	}
	out := Response{Provider: "dev"}
	for _, w := range strings.SplitAfter(full.Content, " ") {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("dev: call canceled: %w", ErrTimeout)
		}
		if err := onDelta(w); err != nil {
			return out, err
		}
		out.Content += w
	}
	out.Usage = full.Usage
	return out, nil
}

// sse reads a text/event-stream body, calling on for each event (its name,
// "" when none, and its data lines joined by "\n").
func sse(body io.Reader, on func(event, data string) error) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), maxResponseBytes)
	var event string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 {
				if err := on(event, strings.Join(data, "\n")); err != nil {
					return err
				}
			}
			event, data = "", nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(data) > 0 {
		return on(event, strings.Join(data, "\n"))
	}
	return nil
}

// errStopped marks an error returned by onDelta (the client went away).
type errStopped struct{ err error }

func (e errStopped) Error() string { return e.err.Error() }
func (e errStopped) Unwrap() error { return e.err }

// streamAttempt is one attempt of a streamed HTTP call: POST body, then read
// the event stream with on. Errors before the first delta are retryable as
// for postJSON; after it, nothing is retried (the client has the text).
func streamAttempt(ctx context.Context, client *http.Client, url string, header http.Header, body any,
	started func() bool, on func(event, data string) error, secrets ...string) error {
	req, err := jsonPost(ctx, url, header, body, "text/event-stream")
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Upstreamf(true, "request failed: %s", redact(err.Error(), secrets...))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := Upstreamf(RetryableStatus(resp.StatusCode), "HTTP %d%s", resp.StatusCode, errorDetail(data, secrets))
		e.RetryAfter = RetryAfter(resp.Header)
		return e
	}
	err = sse(resp.Body, on)
	var stopped errStopped
	switch {
	case err == nil:
		return nil
	case errors.As(err, &stopped):
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	var ae *AttemptError
	if errors.As(err, &ae) {
		ae.Retryable = ae.Retryable && !started()
		return ae
	}
	return Upstreamf(!started(), "reading the stream: %s", redact(err.Error(), secrets...))
}

// StreamCall runs a streamed call under the call timeout and retry policy,
// wrapping onDelta so that its errors stop the call unretried.
func (o Options) StreamCall(ctx context.Context, name string, onDelta func(string) error,
	attempt func(ctx context.Context, emit func(string) error, started func() bool) error) (string, error) {
	var content strings.Builder
	started := func() bool { return content.Len() > 0 }
	emit := func(s string) error {
		if s == "" {
			return nil
		}
		content.WriteString(s)
		if err := onDelta(s); err != nil {
			return errStopped{err}
		}
		return nil
	}
	var stopped error
	err := o.Call(ctx, name, func(ctx context.Context) error {
		err := attempt(ctx, emit, started)
		var es errStopped
		if errors.As(err, &es) {
			stopped = es.err
			return nil
		}
		return err
	})
	if stopped != nil {
		return content.String(), stopped
	}
	return content.String(), err
}

type chatChunk struct {
	Choices []struct {
		Delta struct {
			Content *string `json:"content"`
			Refusal *string `json:"refusal"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

// Stream implements Streamer: Chat Completions with "stream": true and
// stream_options.include_usage, so the last chunk carries the usage.
func (c *OpenAI) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	if err := CheckRequest(c.name, req); err != nil {
		return Response{}, err
	}
	body, header, endpoint, key, err := c.request(ctx, req)
	if err != nil {
		return Response{}, err
	}
	body["stream"] = true
	body["stream_options"] = map[string]any{"include_usage": true}
	var usage *Usage
	var reported []Count
	content, err := c.opts.StreamCall(ctx, c.name, onDelta, func(ctx context.Context, emit func(string) error, started func() bool) error {
		usage, reported = nil, nil
		err := streamAttempt(ctx, c.opts.httpClient(), endpoint, header, body, started, func(_, data string) error {
			if data == "[DONE]" {
				return nil
			}
			var ch chatChunk
			if err := json.Unmarshal([]byte(data), &ch); err != nil {
				return Upstreamf(false, "malformed stream chunk: %v", err)
			}
			if ch.Error != nil {
				return Upstreamf(false, "stream error (%s): %s", ch.Error.Type, Clip(ch.Error.Message, 300))
			}
			if u := ch.Usage; u != nil {
				// As reported, implausible or not: tenancy's usage rule
				// judges it, as for a buffered call.
				us, rep := openAIUsage(u.PromptTokens, u.CompletionTokens, u.PromptTokensDetails)
				usage, reported = &us, rep
			}
			for _, choice := range ch.Choices {
				switch {
				case choice.Delta.Content != nil:
					if err := emit(*choice.Delta.Content); err != nil {
						return err
					}
				case choice.Delta.Refusal != nil:
					if err := emit(*choice.Delta.Refusal); err != nil {
						return err
					}
				}
			}
			return nil
		}, key)
		var ae *AttemptError
		if c.mapError != nil && errors.As(err, &ae) {
			return c.mapError(req, ae)
		}
		return err
	})
	out := Response{Content: content, Provider: c.name, Reported: reported}
	if usage != nil {
		out.Usage = *usage
	}
	if err != nil {
		return out, err
	}
	if usage == nil {
		return out, fmt.Errorf("%s: the stream ended without usage (stream_options.include_usage); the call cannot be priced: %w",
			c.name, ErrUpstream)
	}
	return out, nil
}

type anthropicEvent struct {
	Type    string `json:"type"`
	Message struct {
		Usage anthropicUsage `json:"usage"`
	} `json:"message"`
	Delta struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"delta"`
	Usage *anthropicUsage `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

type anthropicUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// Stream implements Streamer: the Messages API with "stream": true.
// message_start reports the input usage, message_delta the output.
func (c *Anthropic) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	if err := CheckRequest("anthropic", req); err != nil {
		return Response{}, err
	}
	body := anthropicRequest{Model: ModelID(req), MaxTokens: req.MaxTokens, System: req.SystemPrompt, Stream: true,
		Messages: append(append([]chatMessage{}, req.History...), chatMessage{Role: "user", Content: req.Query})}
	header := http.Header{}
	header.Set("x-api-key", c.key)
	header.Set("anthropic-version", AnthropicVersion)
	var usage Usage
	var done bool
	content, err := c.opts.StreamCall(ctx, "anthropic", onDelta, func(ctx context.Context, emit func(string) error, started func() bool) error {
		usage, done = Usage{}, false
		return streamAttempt(ctx, c.opts.httpClient(), c.endpoint, header, body, started, func(_, data string) error {
			var ev anthropicEvent
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				return Upstreamf(false, "malformed stream event: %v", err)
			}
			switch ev.Type {
			case "message_start":
				u := ev.Message.Usage
				usage = Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
					CacheReadTokens: u.CacheReadInputTokens, CacheWriteTokens: u.CacheCreationInputTokens}
			case "content_block_delta":
				if ev.Delta.Type == "text_delta" {
					return emit(ev.Delta.Text)
				}
			case "message_delta":
				if ev.Usage != nil {
					usage.OutputTokens = ev.Usage.OutputTokens
					done = true
				}
			case "error":
				if ev.Error != nil {
					return Upstreamf(ev.Error.Type == "overloaded_error" && !started(), "stream error (%s): %s",
						ev.Error.Type, Clip(ev.Error.Message, 300))
				}
			}
			return nil
		}, c.key)
	})
	out := Response{Content: content, Provider: "anthropic", Usage: usage}
	if usage != (Usage{}) {
		out.Reported = anthropicReported(usage)
	}
	if err != nil {
		return out, err
	}
	if !done {
		return out, fmt.Errorf("anthropic: the stream ended without message_delta usage; the call cannot be priced: %w", ErrUpstream)
	}
	return out, nil
}
