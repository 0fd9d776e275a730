package serving

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/qtk-dev/qtk/runtime"
)

// Config sets an Engine's cache, batch and speculation limits. Zero
// fields take the defaults noted.
type Config struct {
	PageSize int   // positions per cache page; 16
	KVMemory int64 // bytes of key/value cache for the target model; 1 GiB
	Int8KV   bool  // store keys and values as int8 with a scale per head vector
	// MaxBatchTokens is the most tokens one step runs, prefill chunks and
	// decode tokens together; 512.
	MaxBatchTokens int
	MaxRunning     int // the most sequences in one step; 256

	// Draft, when set, proposes DraftTokens tokens (4) per step that the
	// target model verifies in one pass. It must share the target's
	// vocabulary.
	Draft       *runtime.Model
	DraftTokens int
	// DraftMinProb stops a sequence's drafting for the step at the first
	// proposal the draft gives less than this probability: drafts it is
	// unsure of are likely rejected, and each costs a row of the target's
	// verification.
	DraftMinProb float64

	// StaticBatch > 0 runs static batching instead, as a baseline: a
	// batch of up to StaticBatch requests starts when nothing runs, every
	// prompt is padded to the longest, and finished sequences keep being
	// computed as padding until the whole batch is done.
	StaticBatch int
}

func (c *Config) setDefaults() {
	if c.PageSize == 0 {
		c.PageSize = 16
	}
	if c.KVMemory == 0 {
		c.KVMemory = 1 << 30
	}
	if c.MaxBatchTokens == 0 {
		c.MaxBatchTokens = 512
	}
	if c.MaxRunning == 0 {
		c.MaxRunning = 256
	}
	if c.DraftTokens == 0 {
		c.DraftTokens = 4
	}
}

// staticFlush is how long a static batch waits for another request
// before it starts with fewer than StaticBatch.
const staticFlush = 50 * time.Millisecond

// Engine runs many sequences of one model at once on a paged KV cache.
// It satisfies Generator.
type Engine struct {
	cfg    Config
	target *runtime.Model
	cache  *pagedCache
	draft  *pagedCache // nil without speculation

	mu       sync.Mutex
	wake     *sync.Cond
	incoming []*sequence
	closed   bool
	metrics  Metrics
	done     chan struct{}

	// Owned by the loop goroutine.
	waiting, running []*sequence
	admissions       uint64
	logits           []float32
	afterStep        func() // tests check invariants here, on the loop goroutine
}

// New starts an engine for target. Close stops it.
func New(target *runtime.Model, cfg Config) (*Engine, error) {
	cfg.setDefaults()
	tc := target.Config
	switch {
	case cfg.PageSize < 1:
		return nil, fmt.Errorf("serving: page size %d must be positive", cfg.PageSize)
	case cfg.MaxBatchTokens < 1 || cfg.MaxRunning < 1:
		return nil, fmt.Errorf("serving: batch limits must be positive (tokens %d, sequences %d)", cfg.MaxBatchTokens, cfg.MaxRunning)
	case cfg.Draft != nil && cfg.DraftTokens < 1:
		return nil, fmt.Errorf("serving: draft tokens %d must be positive", cfg.DraftTokens)
	case cfg.Draft != nil && cfg.Draft.Config.VocabSize != tc.VocabSize:
		return nil, fmt.Errorf("serving: the draft model's vocabulary (%d) differs from the target's (%d)", cfg.Draft.Config.VocabSize, tc.VocabSize)
	case cfg.Draft != nil && cfg.StaticBatch > 0:
		return nil, fmt.Errorf("serving: static batching does not speculate")
	}
	pageBytes := runtime.KVPageBytes(tc, cfg.PageSize, cfg.Int8KV)
	pages := int(cfg.KVMemory / pageBytes)
	if pages < 1 {
		return nil, fmt.Errorf("serving: a KV budget of %d bytes holds no page of %d bytes", cfg.KVMemory, pageBytes)
	}
	e := &Engine{cfg: cfg, target: target, done: make(chan struct{})}
	e.wake = sync.NewCond(&e.mu)
	var err error
	if e.cache, err = newPagedCache(target, cfg.PageSize, pages, cfg.Int8KV); err != nil {
		return nil, err
	}
	if cfg.Draft != nil {
		// As many draft pages as target pages: the draft never holds more
		// positions of a sequence than the target does while verifying.
		if e.draft, err = newPagedCache(cfg.Draft, cfg.PageSize, pages, cfg.Int8KV); err != nil {
			return nil, err
		}
	}
	e.metrics.KVPages = pages
	e.metrics.KVBytes = e.bytes(pages)
	go e.loop()
	return e, nil
}

// bytes is the memory of n target pages plus as many draft pages.
func (e *Engine) bytes(n int) int64 {
	b := int64(n) * e.cache.kv.PageBytes()
	if e.draft != nil {
		b += int64(n) * e.draft.kv.PageBytes()
	}
	return b
}

// Submit queues a request; see Generator. MaxTokens <= 0 generates until
// a stop token or the end of the context.
func (e *Engine) Submit(ctx context.Context, req Request) (<-chan Event, error) {
	if err := e.check(req); err != nil {
		return nil, err
	}
	maxPos := e.target.Config.MaxPositions
	if req.MaxTokens <= 0 || req.MaxTokens > maxPos-len(req.Prompt) {
		req.MaxTokens = maxPos - len(req.Prompt)
	}
	s := &sequence{
		ctx:    ctx,
		req:    req,
		events: make(chan Event, req.MaxTokens+1),
		tokens: slices.Clone(req.Prompt),
		prompt: len(req.Prompt),
		sampler: runtime.Sampler{
			Temperature: req.Sampling.Temperature,
			TopK:        req.Sampling.TopK,
			TopP:        req.Sampling.TopP,
			Rand:        rand.New(rand.NewPCG(req.Sampling.Seed, 0x9e3779b97f4a7c15)),
		},
		arrived: time.Now(),
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errClosed
	}
	e.incoming = append(e.incoming, s)
	e.wake.Signal()
	return s.events, nil
}

var errClosed = errors.New("serving: engine closed")

// check rejects requests the engine can never run.
func (e *Engine) check(req Request) error {
	cfg := e.target.Config
	s := req.Sampling
	switch {
	case len(req.Prompt) == 0:
		return fmt.Errorf("serving: empty prompt")
	case len(req.Prompt) >= cfg.MaxPositions:
		return fmt.Errorf("serving: prompt of %d tokens leaves no room in the context of %d", len(req.Prompt), cfg.MaxPositions)
	case e.cache.pagesFor(len(req.Prompt)+1) > e.cache.pool.size():
		return fmt.Errorf("serving: prompt of %d tokens does not fit the KV budget of %d pages of %d", len(req.Prompt), e.cache.pool.size(), e.cfg.PageSize)
	case s.Temperature < 0 || s.TopK < 0 || s.TopP < 0 || s.TopP > 1:
		return fmt.Errorf("serving: bad sampling parameters (temperature %g, top-k %d, top-p %g)", s.Temperature, s.TopK, s.TopP)
	}
	for _, id := range slices.Concat(req.Prompt, req.Stop) {
		if id < 0 || id >= cfg.VocabSize {
			return fmt.Errorf("serving: token id %d outside the vocabulary of %d", id, cfg.VocabSize)
		}
	}
	return nil
}

// Metrics returns a snapshot of the engine's state.
func (e *Engine) Metrics() Metrics {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.metrics
}

// Close stops the engine; sequences still queued or running end with an
// error event.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.wake.Signal()
	e.mu.Unlock()
	<-e.done
}

// loop steps the engine until it is closed.
func (e *Engine) loop() {
	defer close(e.done)
	for {
		e.mu.Lock()
		for !e.closed && len(e.incoming) == 0 && len(e.waiting) == 0 && len(e.running) == 0 {
			e.wake.Wait()
		}
		closed := e.closed
		e.waiting = append(e.waiting, e.incoming...)
		e.incoming = nil
		e.mu.Unlock()
		if closed {
			for _, s := range slices.Concat(e.waiting, e.running) {
				e.finish(s, Event{Finish: FinishError, Err: errClosed})
			}
			e.running, e.waiting = nil, nil
			e.publish()
			return
		}
		e.step()
		e.publish()
		if e.afterStep != nil {
			e.afterStep()
		}
	}
}

// publish copies the loop's gauges into the metrics snapshot.
func (e *Engine) publish() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.metrics.Running = len(e.running)
	e.metrics.Waiting = len(e.waiting) + len(e.incoming)
	e.metrics.KVPagesUsed = e.cache.pool.used()
	e.metrics.KVBytesUsed = int64(e.cache.pool.used()) * e.cache.kv.PageBytes()
	if e.draft != nil {
		e.metrics.KVBytesUsed += int64(e.draft.pool.used()) * e.draft.kv.PageBytes()
	}
}

// count updates the counters under the lock.
func (e *Engine) count(f func(m *Metrics)) {
	e.mu.Lock()
	f(&e.metrics)
	e.mu.Unlock()
}
