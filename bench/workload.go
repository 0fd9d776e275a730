// Package bench measures a serving.Generator under load: a closed loop of
// concurrent clients sending requests of mixed prompt and generation
// lengths, reporting throughput, latency percentiles and KV cache use.
package bench

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/qtk-dev/qtk/serving"
)

// Length distributions of prompts and generations around their means.
const (
	Fixed       = "fixed"       // every request has the mean
	Uniform     = "uniform"     // uniform on [1, 2·mean−1]
	Exponential = "exponential" // exponential with the mean, capped at 4·mean (long-tailed, as chat traffic is)
)

// Workload describes the requests of a run.
type Workload struct {
	Requests  int
	PromptLen int // mean prompt length
	GenLen    int // mean generation length
	Lengths   string
	Seed      uint64
	// Text is a token stream prompts are cut from at random offsets; when
	// empty, prompts are random token ids below Vocab.
	Text  []int
	Vocab int
	// MaxPositions bounds prompt plus generation.
	MaxPositions int
	Sampling     serving.Sampling
}

// Build draws the requests, the same for a given seed.
func (w Workload) Build() ([]serving.Request, error) {
	switch {
	case w.Requests < 1 || w.PromptLen < 1 || w.GenLen < 1:
		return nil, fmt.Errorf("bench: requests, prompt and generation lengths must be positive (%d, %d, %d)", w.Requests, w.PromptLen, w.GenLen)
	case w.Lengths != Fixed && w.Lengths != Uniform && w.Lengths != Exponential:
		return nil, fmt.Errorf("bench: unknown length distribution %q (want %s, %s or %s)", w.Lengths, Fixed, Uniform, Exponential)
	case len(w.Text) == 0 && w.Vocab < 2:
		return nil, fmt.Errorf("bench: no text and no vocabulary to draw prompts from")
	}
	rng := rand.New(rand.NewPCG(w.Seed, 0x5eed))
	reqs := make([]serving.Request, w.Requests)
	for i := range reqs {
		p := w.draw(rng, w.PromptLen)
		g := w.draw(rng, w.GenLen)
		if room := w.MaxPositions - 1; p+g > room {
			p = min(p, room/2)
			g = min(g, room-p)
		}
		prompt := make([]int, p)
		if len(w.Text) > 0 {
			// A window at a random offset, wrapping around a short text.
			start := rng.IntN(len(w.Text))
			for j := range prompt {
				prompt[j] = w.Text[(start+j)%len(w.Text)]
			}
		} else {
			for j := range prompt {
				prompt[j] = 1 + rng.IntN(w.Vocab-1)
			}
		}
		reqs[i] = serving.Request{Prompt: prompt, MaxTokens: g, Sampling: w.Sampling}
		if w.Sampling.Temperature > 0 {
			reqs[i].Sampling.Seed = w.Sampling.Seed + uint64(i)
		}
	}
	return reqs, nil
}

// draw returns a length with the given mean.
func (w Workload) draw(rng *rand.Rand, mean int) int {
	switch w.Lengths {
	case Uniform:
		return 1 + rng.IntN(2*mean-1)
	case Exponential:
		return max(1, min(4*mean, int(math.Round(rng.ExpFloat64()*float64(mean)))))
	}
	return mean
}
