package runtime

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/qtk-dev/qtk/internal/fastmath"
)

// Sampler picks the next token from a row of logits. The zero value is
// greedy decoding.
type Sampler struct {
	// Temperature 0 means greedy (argmax).
	Temperature float64
	// TopP keeps the smallest set of tokens whose probability reaches it;
	// 0 or 1 keeps all.
	TopP float64
	Rand *rand.Rand
}

// Next returns the chosen token id.
func (sp *Sampler) Next(logits []float32) int {
	if sp.Temperature <= 0 || sp.Rand == nil {
		return argmax(logits)
	}
	type cand struct {
		id int
		p  float64
	}
	inv := float32(1 / sp.Temperature)
	max := logits[argmax(logits)]
	cands := make([]cand, len(logits))
	var sum float64
	for i, v := range logits {
		p := float64(fastmath.Exp((v - max) * inv))
		cands[i] = cand{i, p}
		sum += p
	}
	if sp.TopP > 0 && sp.TopP < 1 {
		sort.Slice(cands, func(a, b int) bool { return cands[a].p > cands[b].p })
		var kept float64
		for i, c := range cands {
			kept += c.p
			if kept >= sp.TopP*sum {
				cands = cands[:i+1]
				break
			}
		}
		sum = kept
	}
	r := sp.Rand.Float64() * sum
	for _, c := range cands {
		r -= c.p
		if r <= 0 {
			return c.id
		}
	}
	return cands[len(cands)-1].id
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// Generate runs the prompt and then produces up to n tokens, stopping
// early after a token for which stop returns true (that token is
// included). emit, when set, is called with each new token as it is made.
func (s *State) Generate(prompt []int, n int, sp *Sampler, stop func(int) bool, emit func(int)) ([]int, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("generate: empty prompt")
	}
	if s.length+len(prompt)+n > s.maxLen+1 {
		return nil, fmt.Errorf("generate: prompt of %d tokens plus %d new ones exceed the context of %d", len(prompt), n, s.maxLen)
	}
	vocab := s.m.Config.VocabSize
	logits := make([]float32, vocab)
	if err := s.Forward(prompt, len(prompt)-1, logits); err != nil {
		return nil, err
	}
	var out []int
	for len(out) < n {
		id := sp.Next(logits)
		out = append(out, id)
		if emit != nil {
			emit(id)
		}
		if (stop != nil && stop(id)) || len(out) == n {
			break
		}
		if err := s.Forward([]int{id}, 0, logits); err != nil {
			return out, err
		}
	}
	return out, nil
}
