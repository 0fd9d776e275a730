package awq

import (
	"fmt"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/quant"
)

// Defaults of the reference implementation (llm-awq).
const (
	// DefaultGrid is the number of scale exponents tried per group:
	// ratios 0, 1/20, ..., 19/20 (llm-awq's n_grid).
	DefaultGrid = 20
	// DefaultClipTokens is the number of calibration tokens the clip
	// search aims to sample (llm-awq's n_sample_token).
	DefaultClipTokens = 512
)

// Options configures [Layer].
type Options struct {
	// Scheme is the integer grid every linear is quantized to.
	Scheme quant.Scheme
	// Grid is the number of scale exponents tried per group, ratios
	// i/Grid for i = 0..Grid-1; 0 means DefaultGrid. Ratio 0 is plain
	// RTN, so the search never does worse than RTN on its own loss.
	Grid int
	// Clip runs the clip search after scaling, on every linear but q
	// and k.
	Clip bool
	// ClipTokens sets how many calibration tokens the clip search uses;
	// 0 means DefaultClipTokens. As in llm-awq, tokens are taken at a
	// fixed stride, every ⌊tokens/ClipTokens⌋-th token of all windows
	// laid end to end starting with the first, so between ClipTokens and
	// 2·ClipTokens-1 tokens are used (all of them when there are fewer
	// than ClipTokens). With the reference's 128 windows of 512 tokens
	// that is exactly 512 tokens: positions 0, 128, 256 and 384 of every
	// window.
	ClipTokens int
	// Backend runs the layer's projections during the searches; nil
	// means compute.CPU.
	Backend compute.Backend
	// DeviceInputs, when set, holds the calibration activations (acts.X,
	// windows end to end) on the Backend's device, for searches that run
	// there (a compute.AWQSearcher) to read instead of uploading acts.X.
	DeviceInputs compute.Tensor
	// AdvanceDeviceInputs has Layer write over DeviceInputs, in its pass
	// over the tokens, the float layer's output: the next layer's inputs,
	// as the reference feeds it. Result.DeviceInputsAdvanced says whether
	// it did (it does where its searches run on the device).
	AdvanceDeviceInputs bool
	// TF32 runs the products of searches on a device in TF32 on its
	// tensor cores instead of float32: several times faster, with inputs
	// rounded to 10 bits of mantissa, which may move close losses.
	TF32 bool
	// RoundOnDevice, where the searches run on a device, folds the
	// scales into the linears, clips and rounds them there too, from
	// the float projections already there: the scaled float linears
	// never come to the host, and Layer leaves w's linear fields nil,
	// Result.Tensors holding them. The result is the host's, bit for
	// bit. A caller that goes on with the scaled float linears (GPTQ
	// after AWQ, other encodings) leaves it unset.
	RoundOnDevice bool
	// Log, when set, receives one line per scale group and clipped
	// linear.
	Log func(format string, args ...any)
}

// resolved returns the options with defaults filled in, or an error for
// settings that make no sense.
func (o Options) resolved() (Options, error) {
	switch {
	case o.Grid < 0:
		return o, fmt.Errorf("grid of %d ratios: want a positive count, or 0 for the default %d", o.Grid, DefaultGrid)
	case o.ClipTokens < 0:
		return o, fmt.Errorf("%d clip tokens: want a positive count, or 0 for the default %d", o.ClipTokens, DefaultClipTokens)
	}
	if o.Grid == 0 {
		o.Grid = DefaultGrid
	}
	if o.ClipTokens == 0 {
		o.ClipTokens = DefaultClipTokens
	}
	if o.Backend == nil {
		o.Backend = compute.CPU
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o, nil
}
