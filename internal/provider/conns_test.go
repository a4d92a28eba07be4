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
	for i := 0; i < 6; i++ {
		round()
	}
	// Never more than 16 calls in flight, and no connection closed: at most
	// 16 connections in all (a few more when a dial outraces a release; the
	// extra one stays idle for later calls). Keeping 2 idle, as
	// http.DefaultTransport does, would open about 14 more every round.
	if n := opened.Load(); n > concurrent+8 {
		t.Fatalf("%d connections opened by 6 rounds of %d concurrent calls", n, concurrent)
	}
}
