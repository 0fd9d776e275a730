package serving

import (
	"context"
	"slices"
	"sync"

	"github.com/qtk-dev/qtk/runtime"
)

// Single runs requests one at a time, in the order submitted, on one
// runtime.Sequence: batch-1 decoding with a contiguous KV cache. It is how
// a model resident on a GPU generates (its Sequence runs the whole forward
// pass there); the paged Engine batches many sequences but orchestrates
// its layers on the CPU. It satisfies Generator.
type Single struct {
	vocab      int
	seq        runtime.Sequence
	kvPerToken int64
	logits     []float32 // one row
	next       []int     // the token of the next decode step

	mu      sync.Mutex
	wake    *sync.Cond
	queue   []*singleRequest
	closed  bool
	metrics Metrics
	done    chan struct{}
}

type singleRequest struct {
	ctx     context.Context
	req     Request
	events  chan Event
	sampler runtime.Sampler
}

// NewSingle starts a generator of m for prompts plus generations of up to
// maxLen tokens, holding one Sequence of that length. Close stops it.
func NewSingle(m *runtime.Model, maxLen int) (*Single, error) {
	seq, err := m.NewSequence(maxLen)
	if err != nil {
		return nil, err
	}
	s := &Single{
		vocab:  m.Config.VocabSize,
		seq:    seq,
		logits: make([]float32, m.Config.VocabSize),
		next:   make([]int, 1),
		done:   make(chan struct{}),
	}
	s.wake = sync.NewCond(&s.mu)
	s.kvPerToken = runtime.KVPageBytes(m.Config, 1, false)
	s.metrics.KVBytes = s.kvPerToken * int64(maxLen)
	go s.loop()
	return s, nil
}

// Submit queues a request; see Generator. MaxTokens <= 0 generates until
// a stop token or the end of the context.
func (s *Single) Submit(ctx context.Context, req Request) (<-chan Event, error) {
	if err := checkRequest(req, s.vocab, s.seq.Cap()); err != nil {
		return nil, err
	}
	if room := s.seq.Cap() - len(req.Prompt); req.MaxTokens <= 0 || req.MaxTokens > room {
		req.MaxTokens = room
	}
	r := &singleRequest{ctx: ctx, req: req, events: make(chan Event, req.MaxTokens+1), sampler: newSampler(req.Sampling)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	s.queue = append(s.queue, r)
	s.metrics.Waiting = len(s.queue)
	s.wake.Signal()
	return r.events, nil
}

// Metrics returns a snapshot of the generator's state.
func (s *Single) Metrics() Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metrics
}

// Close stops the generator, ending queued requests with an error event,
// and releases its sequence.
func (s *Single) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.wake.Signal()
	s.mu.Unlock()
	<-s.done
	s.seq.Release()
}

func (s *Single) loop() {
	defer close(s.done)
	for {
		s.mu.Lock()
		for !s.closed && len(s.queue) == 0 {
			s.wake.Wait()
		}
		if s.closed {
			queued := s.queue
			s.queue = nil
			s.mu.Unlock()
			for _, r := range queued {
				s.finish(r, Event{Finish: FinishError, Err: errClosed}, 0)
			}
			return
		}
		r := s.queue[0]
		s.queue = s.queue[1:]
		s.metrics.Waiting, s.metrics.Running = len(s.queue), 1
		s.mu.Unlock()
		s.run(r)
	}
}

// run generates r's tokens, sending their events.
func (s *Single) run(r *singleRequest) {
	prompt := len(r.req.Prompt)
	s.seq.Reset()
	err := s.seq.Forward(r.req.Prompt, prompt-1, s.logits)
	s.count(func(m *Metrics) {
		m.PromptTokens += uint64(prompt)
		m.KVBytesUsed = s.kvPerToken * int64(s.seq.Len())
	})
	generated := 0
	for err == nil {
		if r.ctx.Err() != nil {
			s.finish(r, Event{Finish: FinishCancelled, Err: r.ctx.Err()}, generated)
			return
		}
		tok := r.sampler.Next(s.logits)
		s.count(func(m *Metrics) { m.GeneratedTokens++ })
		if slices.Contains(r.req.Stop, tok) {
			s.finish(r, Event{Finish: FinishStop, Token: tok}, generated+1)
			return
		}
		r.events <- Event{Token: tok}
		if generated++; generated >= r.req.MaxTokens {
			s.finish(r, Event{Finish: FinishLength}, generated)
			return
		}
		s.next[0] = tok
		err = s.seq.Forward(s.next, 0, s.logits)
		s.count(func(m *Metrics) { m.KVBytesUsed = s.kvPerToken * int64(s.seq.Len()) })
	}
	s.finish(r, Event{Finish: FinishError, Err: err}, generated)
}

// finish sends r's final event, completion counting the stop token.
func (s *Single) finish(r *singleRequest, ev Event, completion int) {
	ev.Done = true
	ev.PromptTokens, ev.CompletionTokens = len(r.req.Prompt), completion
	r.events <- ev
	close(r.events)
	s.count(func(m *Metrics) {
		m.RequestsFinished++
		m.Running, m.KVBytesUsed = 0, 0
	})
}

// count updates the metrics under the lock.
func (s *Single) count(f func(m *Metrics)) {
	s.mu.Lock()
	f(&s.metrics)
	s.mu.Unlock()
}
