package runtime

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSamplerProbs(t *testing.T) {
	logits := []float32{1, 3, 2, 0}
	softmax := func(ids ...int) []float64 {
		out := make([]float64, len(logits))
		var sum float64
		for _, id := range ids {
			out[id] = math.Exp(float64(logits[id]))
			sum += out[id]
		}
		for i := range out {
			out[i] /= sum
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 0))
	tests := []struct {
		name string
		sp   Sampler
		want []float64
	}{
		{"greedy", Sampler{}, []float64{0, 1, 0, 0}},
		{"no random source is greedy", Sampler{Temperature: 1}, []float64{0, 1, 0, 0}},
		{"temperature 1", Sampler{Temperature: 1, Rand: rng}, softmax(0, 1, 2, 3)},
		{"top-k 2", Sampler{Temperature: 1, TopK: 2, Rand: rng}, softmax(1, 2)},
		{"top-p 0.9", Sampler{Temperature: 1, TopP: 0.9, Rand: rng}, softmax(0, 1, 2)},
		{"top-p small keeps one", Sampler{Temperature: 1, TopP: 0.1, Rand: rng}, softmax(1)},
		{"top-k then top-p", Sampler{Temperature: 1, TopK: 3, TopP: 0.5, Rand: rng}, softmax(1)},
	}
	for _, tt := range tests {
		got := make([]float64, len(logits))
		tt.sp.Probs(got, logits)
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-6 {
				t.Errorf("%s: probs %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}

// TestSamplerPickFollowsProbs checks the empirical frequencies of Next and
// that a seed fixes the sequence.
func TestSamplerPickFollowsProbs(t *testing.T) {
	logits := []float32{0, 1, 2}
	sp := Sampler{Temperature: 1, Rand: rand.New(rand.NewPCG(7, 0))}
	want := make([]float64, 3)
	sp.Probs(want, logits)
	counts := make([]float64, 3)
	const n = 20000
	var first []int
	for i := 0; i < n; i++ {
		id := sp.Next(logits)
		counts[id]++
		if i < 20 {
			first = append(first, id)
		}
	}
	for i := range counts {
		if math.Abs(counts[i]/n-want[i]) > 0.015 {
			t.Errorf("token %d drawn %.3f of the time, want %.3f", i, counts[i]/n, want[i])
		}
	}
	again := Sampler{Temperature: 1, Rand: rand.New(rand.NewPCG(7, 0))}
	for i, id := range first {
		if got := again.Next(logits); got != id {
			t.Fatalf("draw %d with the same seed: %d, first run %d", i, got, id)
		}
	}
}
