// Package convert orchestrates quantization: it walks a checkpoint layer by
// layer with a method (RTN, GPTQ, AWQ), and writes the quantized checkpoint
// in a Hugging Face INT4 format.
package convert

import (
	"fmt"

	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/progress"
	"github.com/qtk-dev/qtk/quant"
)

// Method is a quantization algorithm.
type Method string

const (
	RTN  Method = "rtn"
	GPTQ Method = "gptq"
	AWQ  Method = "awq"
)

// Options configures Quantize.
type Options struct {
	Method Method
	Format hf.Format
	Scheme quant.Scheme
	// Calibration windows (GPTQ, AWQ); Tokens is the tokenized calibration
	// text the windows are drawn from.
	Calib  calibrate.Options
	Tokens []int
	// Clip adds the MSE clip search: to RTN's and GPTQ's group parameters
	// (weighted by activation statistics for GPTQ), and to AWQ, where it is
	// the reference's auto_clip.
	Clip bool
	GPTQ GPTQOptions
	// AWQThenGPTQ rounds the AWQ-scaled weights with GPTQ instead of RTN.
	AWQThenGPTQ bool
	// AWQTF32 runs the products of AWQ's searches on a GPU in TF32 on
	// its tensor cores (awq.Options.TF32).
	AWQTF32 bool
	// MaxShardBytes caps the weight bytes of one output file; 0 means
	// DefaultMaxShardBytes.
	MaxShardBytes int64
	// Resume continues an interrupted run of the same inputs from its
	// finished layers (starting afresh when there is none).
	Resume bool
	// Backend runs the calibration passes' projections, the Hessians, the
	// factorizations and the lazy updates of GPTQ; nil means compute.CPU.
	Backend compute.Backend
	// Log receives notes on the run (calibration size, damping raised...).
	Log func(format string, args ...any)
	// Progress receives the layers done.
	Progress progress.Func
	// Decided, when set, receives every quantized tensor as decided, before
	// it is packed.
	Decided func(role model.Role, layer int, t *quant.Tensor)
}

// GPTQOptions are GPTQ's settings.
type GPTQOptions struct {
	Damp         float64
	BlockSize    int
	ActOrder     bool
	StaticGroups bool
	// RefitScales re-solves group scales after the sweep for the chosen
	// codes (least squares on the layer's calibration error).
	RefitScales bool
	// TrueSequential quantizes a layer's projections in the order their
	// inputs are computed (k,v,q → o → up,gate → down), each stage seeing
	// the outputs of the quantized stages before it.
	TrueSequential bool
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// storesGIdx reports whether the output needs g_idx: act-order forms
// groups in processing order only without static groups, and only with
// more than one group per row.
func (o *Options) storesGIdx() bool {
	return o.GPTQ.ActOrder && !o.GPTQ.StaticGroups && o.Scheme.GroupSize > 0
}

func (o *Options) maxShardBytes() int64 {
	if o.MaxShardBytes <= 0 {
		return DefaultMaxShardBytes
	}
	return o.MaxShardBytes
}

func (o *Options) validate() error {
	switch o.Method {
	case RTN, GPTQ, AWQ:
	default:
		return fmt.Errorf("unknown method %q (rtn, gptq or awq)", o.Method)
	}
	if o.GPTQ.ActOrder && o.Method != GPTQ {
		return fmt.Errorf("act-order is a GPTQ option")
	}
	if o.AWQThenGPTQ && o.Method != AWQ {
		return fmt.Errorf("GPTQ rounding after scaling is an AWQ option")
	}
	if o.AWQTF32 && o.Method != AWQ {
		return fmt.Errorf("TF32 searches are an AWQ option")
	}
	if o.storesGIdx() && o.Format == hf.AWQ {
		return fmt.Errorf("the AWQ format has no g_idx: act-order needs static groups, or --format gptq or compressed-tensors")
	}
	return nil
}
