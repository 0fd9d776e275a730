package awq

import (
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// linearRoles are a decoder layer's linear projections, in the order of
// the layer.
var linearRoles = []model.Role{
	model.AttnQ, model.AttnK, model.AttnV, model.AttnO,
	model.FFNGate, model.FFNUp, model.FFNDown,
}

// fields maps each role of a layer tensor to its field in LayerWeights.
var fields = map[model.Role]func(w *runtime.LayerWeights) *[]float32{
	model.AttnNorm:  func(w *runtime.LayerWeights) *[]float32 { return &w.AttnNorm },
	model.AttnQ:     func(w *runtime.LayerWeights) *[]float32 { return &w.Q },
	model.AttnK:     func(w *runtime.LayerWeights) *[]float32 { return &w.K },
	model.AttnV:     func(w *runtime.LayerWeights) *[]float32 { return &w.V },
	model.AttnO:     func(w *runtime.LayerWeights) *[]float32 { return &w.O },
	model.AttnQBias: func(w *runtime.LayerWeights) *[]float32 { return &w.QBias },
	model.AttnKBias: func(w *runtime.LayerWeights) *[]float32 { return &w.KBias },
	model.AttnVBias: func(w *runtime.LayerWeights) *[]float32 { return &w.VBias },
	model.AttnOBias: func(w *runtime.LayerWeights) *[]float32 { return &w.OBias },
	model.FFNNorm:   func(w *runtime.LayerWeights) *[]float32 { return &w.FFNNorm },
	model.FFNGate:   func(w *runtime.LayerWeights) *[]float32 { return &w.Gate },
	model.FFNUp:     func(w *runtime.LayerWeights) *[]float32 { return &w.Up },
	model.FFNDown:   func(w *runtime.LayerWeights) *[]float32 { return &w.Down },
	model.FFNGateB:  func(w *runtime.LayerWeights) *[]float32 { return &w.GateBias },
	model.FFNUpB:    func(w *runtime.LayerWeights) *[]float32 { return &w.UpBias },
	model.FFNDownB:  func(w *runtime.LayerWeights) *[]float32 { return &w.DownBias },
}

// tensor returns the slice holding role r's tensor in w.
func tensor(w *runtime.LayerWeights, r model.Role) []float32 { return *fields[r](w) }

// biasOf maps each linear to its bias.
var biasOf = map[model.Role]model.Role{
	model.AttnQ: model.AttnQBias, model.AttnK: model.AttnKBias,
	model.AttnV: model.AttnVBias, model.AttnO: model.AttnOBias,
	model.FFNGate: model.FFNGateB, model.FFNUp: model.FFNUpB,
	model.FFNDown: model.FFNDownB,
}

// shape returns a linear's weight shape [out × in].
func shape(cfg *model.Config, r model.Role) (out, in int) {
	h, q, kv, ffn := cfg.HiddenSize, cfg.QDim(), cfg.KVDim(), cfg.IntermediateSize
	switch r {
	case model.AttnQ:
		return q, h
	case model.AttnK, model.AttnV:
		return kv, h
	case model.AttnO:
		return h, q
	case model.FFNGate, model.FFNUp:
		return ffn, h
	case model.FFNDown:
		return h, ffn
	}
	return 0, 0
}

// site is where in the layer a linear's input is taken.
type site int

const (
	qkvIn  site = iota // after input_layernorm: q, k and v
	oIn                // attention output: o
	mlpIn              // after post_attention_layernorm: gate and up
	downIn             // silu(gate)·up: down
	numSites
)

// inputOf maps each linear to the site of its input.
var inputOf = map[model.Role]site{
	model.AttnQ: qkvIn, model.AttnK: qkvIn, model.AttnV: qkvIn,
	model.AttnO:   oIn,
	model.FFNGate: mlpIn, model.FFNUp: mlpIn,
	model.FFNDown: downIn,
}

// width returns the number of channels at a site.
func (s site) width(cfg *model.Config) int {
	switch s {
	case oIn:
		return cfg.QDim()
	case downIn:
		return cfg.IntermediateSize
	}
	return cfg.HiddenSize
}

// cloneWeights returns a deep copy of w: writing to it leaves w, and any
// runtime.Layer built from w, as they were.
func cloneWeights(w runtime.LayerWeights) runtime.LayerWeights {
	c := w
	for _, f := range fields {
		if p := f(&c); *p != nil {
			src := *p
			*p = make([]float32, len(src))
			dst := *p
			forRows(len(src), 1, func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
		}
	}
	return c
}

// cloneVectors is cloneWeights of w's norms and biases: its linears are
// left nil.
func cloneVectors(w runtime.LayerWeights) runtime.LayerWeights {
	for _, r := range linearRoles {
		*fields[r](&w) = nil
	}
	return cloneWeights(w)
}
