package serving

import (
	"errors"
	"slices"
	"time"

	"github.com/qtk-dev/qtk/runtime"
)

// planStatic plans a step of static batching. With nothing running it
// starts a batch once StaticBatch requests wait (or no request has
// arrived for staticFlush): whole prompts in one pass, each padded to the longest
// with throwaway rows. Then every sequence of the batch, padding
// included, decodes one token per step until all have ended.
func (e *Engine) planStatic() ([]*sequence, []runtime.SeqChunk) {
	if len(e.running) > 0 {
		return e.planStaticDecode(), nil
	}
	if len(e.waiting) == 0 || (len(e.waiting) < e.cfg.StaticBatch && time.Since(e.waiting[len(e.waiting)-1].arrived) < staticFlush) {
		return nil, nil
	}
	longest := 0
	for len(e.running) < e.cfg.StaticBatch && len(e.waiting) > 0 {
		s := e.waiting[0]
		if !e.cache.reserve(&s.target, len(s.tokens)) {
			e.cache.releaseAll(&s.target)
			if len(e.running) == 0 {
				e.waiting = e.waiting[1:]
				e.finish(s, Event{Finish: FinishLength})
				continue
			}
			break
		}
		e.waiting = e.waiting[1:]
		s.chunk = len(s.tokens)
		longest = max(longest, len(s.tokens))
		e.running = append(e.running, s)
	}
	var pads []runtime.SeqChunk
	for _, s := range e.running {
		pad := runtime.SeqChunk{Tokens: make([]int, longest-len(s.tokens))}
		for i := 0; i < e.cache.pagesFor(len(pad.Tokens)); i++ {
			id, ok := e.cache.pool.alloc()
			if !ok {
				break
			}
			pad.Pages = append(pad.Pages, id)
		}
		if len(pad.Tokens) == 0 || len(pad.Pages) < e.cache.pagesFor(len(pad.Tokens)) {
			for _, id := range pad.Pages {
				e.cache.pool.release(id)
			}
			continue
		}
		pads = append(pads, pad)
	}
	return e.running, pads
}

// planStaticDecode gives every sequence of the running batch one token;
// padding that no longer fits the cache or the context stops.
func (e *Engine) planStaticDecode() []*sequence {
	var plan []*sequence
	for _, s := range e.running {
		s.chunk = 1
		fits := len(s.tokens) < e.target.Config.MaxPositions && e.cache.reserve(&s.target, s.target.computed+1)
		switch {
		case fits:
			plan = append(plan, s)
		case s.padding:
			s.padding = false
			e.release(s)
		default:
			e.finish(s, Event{Finish: FinishError, Err: errStaticCache})
		}
	}
	e.removeEnded()
	return plan
}

var errStaticCache = errors.New("serving: a static batch ran out of KV cache")

// endStaticBatch frees the running batch once every sequence in it has
// ended.
func (e *Engine) endStaticBatch() {
	if slices.ContainsFunc(e.running, func(s *sequence) bool { return !s.padding }) {
		return
	}
	for _, s := range e.running {
		e.release(s)
	}
	e.running = nil
}
