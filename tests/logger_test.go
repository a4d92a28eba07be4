package tests

import (
	"bytes"
	"log/slog"
	"sync"
)

// logBuffer collects the server's log lines; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestLogger(w *logBuffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
