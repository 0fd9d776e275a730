package quant

import "fmt"

// ClipSearch configures the MSE clip search: per group, instead of the
// plain min-max range [lo, hi], use the shrunk range [f·lo, f·hi] whose
// quantized weights have the least squared error, optionally weighted per
// input channel. Weights outside the shrunk range are clamped to the grid,
// so a shrunk range wins only where the finer grid for the other weights
// outweighs that clamping error: typically groups with a few outliers.
//
// Weighted by the mean of x² per input channel over calibration
// activations x, the error is the diagonal approximation of the layer's
// output error, which llm-awq's clip search measures directly.
//
// The factors tried are f = 1 - i/Steps for i = 0, 1, ... while
// i/Steps < MaxShrink, as llm-awq's auto_clip and GPTQ's mse option do
// (20 steps and max shrink 0.5 try 1.00, 0.95, ..., 0.55). f = 1 is the
// plain min-max range, so the search is never worse than it in the error
// it minimizes; ties keep the larger range.
type ClipSearch struct {
	// Steps is the grid size; 0 means 20.
	Steps int
	// MaxShrink bounds the fraction of the range removed, in [0, 1);
	// 0 means 0.5.
	MaxShrink float32
}

// Default grid of the clip search (llm-awq's n_grid and max_shrink).
const (
	DefaultClipSteps     = 20
	DefaultClipMaxShrink = 0.5
)

// Validate checks the search's settings.
func (c ClipSearch) Validate() error {
	_, _, err := c.candidates()
	return err
}

// candidates returns the grid size and the number of factors tried, with
// defaults applied.
func (c ClipSearch) candidates() (steps, n int, err error) {
	steps, shrink := c.Steps, c.MaxShrink
	if steps == 0 {
		steps = DefaultClipSteps
	}
	if shrink == 0 {
		shrink = DefaultClipMaxShrink
	}
	if steps < 0 {
		return 0, 0, fmt.Errorf("clip search: %d steps is negative", c.Steps)
	}
	if !(shrink > 0 && shrink < 1) {
		return 0, 0, fmt.Errorf("clip search: max shrink %v is outside [0, 1)", c.MaxShrink)
	}
	// Compared in float32, the precision shrink was given in, so that
	// 0.8 with 100 steps stops before i = 80.
	n = 1
	for float32(n)/float32(steps) < shrink {
		n++
	}
	return steps, n, nil
}

// ClipParams returns the scale and zero point of one group of weights
// chosen by the clip search c. importance weighs the squared error of each
// weight (nil: uniform); it must hold len(w) non-negative values. Settings
// that fail [ClipSearch.Validate] fall back to plain min-max ([RTN]
// reports them as an error instead).
func (s Scheme) ClipParams(w, importance []float32, c ClipSearch) (scale float32, zero uint8) {
	scale, zero = s.Params(w)
	steps, n, err := c.candidates()
	if err != nil {
		return scale, zero
	}
	lo, hi := w[0], w[0]
	for _, v := range w[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	maxq := s.MaxQ()
	best := groupError(w, importance, scale, zero, maxq)
	for i := 1; i < n; i++ {
		f := 1 - float32(i)/float32(steps)
		sc, z := s.RangeParams(f*lo, f*hi)
		if e := groupError(w, importance, sc, z, maxq); e < best {
			best, scale, zero = e, sc, z
		}
	}
	return scale, zero
}

// groupError is the (weighted) squared error of quantizing w on the grid
// of (scale, zero), accumulated in float64.
func groupError(w, importance []float32, scale float32, zero uint8, maxq int) float64 {
	var sum float64
	for j, x := range w {
		d := float64(x - Dequantize(Quantize(x, scale, zero, maxq), scale, zero))
		e := d * d
		if importance != nil {
			e *= float64(importance[j])
		}
		sum += e
	}
	return sum
}
