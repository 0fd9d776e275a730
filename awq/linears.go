package awq

import (
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
)

// scaledLinears holds a layer's linears while the searched scales are
// folded into them, the clip search clamps them and they are rounded: on
// the host, or on the device that ran the searches
// (Options.RoundOnDevice), where only the codes come back.
type scaledLinears interface {
	// fold multiplies the group's linears by its scales per input
	// channel and divides the producing linear's rows by them
	// (foldLinears).
	fold(rep ScaleReport) error
	// clipLosses scores the clip candidates of linear r on its sampled
	// inputs x (clipLosses' layout).
	clipLosses(r model.Role, x []float32) ([]float64, error)
	// clamp clamps linear r's groups to the chosen candidates
	// (clampGroups).
	clamp(r model.Role, chosen []int32) error
	// round quantizes linear r with RTN.
	round(r model.Role) (*quant.Tensor, error)
}

// hostLinears are the linears of w, scaled in place on the host; dev,
// when set, scores the clip candidates.
type hostLinears struct {
	cfg    *model.Config
	w      *runtime.LayerWeights
	scheme quant.Scheme
	dev    *deviceSearch
}

func (h hostLinears) fold(rep ScaleReport) error {
	foldLinears(h.cfg, h.w, rep.Prev, rep.Linears, rep.Scales)
	return nil
}

func (h hostLinears) clipLosses(r model.Role, x []float32) ([]float64, error) {
	out, in := shape(h.cfg, r)
	if h.dev != nil {
		return h.dev.clipLosses(tensor(h.w, r), out, in, x, h.scheme)
	}
	return clipLosses(tensor(h.w, r), out, in, x, h.scheme), nil
}

func (h hostLinears) clamp(r model.Role, chosen []int32) error {
	out, in := shape(h.cfg, r)
	clampGroups(tensor(h.w, r), out, in, chosen, h.scheme)
	return nil
}

func (h hostLinears) round(r model.Role) (*quant.Tensor, error) {
	out, in := shape(h.cfg, r)
	return quant.RTN(tensor(h.w, r), out, in, h.scheme, quant.RTNOptions{})
}

// deviceLinears are the device layer's copy of the float linears
// (compute.AWQLayer's scaled layer).
type deviceLinears struct {
	cfg    *model.Config
	layer  compute.AWQLayer
	scheme quant.Scheme
}

// rows is where linear r sits in the device layer: the input its
// projection reads, and its rows there (q, k, v and gate, up are fused).
func (d deviceLinears) rows(r model.Role) (input string, row0, rows int) {
	q, kv, ffn := d.cfg.QDim(), d.cfg.KVDim(), d.cfg.IntermediateSize
	switch r {
	case model.AttnQ:
		return compute.InputQKV, 0, q
	case model.AttnK:
		return compute.InputQKV, q, kv
	case model.AttnV:
		return compute.InputQKV, q + kv, kv
	case model.FFNGate:
		return compute.InputGateUp, 0, ffn
	case model.FFNUp:
		return compute.InputGateUp, ffn, ffn
	}
	out, _ := shape(d.cfg, r)
	return siteInputs[inputOf[r]], 0, out
}

func (d deviceLinears) fold(rep ScaleReport) error {
	return d.layer.FoldScales(siteInputs[inputOf[rep.Linears[0]]], rep.Scales)
}

func (d deviceLinears) clipLosses(r model.Role, x []float32) ([]float64, error) {
	input, row0, rows := d.rows(r)
	_, in := shape(d.cfg, r)
	return d.layer.ScaledClipLosses(input, row0, rows, x, len(x)/in, d.scheme, clipCandidates, clipSteps)
}

func (d deviceLinears) clamp(r model.Role, chosen []int32) error {
	input, row0, rows := d.rows(r)
	return d.layer.ClampScaled(input, row0, rows, chosen, d.scheme, clipSteps)
}

func (d deviceLinears) round(r model.Role) (*quant.Tensor, error) {
	input, row0, rows := d.rows(r)
	return d.layer.RoundScaled(input, row0, rows, d.scheme)
}
