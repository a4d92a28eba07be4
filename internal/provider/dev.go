package provider

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
)

// Dev is the offline development provider: a deterministic reply and token
// counts computed from the text (one token per started 4 bytes, the usual
// rule of thumb), so local runs cost what the real model would roughly cost.
// It never pretends to be a real model: its name is "dev".
type Dev struct{}

// Name implements Provider.
func (Dev) Name() string { return "dev" }

// Complete implements Provider.
func (Dev) Complete(ctx context.Context, req Request) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	h := fnv.New32a()
	h.Write([]byte(req.SystemPrompt + "\x00" + req.Query))
	content := fmt.Sprintf("[dev reply %08x from %s] You asked: %s", h.Sum32(), req.Model, req.Query)
	in := DevTokens(req.SystemPrompt) + DevTokens(req.Query)
	if len(req.History) > 0 {
		content += fmt.Sprintf(" (after %d earlier messages)", len(req.History))
		for _, m := range req.History {
			in += DevTokens(m.Content)
		}
	}
	out := DevTokens(content)
	if req.MaxTokens > 0 && out > int64(req.MaxTokens) {
		// Truncate like a real model would at max_tokens.
		content = truncateBytes(content, req.MaxTokens*4)
		out = int64(req.MaxTokens)
	}
	return Response{
		Content:  content,
		Provider: "dev",
		Usage: Usage{
			InputTokens:  in,
			OutputTokens: out,
		},
	}, nil
}

// DevTokens is the development provider's token count for a text.
func DevTokens(s string) int64 { return int64((len(s) + 3) / 4) }

func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
