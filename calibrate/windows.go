// Package calibrate prepares calibration data and walks it through a model
// layer by layer: only the layer being quantized is held in float32, with
// the activations of every calibration sample.
package calibrate

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"unicode/utf8"
)

// Options selects the calibration windows.
type Options struct {
	Samples int    // number of windows (default 128)
	SeqLen  int    // tokens per window (default 512)
	Seed    uint64 // random seed of the window offsets
}

// WithDefaults fills unset fields with the defaults of the reference
// GPTQ and AWQ setups.
func (o Options) WithDefaults() Options {
	if o.Samples == 0 {
		o.Samples = 128
	}
	if o.SeqLen == 0 {
		o.SeqLen = 512
	}
	return o
}

// ErrTooShort reports calibration text with fewer tokens than one window.
var ErrTooShort = errors.New("calibration text is shorter than one window")

// ReadText reads a calibration text file: non-empty UTF-8.
func ReadText(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(data) == 0 {
		return "", fmt.Errorf("%s: calibration file is empty", path)
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("%s: calibration file is not UTF-8 text", path)
	}
	return string(data), nil
}

// Windows draws opts.Samples windows of opts.SeqLen consecutive tokens at
// uniformly random offsets, reproducibly from opts.Seed (the sampling of
// the reference GPTQ code, with qtk's own generator).
func Windows(tokens []int, opts Options) ([][]int, error) {
	opts = opts.WithDefaults()
	if opts.Samples < 1 || opts.SeqLen < 2 {
		return nil, fmt.Errorf("need at least 1 sample of at least 2 tokens, got %d × %d", opts.Samples, opts.SeqLen)
	}
	if len(tokens) < opts.SeqLen {
		return nil, fmt.Errorf("%w: %d tokens, window of %d", ErrTooShort, len(tokens), opts.SeqLen)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	windows := make([][]int, opts.Samples)
	for i := range windows {
		start := rng.IntN(len(tokens) - opts.SeqLen + 1)
		windows[i] = tokens[start : start+opts.SeqLen]
	}
	return windows, nil
}
