package provider

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// The default client keeps its connections to a provider between calls,
// also beyond 2 concurrent calls (http.DefaultTransport keeps only 2 idle
// per host: the others would be closed and dialed again on every call).
func TestDefaultClientReusesConnections(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, openAIOK)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p, err := NewOpenAI(OpenAIConfig{BaseURL: srv.URL, APIKey: testOpenAIKey})
	if err != nil {
		t.Fatal(err)
	}
	const concurrent = 16
	round := func() {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < concurrent; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := p.Complete(context.Background(), Request{Model: "gpt-4o-mini", ProviderModelID: "gpt-4o-mini",
					Query: "hi", MaxTokens: 16}); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	round()
	first := opened.Load()
	if first > concurrent {
		t.Fatalf("%d connections for %d concurrent calls", first, concurrent)
	}
	for i := 0; i < 5; i++ {
		round()
	}
	// Later rounds find at least as many idle connections as the first
	// opened (a round may open one more when a call outraces a release).
	if extra := opened.Load() - first; extra > 5 {
		t.Fatalf("%d new connections in 5 more rounds of %d concurrent calls (first round: %d)", extra, concurrent, first)
	}
}
