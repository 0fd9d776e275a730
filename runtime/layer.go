package runtime

import (
	"fmt"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
)

// LayerWeights holds one decoder layer's tensors in float32, in Hugging
// Face layouts: linear weights are [out × in]. Biases are nil when the
// architecture has none.
type LayerWeights struct {
	AttnNorm            []float32
	Q, K, V, O          []float32
	QBias, KBias, VBias []float32
	OBias               []float32
	FFNNorm             []float32
	Gate, Up, Down      []float32
	GateBias, UpBias    []float32
	DownBias            []float32
	// Quantized holds, by role, the linear weights of a quantized
	// checkpoint kept quantized (by LoadOn); their float32 fields are nil.
	Quantized map[model.Role]*compute.QuantWeight
}

// ReadLayer widens layer l of a checkpoint or GGUF file to float32.
func ReadLayer(src model.Weights, l int) (LayerWeights, error) { return readLayer(src, nil, l) }

// readLayer reads layer l of src, keeping the weights that qs stores
// quantized in Quantized; qs is nil to widen everything.
func readLayer(src model.Weights, qs quantSource, l int) (LayerWeights, error) {
	cfg := src.ModelConfig()
	var w LayerWeights
	var err error
	read := func(dst *[]float32, role model.Role) {
		if err != nil {
			return
		}
		if qs != nil {
			var q *quant.Tensor
			if q, err = qs.QuantTensor(role, l); q != nil {
				if w.Quantized == nil {
					w.Quantized = map[model.Role]*compute.QuantWeight{}
				}
				w.Quantized[role] = quantWeight(q)
				return
			}
		}
		if err == nil {
			*dst, err = src.Float32(role, l)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", model.HFName(role, l), err)
		}
	}
	read(&w.AttnNorm, model.AttnNorm)
	read(&w.Q, model.AttnQ)
	read(&w.K, model.AttnK)
	read(&w.V, model.AttnV)
	read(&w.O, model.AttnO)
	read(&w.FFNNorm, model.FFNNorm)
	read(&w.Gate, model.FFNGate)
	read(&w.Up, model.FFNUp)
	read(&w.Down, model.FFNDown)
	if cfg.QKVBias {
		read(&w.QBias, model.AttnQBias)
		read(&w.KBias, model.AttnKBias)
		read(&w.VBias, model.AttnVBias)
	}
	if cfg.OBias {
		read(&w.OBias, model.AttnOBias)
	}
	if cfg.MLPBias {
		read(&w.GateBias, model.FFNGateB)
		read(&w.UpBias, model.FFNUpB)
		read(&w.DownBias, model.FFNDownB)
	}
	return w, err
}

// Layer is one decoder block, packed for the matrix kernel. Projections
// that read the same input are fused: q, k and v into one matrix, gate and
// up into another. A Layer is immutable and may be shared.
type Layer struct {
	cfg        *model.Config
	attnNorm   []float32      // [hidden]
	qkv        compute.Linear // [qDim+2·kvDim × hidden]
	qkvBias    []float32      // [qDim+2·kvDim] or nil
	o          compute.Linear // [hidden × qDim]
	oBias      []float32      // [hidden] or nil
	ffnNorm    []float32      // [hidden]
	gateUp     compute.Linear // [2·ffn × hidden]
	gateUpBias []float32      // [2·ffn] or nil
	down       compute.Linear // [hidden × ffn]
	downBias   []float32      // [hidden] or nil
}

// NewLayer packs a layer's weights for the CPU.
func NewLayer(cfg *model.Config, w LayerWeights) *Layer {
	ly, _ := NewLayerOn(compute.CPU, cfg, w) // the CPU backend does not fail
	return ly
}

// NewLayerOn holds a layer's weights on backend be; its projections run
// there, the rest of the layer on the CPU. Weights in w.Quantized are
// held quantized where their fused matrix can be.
func NewLayerOn(be compute.Backend, cfg *model.Config, w LayerWeights) (*Layer, error) {
	ly := &Layer{
		cfg:      cfg,
		attnNorm: w.AttnNorm,
		oBias:    w.OBias,
		ffnNorm:  w.FFNNorm,
		downBias: w.DownBias,
	}
	for _, l := range []struct {
		dst   *compute.Linear
		input string
	}{{&ly.qkv, compute.InputQKV}, {&ly.o, compute.InputO}, {&ly.gateUp, compute.InputGateUp}, {&ly.down, compute.InputDown}} {
		var err error
		if *l.dst, err = NewProjection(be, cfg, &w, l.input); err != nil {
			ly.Release()
			return nil, err
		}
	}
	if w.QBias != nil {
		ly.qkvBias = concat(w.QBias, w.KBias, w.VBias)
	}
	if w.GateBias != nil {
		ly.gateUpBias = concat(w.GateBias, w.UpBias)
	}
	return ly, nil
}

// NewProjection holds on be the fused projection of w that reads input
// (compute.InputQKV, InputO, InputGateUp or InputDown):
// q, k and v stacked by rows, gate and up likewise, quantized where
// w.Quantized allows.
func NewProjection(be compute.Backend, cfg *model.Config, w *LayerWeights, input string) (compute.Linear, error) {
	h, ffn := cfg.HiddenSize, cfg.IntermediateSize
	part := func(f32 []float32, role model.Role) projection { return projection{f32, w.Quantized[role]} }
	switch input {
	case compute.InputQKV:
		return newFusedLinear(be, []projection{part(w.Q, model.AttnQ), part(w.K, model.AttnK), part(w.V, model.AttnV)}, cfg.QDim()+2*cfg.KVDim(), h)
	case compute.InputO:
		return newFusedLinear(be, []projection{part(w.O, model.AttnO)}, h, cfg.QDim())
	case compute.InputGateUp:
		return newFusedLinear(be, []projection{part(w.Gate, model.FFNGate), part(w.Up, model.FFNUp)}, 2*ffn, h)
	case compute.InputDown:
		return newFusedLinear(be, []projection{part(w.Down, model.FFNDown)}, h, ffn)
	}
	return nil, fmt.Errorf("no projection reads input %q", input)
}

// Release frees the layer's weights on its backend's device now rather
// than when the layer is garbage collected. The layer must not be used
// after.
func (ly *Layer) Release() {
	for _, l := range ly.linears() {
		if l != nil {
			l.Release()
		}
	}
}

func (ly *Layer) linears() []compute.Linear {
	return []compute.Linear{ly.qkv, ly.o, ly.gateUp, ly.down}
}

// err is the first failure of the layer's projections on their device.
func (ly *Layer) err() error {
	for _, l := range ly.linears() {
		if err := l.Err(); err != nil {
			return err
		}
	}
	return nil
}

func concat(parts ...[]float32) []float32 {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]float32, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Hooks observe the inputs of a layer's linear projections during a
// forward pass; calibration uses them to collect activation statistics.
// Each receives rows × in values that are only valid during the call.
type Hooks struct {
	QKVIn  func(x []float32, rows int) // input of q, k and v (after input_layernorm)
	OIn    func(x []float32, rows int) // input of o_proj
	MLPIn  func(x []float32, rows int) // input of gate and up (after post_attention_layernorm)
	DownIn func(x []float32, rows int) // input of down_proj
	// Partial stops the pass once the last hook that is set has been
	// called: the rest of the layer is not computed and the hidden states
	// are left undefined. Calibration passes that only observe use it.
	Partial bool
}

// stopAfter reports whether a partial pass may stop after the hook of
// site (0: QKVIn, 1: OIn, 2: MLPIn, 3: DownIn), no later hook being set.
func (h *Hooks) stopAfter(site int) bool {
	if h == nil || !h.Partial {
		return false
	}
	later := []bool{h.OIn != nil, h.MLPIn != nil, h.DownIn != nil}
	for _, set := range later[site:] {
		if set {
			return false
		}
	}
	return true
}

// forward runs the layer on the n rows of the residual stream x in place,
// appending the new keys and values to kv.
func (ly *Layer) forward(x []float32, n int, kv kvHistory, sc *scratch, hooks *Hooks) {
	cfg := ly.cfg
	h, ffn := cfg.HiddenSize, cfg.IntermediateSize
	normed := sc.normed[:n*h]

	rmsNorm(normed, x, ly.attnNorm, n, cfg.RMSNormEps)
	if hooks != nil && hooks.QKVIn != nil {
		hooks.QKVIn(normed, n)
	}
	if hooks.stopAfter(0) {
		return
	}
	attn := sc.attn[:n*cfg.QDim()]
	ly.attention(attn, normed, n, kv, sc)
	if hooks != nil && hooks.OIn != nil {
		hooks.OIn(attn, n)
	}
	if hooks.stopAfter(1) {
		return
	}
	proj := sc.proj[:n*h]
	ly.o.MatMul(proj, attn, n)
	if ly.oBias != nil {
		addBias(proj, ly.oBias, n)
	}
	addInto(x[:n*h], proj)

	rmsNorm(normed, x, ly.ffnNorm, n, cfg.RMSNormEps)
	if hooks != nil && hooks.MLPIn != nil {
		hooks.MLPIn(normed, n)
	}
	if hooks.stopAfter(2) {
		return
	}
	act := sc.act[:n*ffn]
	ly.mlp(act, normed, n, sc)
	if hooks != nil && hooks.DownIn != nil {
		hooks.DownIn(act, n)
	}
	if hooks.stopAfter(3) {
		return
	}
	ly.down.MatMul(proj, act, n)
	if ly.downBias != nil {
		addBias(proj, ly.downBias, n)
	}
	addInto(x[:n*h], proj)
}

// attention projects normed rows to q, k and v, rotates q and k, appends
// k and v to the cache and writes the attention output [n × qDim] to out
// (before o_proj).
func (ly *Layer) attention(out, normed []float32, n int, kv kvHistory, sc *scratch) {
	cfg := ly.cfg
	qkv := sc.qkv[:n*(cfg.QDim()+2*cfg.KVDim())]
	ly.qkv.MatMul(qkv, normed, n)
	if ly.qkvBias != nil {
		addBias(qkv, ly.qkvBias, n)
	}
	kv.attend(qkv, out, n, sc)
}

// mlp writes silu(gate)·up of the normed rows to act.
func (ly *Layer) mlp(act, normed []float32, n int, sc *scratch) {
	ffn := ly.cfg.IntermediateSize
	gateUp := sc.gateUp[:n*2*ffn]
	ly.gateUp.MatMul(gateUp, normed, n)
	if ly.gateUpBias != nil {
		addBias(gateUp, ly.gateUpBias, n)
	}
	swiGLU(act, gateUp, n, ffn)
}
