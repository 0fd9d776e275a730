package awq

import (
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
)

// Result is the outcome of [Layer].
type Result struct {
	// Tensors holds the quantized weight of each linear of the layer,
	// keyed by role: model.AttnQ, AttnK, AttnV, AttnO, FFNGate, FFNUp and
	// FFNDown. They dequantize to weights for the scaled layer: use them
	// with the norms (and biases) Layer left in its LayerWeights.
	Tensors map[model.Role]*quant.Tensor
	// Scales reports each scale group searched, in layer order.
	Scales []ScaleReport
	// Clips reports the clip search of v, o, gate, up and down, in layer
	// order; empty without Options.Clip.
	Clips []ClipReport
	// DeviceInputsAdvanced is set when Options.DeviceInputs hold the next
	// layer's inputs (Options.AdvanceDeviceInputs).
	DeviceInputsAdvanced bool
}

// ScaleReport is the scale search of one group: linears sharing an input,
// scaled up per input channel, with the inverse scales folded into the
// operation producing that input.
type ScaleReport struct {
	// Prev is the producer of the input: model.AttnNorm, AttnV,
	// FFNNorm or FFNUp.
	Prev model.Role
	// Linears are the linears reading it.
	Linears []model.Role
	// Losses holds the mean squared error of the inspected module's
	// output against the float layer's, one per grid point: Losses[i]
	// is ratio i/Grid, Losses[0] plain RTN. The module is the
	// self-attention for q, k and v, the MLP for gate and up, and the
	// linear itself for o and down.
	Losses []float64
	// Best is the index of the least loss (the first, on ties), and
	// Ratio = Best/Grid its exponent.
	Best  int
	Ratio float64
	// Scales are the per-channel scales s = x_mean^Ratio (normalized)
	// folded into the layer.
	Scales []float32
}

// ClipReport is the clip search of one linear.
type ClipReport struct {
	Linear model.Role
	// Tokens is the number of sampled calibration tokens.
	Tokens int
	// Groups is the number of (row, group) ranges searched; Clipped, the
	// number shrunk below the plain min-max range; MeanShrink, the mean
	// over all of them of the fraction removed from |w|'s maximum.
	Groups, Clipped int
	MeanShrink      float64
	// ErrBefore and ErrAfter sum, over the groups, the mean over sampled
	// tokens of the squared error of the group's share of the output,
	// with the plain and the chosen ranges: the objective the search
	// minimizes.
	ErrBefore, ErrAfter float64
}
