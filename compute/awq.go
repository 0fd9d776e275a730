package compute

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/cuda"
	"github.com/qtk-dev/qtk/quant"
)

// AWQSearcher is a Resident backend that runs the heavy part of AWQ's
// scale and clip searches (package awq) on its device: the float layer's
// pass over the calibration tokens, the module of every grid point with
// its fake-quantized projection, the output error of every clip
// candidate. Package awq keeps the decisions (the grid, which loss wins,
// what is folded and clamped) and finds the backend by type assertion,
// searching on the host otherwise.
type AWQSearcher interface {
	Resident
	// NewAWQLayer holds a float decoder layer of shape for AWQ's
	// searches: w's norms and bias, and its projections, float32 linears
	// of this backend's NewLinear that must outlive the AWQLayer. With
	// tf32 the searches' products, and the Gram matrices the capture
	// sums for them, run on the tensor cores in TF32 (inputs rounded to
	// 10 bits of mantissa); the capture's pass stays in float32.
	NewAWQLayer(shape LayerShape, w ResidentWeights, tf32 bool) (AWQLayer, error)
	// ClipLosses returns the output errors of the clip search's
	// candidates for the weight w [out×in] on the inputs x [n×in]: at
	// (g·candidates + c)·out + r, for group g of row r (groups of
	// scheme.GroupSize channels, the whole row with -1) and candidate c,
	// the mean over the n inputs of (Σ_j x[t, j]·(ŵ_j - w_j))², ŵ the
	// group's weights clamped to ±absmax·(1 - c/steps), absmax their
	// largest |w|, and quantized with the clamped range's min-max
	// parameters.
	ClipLosses(w []float32, out, in int, x []float32, n int, scheme quant.Scheme, candidates, steps int) ([]float64, error)
}

// AWQLayer is a float decoder layer held for AWQ's searches, with what
// its pass over the calibration tokens left on the device.
type AWQLayer interface {
	// Capture runs the layer over x [windows × n × Hidden], each window
	// attending causally to itself, with float32 products, and keeps on
	// the device the inputs of the q/k/v and gate/up projections, the
	// Gram matrix xᵀx of the inputs x in opts.Keep (InputO, InputDown),
	// and the outputs of the attention block (after o_proj) and of the
	// MLP (after down_proj). It reports every projection input's
	// statistics. x is left as it was, or with opts.Advance replaced by
	// the layer's output.
	Capture(x Tensor, windows, n int, opts AWQCaptureOptions) (AWQCapture, error)
	// ScaleLosses returns, for each grid point i, the sum over all
	// captured tokens and hidden channels of the squared difference
	// between a module's output with the projection reading input
	// replaced by Q(W·diag(s_i))·diag(1/s_i), s_i = scales[i] and Q the
	// scheme's min-max quantization, and its float output:
	//   - InputQKV: the attention block on the captured normed inputs;
	//   - InputO: o_proj on its captured inputs, against the attention
	//     block's output;
	//   - InputGateUp: the MLP on its captured inputs;
	//   - InputDown: down_proj on its captured inputs, against the MLP's
	//     output.
	// The losses of o_proj and down_proj, whose float outputs are their
	// inputs x times the float weights, are Σ_r e_r·xᵀx·e_rᵀ over the
	// rows e_r of the weights' change, from the captured Gram matrix.
	ScaleLosses(input string, scales [][]float32, scheme quant.Scheme) ([]float64, error)

	// The scaled layer: a copy of the float projections, made on first
	// use, that the methods below change in place, so that AWQ's fold,
	// clip and final rounding run where the weights are. Rows are
	// those of the projection reading input (QKV's are q's, then k's,
	// then v's; GateUp's gate's, then up's).

	// FoldScales multiplies input channel c of input's projection by
	// s[c] and, for InputO and InputDown, divides by s the rows that
	// produce that input (v's rows of QKV, up's rows of GateUp), all in
	// float32 as package awq folds: a scale group's fold but for the
	// norm or bias, which stay with the caller.
	FoldScales(input string, s []float32) error
	// ScaledClipLosses is AWQSearcher.ClipLosses of rows [row0,
	// row0+rows) of input's scaled projection.
	ScaledClipLosses(input string, row0, rows int, x []float32, n int, scheme quant.Scheme, candidates, steps int) ([]float64, error)
	// ClampScaled clamps group g of each row r of rows [row0, row0+rows)
	// of input's scaled projection to ±absmax·(1 - chosen[g·rows +
	// r]/steps), absmax its largest |w| (groups of scheme.GroupSize
	// channels, the whole row with -1); a choice of 0 leaves the group
	// as it is.
	ClampScaled(input string, row0, rows int, chosen []int32, scheme quant.Scheme, steps int) error
	// RoundScaled returns rows [row0, row0+rows) of input's scaled
	// projection quantized by quant.RTN (no clip options), bit for bit.
	RoundScaled(input string, row0, rows int, scheme quant.Scheme) (*quant.Tensor, error)
	Release()
}

// AWQCaptureOptions says what AWQLayer.Capture keeps and does.
type AWQCaptureOptions struct {
	// Keep lists the inputs whose scale losses will be asked besides
	// InputQKV's and InputGateUp's: InputO, InputDown.
	Keep []string
	// Step is the stride of the sampled tokens; 0 samples none.
	Step int
	// Advance writes the layer's output over x: the next layer's inputs.
	Advance bool
}

// AWQCapture is what Capture reports of each projection input (InputQKV,
// InputO, InputGateUp, InputDown), keyed by input.
type AWQCapture struct {
	Tokens int
	// AbsSum is the sum of |x| of every channel over all tokens.
	AbsSum map[string][]float64
	// Sample holds the rows of tokens 0, step, 2·step, …, windows laid
	// end to end: [⌈Tokens/step⌉ × width]; nothing with step 0.
	Sample map[string][]float32
}

// quantGrid is scheme's grid for rows of in channels, as kernels take it.
func quantGrid(scheme quant.Scheme, in int) (cuda.QuantGrid, error) {
	if err := scheme.Validate(in); err != nil {
		return cuda.QuantGrid{}, err
	}
	size := scheme.GroupSize
	if size <= 0 {
		size = in
	}
	return cuda.QuantGrid{
		GroupSize: size, MaxQ: scheme.MaxQ(), MinZero: int(scheme.MinZero),
		Symmetric: scheme.Symmetric, BF16Scales: scheme.BF16Scales,
	}, nil
}

// checkClipJob reports arguments of ClipLosses that do not fit together.
func checkClipJob(lw, out, in, lx, n, candidates, steps int) error {
	switch {
	case out <= 0 || in <= 0 || n <= 0:
		return fmt.Errorf("clip losses of [%d×%d] on %d inputs", out, in, n)
	case lw < out*in || lx < n*in:
		return fmt.Errorf("clip losses of [%d×%d] on %d inputs from %d weights and %d inputs", out, in, n, lw, lx)
	case candidates <= 0 || steps <= 0 || candidates > steps:
		return fmt.Errorf("clip losses: %d candidates of %d steps", candidates, steps)
	}
	return nil
}
