package gptq

import (
	"fmt"
	"math"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/quant"
)

// Defaults of the reference implementations (IST-DASLab/gptq, AutoGPTQ).
const (
	// DefaultDamp is the fraction of the mean diagonal of H added to its
	// diagonal before factorizing ("percdamp", "damp_percent").
	DefaultDamp = 0.01
	// DefaultBlockSize is the number of columns quantized between two lazy
	// updates of the rest of the matrix.
	DefaultBlockSize = 128
	// MaxDamp bounds the damping retries: when H cannot be factorized, the
	// damping is raised tenfold at a time while it stays at most MaxDamp.
	MaxDamp = 1.0
)

// Options configures [Quantize].
type Options struct {
	// Scheme is the integer grid: bits, group size, symmetry.
	Scheme quant.Scheme
	// Damp is the fraction of the mean diagonal of H added to its
	// diagonal, in (0, MaxDamp]; 0 means DefaultDamp. It is raised
	// tenfold at a time (up to MaxDamp) while H cannot be factorized.
	Damp float64
	// BlockSize is the number of columns per lazy batch update; 0 means
	// DefaultBlockSize. It changes results slightly: group parameters are
	// found from the weights as updated by the previous blocks only.
	BlockSize int
	// ActOrder processes input channels by decreasing diagonal of H
	// ("desc_act"). Without StaticGroups, groups are then formed in that
	// order, and Tensor.GIdx records the group of every channel.
	ActOrder bool
	// StaticGroups finds every group's parameters from the weights before
	// any update, in the original channel order, so that GIdx stays
	// c / GroupSize even with ActOrder.
	StaticGroups bool
	// Clip, when set, picks each group's parameters by the MSE clip search
	// of package quant instead of plain min-max, each input channel's
	// squared error weighted by the Hessian diagonal (the output error of
	// the group under a diagonal approximation of H). This goes beyond the
	// reference GPTQ, which uses min-max parameters.
	Clip *quant.ClipSearch
	// RefitScales re-solves each row's group scales after the sweep, for
	// the integer codes it chose, by least squares on the layer's true
	// calibration error (w-ŵ)ᵀH(w-ŵ), keeping them only when that error
	// drops. Beyond the reference GPTQ.
	RefitScales bool
	// Grid, when set, replaces Scheme's integer grid: the sweep rounds onto
	// it, and it receives every fit's weights with the channels'
	// importance (the diagonal of H). Its groups are contiguous channels,
	// so with ActOrder it needs StaticGroups; Clip and RefitScales belong
	// to Scheme's grid and do not apply.
	Grid Grid
	// Backend runs the factorization and the lazy updates; nil means
	// compute.CPU.
	Backend compute.Backend
	// Log, when set, receives progress notes such as raised damping.
	Log func(format string, args ...any)
}

// resolved returns the options with defaults filled in, or an error for
// settings that make no sense.
func (o Options) resolved() (Options, error) {
	switch {
	case math.IsNaN(o.Damp) || o.Damp < 0 || o.Damp > MaxDamp:
		return o, fmt.Errorf("damp %v: want a fraction in (0, %v], or 0 for the default %v", o.Damp, MaxDamp, DefaultDamp)
	case o.BlockSize < 0:
		return o, fmt.Errorf("block size %d: want a positive size, or 0 for the default %d", o.BlockSize, DefaultBlockSize)
	case o.Grid != nil && o.ActOrder && !o.StaticGroups:
		return o, fmt.Errorf("act-order on a block grid needs static groups: its blocks are contiguous channels")
	case o.Grid != nil && (o.Clip != nil || o.RefitScales):
		return o, fmt.Errorf("clip search and scale refit apply to the integer grid, not to a block grid")
	}
	if o.Damp == 0 {
		o.Damp = DefaultDamp
	}
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.Backend == nil {
		o.Backend = compute.CPU
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o, nil
}
