// Package serving runs many sequences of one model at once: a paged KV
// cache, an iteration-level scheduler (continuous batching with chunked
// prefill) and speculative decoding. `qtk eval`, `qtk bench` and `qtk serve`
// all drive the same Engine.
package serving

import "context"

// Sampling chooses how each next token is picked. The zero value is greedy.
type Sampling struct {
	Temperature float64 // 0 picks the most likely token
	TopK        int     // 0 keeps every token
	TopP        float64 // 0 or 1 keeps every token
	Seed        uint64  // seeds the sequence's random source when Temperature > 0
}

// Request is one sequence to run.
type Request struct {
	Prompt    []int
	MaxTokens int
	Sampling  Sampling
	// Stop lists token ids that end the sequence; the stop token itself is
	// reported with the final event, not as generated text.
	Stop []int
}

// Finish reasons carried by the last Event of a sequence.
const (
	FinishStop      = "stop"      // a stop token was produced
	FinishLength    = "length"    // MaxTokens or the context length was reached
	FinishCancelled = "cancelled" // the caller's context ended
	FinishError     = "error"     // Err says why
)

// Event is one step of a sequence: a new token, or the end.
type Event struct {
	Token  int  // the new token, when Done is false
	Done   bool // the sequence has ended; the channel closes after this event
	Finish string
	Err    error
	// Token counts, set on the final event.
	PromptTokens, CompletionTokens int
}

// Generator is what front ends (the HTTP server, bench) need from an
// engine.
type Generator interface {
	// Submit queues a request. The channel yields one Event per generated
	// token, then a final Done event, then closes. Cancelling ctx ends the
	// sequence and frees its cache pages.
	Submit(ctx context.Context, req Request) (<-chan Event, error)
	// Metrics reports the engine's state for monitoring.
	Metrics() Metrics
}

// Metrics is a snapshot of an engine's counters and gauges.
type Metrics struct {
	Running, Waiting        int    // sequences being stepped / queued
	KVPagesUsed, KVPages    int    // cache pages in use / in the budget
	KVBytesUsed, KVBytes    int64  // the same in bytes
	PromptTokens            uint64 // prompt tokens processed since start
	GeneratedTokens         uint64 // tokens generated since start
	RequestsFinished        uint64
	Preemptions             uint64 // sequences evicted and recomputed
	DraftProposed, Accepted uint64 // speculative decoding: draft tokens proposed / accepted
}
