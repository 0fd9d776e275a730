package serving

import (
	"math"
	"slices"

	"github.com/qtk-dev/qtk/runtime"
)

// propose runs the draft model over the sequences that speculate this
// step: its first pass catches the draft's cache up with the sequence and
// proposes one token, each further pass proposes one more. All
// speculating sequences run as one batch per pass.
func (e *Engine) propose(plan []*sequence) {
	var spec []*sequence
	rounds := 0
	for _, s := range plan {
		s.drafted, s.draftProbs = s.drafted[:0], s.draftProbs[:0]
		if s.speculate > 0 {
			spec = append(spec, s)
			rounds = max(rounds, s.speculate)
		}
	}
	vocab, outputs := e.target.Config.VocabSize, e.cfg.Draft.OutputSize()
	for round := 0; round < rounds; round++ {
		var chunks []runtime.SeqChunk
		var active []*sequence
		for _, s := range spec {
			if len(s.drafted) != round || round >= s.speculate {
				continue // done, or the draft cache ran out
			}
			tokens := s.drafted[max(round-1, 0):]
			if round == 0 {
				tokens = s.tokens[s.draft.computed:]
			}
			if !e.draft.reserve(&s.draft, s.draft.computed+len(tokens)) {
				continue
			}
			chunks = append(chunks, runtime.SeqChunk{Tokens: tokens, Pos: s.draft.computed, Pages: s.draft.pages, Logits: 1})
			active = append(active, s)
		}
		if len(active) == 0 {
			break
		}
		logits := make([]float32, len(active)*outputs)
		if err := e.draft.runner.Forward(chunks, logits); err != nil {
			// The target still decodes these sequences, one token each.
			break
		}
		for i, s := range active {
			s.draft.computed += len(chunks[i].Tokens)
			row := logits[i*outputs : (i+1)*outputs]
			best := runtime.Argmax(row)
			// Decided on the draft's distribution, not on the token drawn
			// from it, so that a token proposed is still drawn from q.
			if e.cfg.DraftMinProb > 0 && topProb(row, best) < e.cfg.DraftMinProb {
				s.speculate = round // no further rounds for s
				continue
			}
			if s.sampler.Greedy() {
				s.drafted = append(s.drafted, e.cfg.Draft.OutputID(best))
				continue
			}
			// q is the draft's distribution over the whole vocabulary
			// (zero outside a restricted output layer), as the
			// rejection sampling in verify needs it.
			q := make([]float64, vocab)
			s.sampler.Probs(q[:outputs], row)
			if outputs < vocab {
				restricted := slices.Clone(q[:outputs])
				clear(q)
				for j, p := range restricted {
					q[e.cfg.Draft.OutputID(j)] = p
				}
			}
			s.drafted = append(s.drafted, s.sampler.Pick(q))
			s.draftProbs = append(s.draftProbs, q)
		}
	}
	for _, s := range spec {
		s.speculate = len(s.drafted)
	}
}

// topProb is the softmax probability of logits[best], best being the
// argmax.
func topProb(logits []float32, best int) float64 {
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v - logits[best]))
	}
	return 1 / sum
}

// verify checks s's drafted tokens against the target's logits, one row
// after the sequence's last token and one after each drafted token, and
// returns the accepted drafts plus one token from the target. It moves the
// caches back to the accepted tokens.
//
// Greedy sequences accept a draft token exactly when it is the target's
// argmax. Sampled ones use the rejection sampling of Leviathan, Kalman and
// Matias, "Fast Inference from Transformers via Speculative Decoding"
// (ICML 2023): accept draft token x with probability min(1, p(x)/q(x)),
// and on rejection draw from the normalized max(0, p−q), which leaves the
// output distributed exactly as the target's p.
func (e *Engine) verify(s *sequence, logits []float32) []int {
	vocab := e.target.Config.VocabSize
	known := len(s.tokens) // the sequence before this step's drafts
	var out []int
	p := make([]float64, vocab)
	accepted := 0
	for i, d := range s.drafted {
		row := logits[i*vocab : (i+1)*vocab]
		tok, ok := runtime.Argmax(row), false
		if s.sampler.Greedy() {
			ok = tok == d
		} else {
			s.sampler.Probs(p, row)
			tok, ok = acceptDraft(&s.sampler, p, s.draftProbs[i], d)
		}
		out = append(out, tok)
		if !ok {
			break
		}
		accepted++
	}
	if accepted == len(s.drafted) {
		out = append(out, s.sampler.Next(logits[accepted*vocab:(accepted+1)*vocab]))
	}
	e.count(func(m *Metrics) {
		m.DraftProposed += uint64(len(s.drafted))
		m.Accepted += uint64(accepted)
	})
	// The target stored the last known token and every draft; keep those
	// accepted. The draft stored all but its last proposal.
	s.target.computed += accepted
	e.cache.truncate(&s.target, s.target.computed)
	e.draft.truncate(&s.draft, min(s.draft.computed, known+accepted))
	return slices.Clip(out)
}

// acceptDraft decides on draft token d drawn from q, given the target's p:
// it returns d and true with probability min(1, p(d)/q(d)), else a token
// drawn from the normalized max(0, p−q) and false. p is overwritten.
func acceptDraft(sp *runtime.Sampler, p, q []float64, d int) (int, bool) {
	if sp.Rand.Float64()*q[d] < p[d] {
		return d, true
	}
	return sp.Pick(residual(p, q)), false
}

// residual writes the normalized max(0, p−q) over p.
func residual(p, q []float64) []float64 {
	var sum float64
	for i := range p {
		p[i] = max(0, p[i]-q[i])
		sum += p[i]
	}
	if sum == 0 {
		// p equals q: any draw from p is exact. (Rejection cannot happen
		// then, but rounding is not exact.)
		for i := range p {
			p[i] = q[i]
		}
		return p
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}
