package loadtest

import (
	"io"
	"log/slog"
)

// discardLogger keeps the per-request log lines out of the tool's output.
func discardLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
