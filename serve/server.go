// Package serve is an OpenAI-compatible HTTP API over a serving.Generator:
// POST /v1/completions and /v1/chat/completions (streamed as server-sent
// events on request), GET /v1/models, GET /health and GET /metrics
// (Prometheus text). A client that goes away cancels its sequence.
//
// Requests follow OpenAI's API: prompt (a string, a list of one string, or
// token ids) or messages, max_tokens (max_completion_tokens), temperature
// (default 1), top_p, seed, stop (up to 16 strings), stream and
// stream_options.include_usage. Like vLLM it also takes top_k,
// stop_token_ids and ignore_eos. max_tokens defaults to 16 for completions
// and to the rest of the context for chat. Options that would change the
// output in ways qtk does not implement (n > 1, logprobs, penalties,
// logit_bias, tools) are refused with 400 rather than ignored.
//
// Text prompts are tokenized with the tokenizer's special tokens (BOS for
// LLaMA tokenizers); chat messages are rendered with the model's chat
// template and tokenized without them, as transformers' apply_chat_template
// does. Stop strings are matched on the detokenized text; streamed text is
// held back while it could still be the start of a stop string.
package serve

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/qtk-dev/qtk/chattemplate"
	"github.com/qtk-dev/qtk/serving"
	"github.com/qtk-dev/qtk/tokenizer"
)

// Config is what the handler serves.
type Config struct {
	// Model is the model's name: listed by /v1/models and the only value
	// the "model" field of a request may hold (it may also be left out).
	Model     string
	Generator serving.Generator
	Tokenizer *tokenizer.Tokenizer
	// ChatTemplate renders chat messages into a prompt; nil makes chat
	// completions answer 400.
	ChatTemplate *chattemplate.Template
	// EOS lists the token ids that end every sequence (unless a request
	// sets ignore_eos).
	EOS []int
	// ContextLength bounds prompt plus completion tokens.
	ContextLength int
	// MaxBodyBytes bounds a request body; 0 means 4 MiB.
	MaxBodyBytes int64
}

// Handler serves the API. Create it with NewHandler.
type Handler struct {
	cfg     Config
	mux     *http.ServeMux
	metrics *httpMetrics
	started time.Time
}

// NewHandler checks cfg and returns the API's handler.
func NewHandler(cfg Config) (*Handler, error) {
	switch {
	case cfg.Generator == nil:
		return nil, errors.New("serve: no generator")
	case cfg.Tokenizer == nil:
		return nil, errors.New("serve: no tokenizer")
	case cfg.Model == "":
		return nil, errors.New("serve: no model name")
	case cfg.ContextLength < 2:
		return nil, fmt.Errorf("serve: context length %d is too small", cfg.ContextLength)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), metrics: newHTTPMetrics(), started: time.Now()}
	routes := []struct {
		pattern, route string
		handle         http.HandlerFunc
	}{
		{"POST /v1/completions", "/v1/completions", h.completions},
		{"POST /v1/chat/completions", "/v1/chat/completions", h.chatCompletions},
		{"GET /v1/models", "/v1/models", h.models},
		{"GET /health", "/health", h.health},
		{"GET /metrics", "/metrics", h.serveMetrics},
		{"/", "other", h.notFound},
	}
	for _, r := range routes {
		h.mux.Handle(r.pattern, h.instrument(r.route, r.handle))
	}
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// instrument counts a route's requests by status and times them.
func (h *Handler) instrument(route string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.metrics.begin()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { h.metrics.end(route, sw.status, time.Since(start)) }()
		next(sw, r)
	})
}

// statusWriter records the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (to flush).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (h *Handler) models(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data": []any{map[string]any{
			"id":            h.cfg.Model,
			"object":        "model",
			"created":       h.started.Unix(),
			"owned_by":      "qtk",
			"max_model_len": h.cfg.ContextLength,
		}},
	})
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeMetrics(w, h.cfg.Generator.Metrics(), h.metrics)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path), Type: "invalid_request_error"})
}
