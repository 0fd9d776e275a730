package serving

import (
	"context"
	"slices"
	"time"

	"github.com/qtk-dev/qtk/runtime"
)

// sequence is one request inside the engine.
type sequence struct {
	ctx     context.Context
	req     Request
	events  chan Event
	sampler runtime.Sampler
	arrived time.Time

	tokens        []int // the prompt, then the generated tokens
	prompt        int
	target, draft blockTable
	admitted      uint64 // admission order; the newest is preempted first
	ended         bool
	padding       bool // static batching: ended, still computed until its batch ends

	// This step's plan: tokens to run (from target.computed on) and the
	// draft's proposals with their distributions (nil when greedy).
	chunk      int
	drafted    []int
	draftProbs [][]float64
	speculate  int // draft tokens planned
}

func (s *sequence) generated() int { return len(s.tokens) - s.prompt }

// pending is the number of known tokens not yet in the target's cache.
func (s *sequence) pending() int { return len(s.tokens) - s.target.computed }

// logitRows is how many rows of logits this step's chunk yields: none in
// the middle of a prompt, else one after the last known token and one
// after each draft token.
func (s *sequence) logitRows() int {
	if s.chunk < s.pending() {
		return 0
	}
	return 1 + len(s.drafted)
}

// emit reports a new token and whether the sequence must end, with the
// reason.
func (s *sequence) emit(tok, maxPositions int) (done bool, finish string) {
	if slices.Contains(s.req.Stop, tok) {
		return true, FinishStop
	}
	s.tokens = append(s.tokens, tok)
	s.events <- Event{Token: tok}
	if s.generated() >= s.req.MaxTokens || len(s.tokens) >= maxPositions {
		return true, FinishLength
	}
	return false, ""
}
