package serve

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServe runs Serve on a loopback port and returns its URL, a function
// that starts the shutdown, and Serve's result.
func startServe(t *testing.T, h http.Handler, drain time.Duration) (url string, shutdown func(), result <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, h, drain) }()
	t.Cleanup(cancel)
	return "http://" + ln.Addr().String(), cancel, served
}

// TestServeDrains: on shutdown a request in flight runs to its end, and
// the server then stops accepting connections.
func TestServeDrains(t *testing.T) {
	gen := newFakeGenerator([]int{5, 6, 7})
	gen.delay = 20 * time.Millisecond
	url, shutdown, served := startServe(t, newTestHandler(t, gen, nil), 10*time.Second)
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "x", "max_tokens": 10, "stream": true}`))
	if err != nil {
		t.Fatal(err)
	}
	shutdown()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, finish, _ := streamed(t, string(body)); finish != "length" {
		t.Errorf("the request in flight ended with %q, want length", finish)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Error("the server still accepts requests after shutting down")
	}
}

// TestServeDrainTimeout: requests that outlive the drain are cancelled.
func TestServeDrainTimeout(t *testing.T) {
	gen := newFakeGenerator([]int{5, 6, 7})
	gen.block = true
	url, shutdown, served := startServe(t, newTestHandler(t, gen, nil), 50*time.Millisecond)
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "x", "max_tokens": 10, "stream": true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	shutdown()
	gen.waitCancelled(t)
	if err := <-served; err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("Serve returned %v, want an error about cancelled requests", err)
	}
}
