package serving

import (
	"slices"
	"time"

	"github.com/qtk-dev/qtk/runtime"
)

// step runs one iteration: it drops cancelled sequences, plans which
// tokens of which sequences run, runs them as one batch and hands out the
// new tokens.
func (e *Engine) step() {
	e.dropCancelled()
	var plan []*sequence
	var pads []runtime.SeqChunk
	if e.cfg.StaticBatch > 0 {
		plan, pads = e.planStatic()
	} else {
		plan = e.plan()
	}
	if len(plan) == 0 {
		if len(e.running) == 0 && len(e.waiting) > 0 {
			time.Sleep(time.Millisecond) // a static batch filling up
		}
		return
	}
	if e.draft != nil {
		e.propose(plan)
	}
	chunks, rows := e.chunks(plan)
	vocab := e.target.Config.VocabSize
	logits := e.logitsBuffer(rows * vocab)
	err := e.cache.runner.Forward(append(chunks, pads...), logits)
	for _, c := range pads {
		for _, id := range c.Pages {
			e.cache.pool.release(id)
		}
	}
	if err != nil {
		for _, s := range plan {
			e.finish(s, Event{Finish: FinishError, Err: err})
		}
		e.removeEnded()
		return
	}
	for _, s := range plan {
		rows := s.logitRows()
		e.commit(s, logits[:rows*vocab])
		logits = logits[rows*vocab:]
	}
	e.removeEnded()
	if e.cfg.StaticBatch > 0 {
		e.endStaticBatch()
	}
}

func (e *Engine) logitsBuffer(n int) []float32 {
	if cap(e.logits) < n {
		e.logits = make([]float32, n)
	}
	return e.logits[:n]
}

// chunks turns the plan into the target's forward pass, and counts the
// rows of logits it yields.
func (e *Engine) chunks(plan []*sequence) ([]runtime.SeqChunk, int) {
	chunks := make([]runtime.SeqChunk, 0, len(plan))
	rows := 0
	for _, s := range plan {
		from := s.target.computed
		c := runtime.SeqChunk{
			Tokens: slices.Concat(s.tokens[from:from+s.chunk], s.drafted),
			Pos:    from,
			Pages:  s.target.pages,
		}
		c.Logits = s.logitRows()
		rows += c.Logits
		chunks = append(chunks, c)
	}
	return chunks, rows
}

// plan picks this step's work under the token budget: running sequences
// first, oldest first (decode tokens, then the next chunk of a prompt),
// then waiting ones while pages and budget remain. When the pool runs
// dry, the newest running sequence is preempted: its pages are freed and
// it waits to be recomputed.
func (e *Engine) plan() []*sequence {
	budget := e.cfg.MaxBatchTokens
	var plan []*sequence
	preempted := false
	for i := 0; i < len(e.running) && budget > 0; i++ {
		s := e.running[i]
		s.chunk = min(s.pending(), budget)
		s.speculate = 0
		if e.draft != nil && s.pending() == 1 {
			s.speculate = min(e.cfg.DraftTokens, budget-1, e.room(s)-1)
		}
		for !e.cache.reserve(&s.target, s.target.computed+s.chunk+s.speculate) {
			victim := e.running[len(e.running)-1]
			e.preempt(victim)
			preempted = true
			if victim == s {
				return plan
			}
		}
		budget -= s.chunk + s.speculate
		plan = append(plan, s)
	}
	for !preempted && budget > 0 && len(e.waiting) > 0 && len(e.running) < e.cfg.MaxRunning {
		s := e.waiting[0]
		if e.cache.pagesFor(len(s.tokens)+1) > e.cache.pool.size() {
			// Even the whole budget cannot hold this sequence any longer.
			e.waiting = e.waiting[1:]
			e.finish(s, Event{Finish: FinishLength})
			continue
		}
		e.cache.share(&s.target, s.tokens)
		s.chunk = min(s.pending(), budget)
		s.speculate = 0
		// Admit only with a page in hand for every running sequence to
		// grow by, so that admission does not cause preemption.
		need := e.cache.pagesFor(s.target.computed+s.chunk) - len(s.target.pages) + 1
		if e.cache.pool.available() < need+len(e.running) || !e.cache.reserve(&s.target, s.target.computed+s.chunk) {
			e.cache.releaseAll(&s.target)
			break
		}
		e.waiting = e.waiting[1:]
		e.admissions++
		s.admitted = e.admissions
		e.running = append(e.running, s)
		budget -= s.chunk
		plan = append(plan, s)
	}
	return plan
}

// room is how many more tokens s may generate.
func (e *Engine) room(s *sequence) int {
	return min(s.req.MaxTokens-s.generated(), e.target.Config.MaxPositions-len(s.tokens))
}

// preempt frees a running sequence's pages and puts it back at the head
// of the queue; its prompt and generated tokens are recomputed when it
// is admitted again.
func (e *Engine) preempt(s *sequence) {
	e.release(s)
	e.running = slices.DeleteFunc(e.running, func(r *sequence) bool { return r == s })
	e.waiting = slices.Insert(e.waiting, 0, s)
	e.count(func(m *Metrics) { m.Preemptions++ })
}

// release frees s's pages in both caches.
func (e *Engine) release(s *sequence) {
	e.cache.releaseAll(&s.target)
	if e.draft != nil {
		e.draft.releaseAll(&s.draft)
	}
}

// commit records that s's chunk ran and, when the chunk reached the end
// of its known tokens, picks the next token(s) from logits.
func (e *Engine) commit(s *sequence, logits []float32) {
	from := s.target.computed
	s.target.computed += s.chunk
	e.count(func(m *Metrics) {
		if from < s.prompt {
			m.PromptTokens += uint64(min(s.target.computed, s.prompt) - from)
		}
	})
	if len(logits) == 0 {
		e.cache.index(&s.target, s.tokens)
		return
	}
	if s.padding {
		s.tokens = append(s.tokens, 0)
		return
	}
	var next []int
	if len(s.drafted) > 0 {
		next = e.verify(s, logits)
	} else {
		next = []int{s.sampler.Next(logits)}
	}
	e.cache.truncate(&s.target, s.target.computed)
	maxPos := e.target.Config.MaxPositions
	for _, tok := range next {
		e.count(func(m *Metrics) { m.GeneratedTokens++ })
		if done, why := s.emit(tok, maxPos); done {
			ev := Event{Finish: why}
			if why == FinishStop {
				ev.Token = tok
			}
			e.finish(s, ev)
			return
		}
	}
	// Accepted drafts are in the cache now that they are in s.tokens.
	e.cache.index(&s.target, s.tokens)
}

// finish sends s's final event and frees its pages (static batching keeps
// them while the batch runs).
func (e *Engine) finish(s *sequence, ev Event) {
	if s.ended {
		return
	}
	s.ended = true
	ev.Done = true
	ev.PromptTokens = s.prompt
	ev.CompletionTokens = s.generated()
	if ev.Finish == FinishStop {
		ev.CompletionTokens++
	}
	s.events <- ev
	close(s.events)
	e.count(func(m *Metrics) { m.RequestsFinished++ })
	if e.cfg.StaticBatch > 0 && ev.Finish != FinishCancelled && ev.Finish != FinishError && len(s.tokens) < e.target.Config.MaxPositions {
		s.padding = true
		return
	}
	e.release(s)
}

// removeEnded drops ended sequences from the running set, except static
// batching's padding.
func (e *Engine) removeEnded() {
	e.running = slices.DeleteFunc(e.running, func(s *sequence) bool { return s.ended && !s.padding })
}

// dropCancelled ends the sequences whose context is done.
func (e *Engine) dropCancelled() {
	cancelled := func(s *sequence) bool {
		if s.ended || s.ctx.Err() == nil {
			return false
		}
		e.finish(s, Event{Finish: FinishCancelled, Err: s.ctx.Err()})
		return true
	}
	e.waiting = slices.DeleteFunc(e.waiting, cancelled)
	for _, s := range e.running {
		cancelled(s)
	}
	e.removeEnded()
}
