package runtime

import (
	"fmt"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
)

// ResidentShape is the shape of cfg's decoder layers for a Resident
// backend.
func ResidentShape(cfg *model.Config) compute.LayerShape {
	inv := cfg.InvFrequencies()
	inv32 := make([]float32, len(inv))
	for i, f := range inv {
		inv32[i] = float32(f)
	}
	return compute.LayerShape{
		Hidden: cfg.HiddenSize, Heads: cfg.NumHeads, KVHeads: cfg.NumKVHeads,
		HeadDim: cfg.HeadDim, FFN: cfg.IntermediateSize,
		NormEps: float32(cfg.RMSNormEps), InvFreq: inv32,
	}
}

// ResidentSupports reports whether a Resident backend can run cfg's
// layers: no biases on o_proj or the MLP, and a head dimension its
// attention takes.
func ResidentSupports(cfg *model.Config) bool {
	return !cfg.OBias && !cfg.MLPBias && cfg.HeadDim%4 == 0 && cfg.HeadDim <= compute.MaxResidentHeadDim
}

// ResidentVectors gathers a layer's norms and q, k, v bias for a Resident
// layer, without its projections.
func ResidentVectors(w *LayerWeights) compute.ResidentWeights {
	rw := compute.ResidentWeights{InputNorm: w.AttnNorm, PostNorm: w.FFNNorm}
	if w.QBias != nil {
		rw.QKVBias = concat(w.QBias, w.KBias, w.VBias)
	}
	return rw
}

// NewResidentWeights holds a layer's float32 projections on be and
// gathers its norms and bias for a Resident layer. The caller releases
// the projections with ReleaseProjections.
func NewResidentWeights(be compute.Backend, cfg *model.Config, w *LayerWeights) (compute.ResidentWeights, error) {
	if !ResidentSupports(cfg) {
		return compute.ResidentWeights{}, fmt.Errorf("resident layer: biases on o_proj or the MLP, or head dim %d, are not supported", cfg.HeadDim)
	}
	rw := ResidentVectors(w)
	for _, p := range []struct {
		dst  *compute.Linear
		role string
	}{{&rw.QKV, compute.InputQKV}, {&rw.O, compute.InputO}, {&rw.GateUp, compute.InputGateUp}, {&rw.Down, compute.InputDown}} {
		var err error
		if *p.dst, err = NewProjection(be, cfg, w, p.role); err != nil {
			ReleaseProjections(rw)
			return compute.ResidentWeights{}, err
		}
	}
	return rw, nil
}

// ReleaseProjections frees the projections of rw that are set.
func ReleaseProjections(rw compute.ResidentWeights) {
	for _, l := range []compute.Linear{rw.QKV, rw.O, rw.GateUp, rw.Down} {
		if l != nil {
			l.Release()
		}
	}
}
