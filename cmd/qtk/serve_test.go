package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/serve"
	"github.com/qtk-dev/qtk/serving"
	"github.com/qtk-dev/qtk/tokenizer"
)

// echoGenerator repeats the prompt's tokens as the completion.
type echoGenerator struct{}

func (echoGenerator) Submit(ctx context.Context, req serving.Request) (<-chan serving.Event, error) {
	events := make(chan serving.Event, req.MaxTokens+1)
	for i := range req.MaxTokens {
		events <- serving.Event{Token: req.Prompt[i%len(req.Prompt)]}
	}
	events <- serving.Event{Done: true, Finish: serving.FinishLength, PromptTokens: len(req.Prompt), CompletionTokens: req.MaxTokens}
	close(events)
	return events, nil
}

func (echoGenerator) Metrics() serving.Metrics { return serving.Metrics{} }

func echoFactory(ctx context.Context, m *runtime.Model, tok *tokenizer.Tokenizer) (serving.Generator, error) {
	return echoGenerator{}, nil
}

func TestServeHandler(t *testing.T) {
	dir := t.TempDir()
	template := filepath.Join(dir, "chat.jinja")
	os.WriteFile(template, []byte("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"), 0o644)
	unsupported := filepath.Join(dir, "macro.jinja")
	os.WriteFile(unsupported, []byte("{% macro x() %}{% endmacro %}"), 0o644)

	cases := []struct {
		name       string
		opts       serveOptions
		path, body string
		status     int
		want       string // in the response, or in the error when status is 0
	}{
		{"models", serveOptions{}, "/v1/models", "", 200, `"id":"tiny-llama"`},
		{"named", serveOptions{name: "tl"}, "/v1/models", "", 200, `"id":"tl"`},
		{"completion", serveOptions{}, "/v1/completions", `{"prompt": "Hello world", "max_tokens": 4}`, 200, `"text":"Hello world"`},
		{"no chat template", serveOptions{}, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}]}`, 400, "has no chat template"},
		{"chat template file", serveOptions{chatTemplate: template}, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 6}`, 200, `"content":"user: hi\n"`},
		{"ctx bounds requests", serveOptions{ctxLen: 8}, "/v1/completions", `{"prompt": "Hello world", "max_tokens": 8}`, 400, "context length is 8"},
		{"ctx too large", serveOptions{ctxLen: 1 << 20}, "", "", 0, "--ctx must be between"},
		{"unsupported template", serveOptions{chatTemplate: unsupported}, "", "", 0, "--chat-template"},
		{"missing template file", serveOptions{chatTemplate: filepath.Join(dir, "none.jinja")}, "", "", 0, "none.jinja"},
	}
	for _, c := range cases {
		h, err := newServeHandler(context.Background(), tinyLlama, c.opts, echoFactory)
		if c.status == 0 {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: got error %v, want one containing %q", c.name, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		method := http.MethodGet
		if c.body != "" {
			method = http.MethodPost
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, c.path, strings.NewReader(c.body)))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s: got %d %s, want %d and %q", c.name, rec.Code, rec.Body.String(), c.status, c.want)
		}
	}
}

// TestServeCommand runs `qtk serve` on a loopback port, completes a
// request, and shuts it down through its context as a signal would.
func TestServeCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := newServeCmd(echoFactory)
	cmd.SetArgs([]string{tinyLlama, "--addr", addr, "--drain", "5s"})
	cmd.SetOut(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("qtk serve exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("qtk serve did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "Hello", "max_tokens": 3, "stream": true}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Errorf("stream %q does not end with [DONE]", body)
	}
	var first struct{ Object string }
	json.Unmarshal([]byte(strings.TrimPrefix(strings.SplitN(string(body), "\n", 2)[0], "data: ")), &first)
	if first.Object != "text_completion" {
		t.Errorf("first event %q", strings.SplitN(string(body), "\n", 2)[0])
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("qtk serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("qtk serve did not stop")
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Errorf("%s still answers after shutdown", url)
	}
}

// TestServeLoadTinyLlama runs the serving engine on the bundled model
// behind the HTTP API and streams from 64 clients at once, with a KV cache
// budget too small to hold them all: every request must complete with its
// exact token count, and the cache must stay within its budget.
func TestServeLoadTinyLlama(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	engine := engineFlags{pageSize: 16, kvMemory: "1MB", maxBatchTokens: 256, maxRunning: 256, draftTokens: 4}
	factory := func(ctx context.Context, m *runtime.Model, tok *tokenizer.Tokenizer) (serving.Generator, error) {
		e, err := engine.engine(m, tok, 0, compute.CPU)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, e.Close)
		return e, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := newServeHandler(ctx, tinyLlama, serveOptions{}, factory)
	if err != nil {
		t.Fatal(err)
	}
	report, err := serve.LoadTestHandler(ctx, h, serve.LoadOptions{
		Model: h.model, Clients: 64, Requests: 192, Duration: 2 * time.Minute,
		Prompt: "The history of the city", MinTokens: 4, MaxTokens: 24,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(report)
	t.Logf("%s", out)
	if !report.OK() {
		t.Fatal("load test failed")
	}
}
