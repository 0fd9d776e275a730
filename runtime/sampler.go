package runtime

import (
	"math/rand/v2"
	"sort"

	"github.com/qtk-dev/qtk/internal/fastmath"
)

// Sampler picks the next token from a row of logits. The zero value is
// greedy decoding.
type Sampler struct {
	// Temperature 0 means greedy (argmax).
	Temperature float64
	// TopK keeps the k most likely tokens; 0 keeps all.
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches it; 0 or 1 keeps all.
	TopP float64
	Rand *rand.Rand

	order []int // scratch for TopK and TopP
}

// Greedy reports whether the sampler always picks the most likely token.
func (sp *Sampler) Greedy() bool { return sp.Temperature <= 0 || sp.Rand == nil }

// Next returns the chosen token id.
func (sp *Sampler) Next(logits []float32) int {
	if sp.Greedy() {
		return Argmax(logits)
	}
	probs := make([]float64, len(logits))
	sp.Probs(probs, logits)
	return sp.Pick(probs)
}

// Probs writes the distribution Next draws from to probs: the softmax of
// logits/Temperature restricted to the top-k tokens, then to the top-p
// nucleus, renormalized. A greedy sampler puts all the mass on the argmax.
func (sp *Sampler) Probs(probs []float64, logits []float32) {
	probs = probs[:len(logits)]
	if sp.Greedy() {
		clear(probs)
		probs[Argmax(logits)] = 1
		return
	}
	inv := float32(1 / sp.Temperature)
	max := logits[Argmax(logits)]
	var sum float64
	for i, v := range logits {
		probs[i] = float64(fastmath.Exp((v - max) * inv))
		sum += probs[i]
	}
	keepK := sp.TopK > 0 && sp.TopK < len(logits)
	keepP := sp.TopP > 0 && sp.TopP < 1
	if keepK || keepP {
		order := sp.order[:0]
		for i := range probs {
			order = append(order, i)
		}
		sort.Slice(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
		sp.order = order
		kept := len(order)
		if keepK {
			kept = sp.TopK
		}
		if keepP {
			var mass float64
			for i, id := range order[:kept] {
				mass += probs[id]
				if mass >= sp.TopP*sum {
					kept = i + 1
					break
				}
			}
		}
		sum = 0
		for _, id := range order[:kept] {
			sum += probs[id]
		}
		for _, id := range order[kept:] {
			probs[id] = 0
		}
	}
	for i := range probs {
		probs[i] /= sum
	}
}

// Pick draws a token from a distribution that sums to 1.
func (sp *Sampler) Pick(probs []float64) int {
	r := sp.Rand.Float64()
	last := 0
	for id, p := range probs {
		if p <= 0 {
			continue
		}
		last = id
		if r -= p; r < 0 {
			return id
		}
	}
	return last // rounding left r just above the total
}

// Argmax returns the index of the largest value (the first, on ties): the
// greedy choice.
func Argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
