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

// ResidentSupports reports whether a Resident backend can hold cfg's
// layers: it has no biases on o_proj or the MLP.
func ResidentSupports(cfg *model.Config) bool { return !cfg.OBias && !cfg.MLPBias }

// NewResidentLayer holds a layer's float32 weights on a Resident backend,
// fused as NewLayerOn fuses them. The layer owns its projections.
func NewResidentLayer(r compute.Resident, cfg *model.Config, w LayerWeights) (compute.ResidentLayer, error) {
	if !ResidentSupports(cfg) {
		return nil, fmt.Errorf("resident layer: biases on o_proj or the MLP are not supported")
	}
	h, ffn := cfg.HiddenSize, cfg.IntermediateSize
	var rw compute.ResidentWeights
	release := func() {
		for _, l := range []compute.Linear{rw.QKV, rw.O, rw.GateUp, rw.Down} {
			if l != nil {
				l.Release()
			}
		}
	}
	for _, l := range []struct {
		dst     *compute.Linear
		w       []float32
		out, in int
	}{
		{&rw.QKV, concat(w.Q, w.K, w.V), cfg.QDim() + 2*cfg.KVDim(), h},
		{&rw.O, w.O, h, cfg.QDim()},
		{&rw.GateUp, concat(w.Gate, w.Up), 2 * ffn, h},
		{&rw.Down, w.Down, h, ffn},
	} {
		var err error
		if *l.dst, err = r.NewLinear(l.w, l.out, l.in); err != nil {
			release()
			return nil, err
		}
	}
	rw.InputNorm, rw.PostNorm = w.AttnNorm, w.FFNNorm
	if w.QBias != nil {
		rw.QKVBias = concat(w.QBias, w.KBias, w.VBias)
	}
	ly, err := r.NewLayer(ResidentShape(cfg), rw)
	if err != nil {
		release()
		return nil, err
	}
	return ly, nil
}
