package convert

import (
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// linearRoles are the projections of a decoder layer that get quantized.
var linearRoles = []model.Role{model.AttnQ, model.AttnK, model.AttnV, model.AttnO, model.FFNGate, model.FFNUp, model.FFNDown}

// weightOf returns a pointer to the float32 weight of a linear role.
func weightOf(w *runtime.LayerWeights, role model.Role) *[]float32 {
	switch role {
	case model.AttnQ:
		return &w.Q
	case model.AttnK:
		return &w.K
	case model.AttnV:
		return &w.V
	case model.AttnO:
		return &w.O
	case model.FFNGate:
		return &w.Gate
	case model.FFNUp:
		return &w.Up
	case model.FFNDown:
		return &w.Down
	}
	return nil
}

// shapeOf returns [out, in] of a linear role.
func shapeOf(cfg *model.Config, role model.Role) (out, in int) {
	h, ffn := cfg.HiddenSize, cfg.IntermediateSize
	switch role {
	case model.AttnQ:
		return cfg.QDim(), h
	case model.AttnK, model.AttnV:
		return cfg.KVDim(), h
	case model.AttnO:
		return h, cfg.QDim()
	case model.FFNGate, model.FFNUp:
		return ffn, h
	default:
		return h, ffn
	}
}

// vectorOf returns a layer's norm weight or bias of a role, or nil.
func vectorOf(w *runtime.LayerWeights, role model.Role) []float32 {
	switch role {
	case model.AttnNorm:
		return w.AttnNorm
	case model.FFNNorm:
		return w.FFNNorm
	case model.AttnQBias:
		return w.QBias
	case model.AttnKBias:
		return w.KBias
	case model.AttnVBias:
		return w.VBias
	case model.AttnOBias:
		return w.OBias
	case model.FFNGateB:
		return w.GateBias
	case model.FFNUpB:
		return w.UpBias
	case model.FFNDownB:
		return w.DownBias
	}
	return nil
}
