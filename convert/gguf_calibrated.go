package convert

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/qtk-dev/qtk/awq"
	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/gptq"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
)

// awqSearchSchemes are the integer schemes AWQ's scale and clip searches
// run on for each calibrated GGUF type: the grid of package quant nearest
// to the type's blocks of 32 (Q4_0 has a symmetric scale; Q4_K's
// sub-blocks and Q5_0, its fallback, a scale and an offset).
var awqSearchSchemes = map[string]quant.Scheme{
	"q4_0":   {Bits: 4, GroupSize: 32, Symmetric: true},
	"q4_k_m": {Bits: 4, GroupSize: 32},
}

// QuantizeGGUF quantizes the decoder layers of ck with calibration and
// writes them as a GGUF file of type gopts.Type (q4_0 or q4_k_m), the
// other tensors converted as WriteGGUF does. Every linear is quantized
// to the type WriteGGUF would give it, with the block parameters searched
// under the importance of its input channels (their mean squared
// activation), and:
//   - GPTQ rounds each linear onto its blocks' grid with GPTQ's error
//     compensation (act-order with static groups, since blocks are
//     contiguous channels);
//   - AWQ searches and folds its scales (and clips) on the nearest integer
//     scheme, then block-quantizes the scaled weights, by rounding to
//     nearest or, with AWQThenGPTQ, by GPTQ.
//
// Layers are quantized and written one at a time; nothing is left at out
// on any error or when ctx is cancelled.
func QuantizeGGUF(ctx context.Context, ck *model.Checkpoint, out string, gopts GGUFOptions, opts Options) (*GGUFReport, error) {
	start := time.Now()
	typ := strings.ToLower(gopts.Type)
	scheme, ok := awqSearchSchemes[typ]
	if !ok {
		return nil, fmt.Errorf("calibrated GGUF type %q: want q4_0 or q4_k_m (qtk convert --to gguf writes every type without calibration)", gopts.Type)
	}
	if opts.Method != GPTQ && opts.Method != AWQ {
		return nil, fmt.Errorf("calibrated GGUF needs gptq or awq; for round-to-nearest use qtk convert --to gguf")
	}
	if opts.AWQThenGPTQ && opts.Method != AWQ {
		return nil, fmt.Errorf("GPTQ rounding after scaling is an AWQ option")
	}
	opts.Scheme = scheme
	if opts.Backend == nil {
		opts.Backend = compute.CPU
	}
	windows, err := calibrate.Windows(opts.Tokens, opts.Calib)
	if err != nil {
		return nil, err
	}
	acts, err := calibrate.Embed(ck, windows)
	if err != nil {
		return nil, err
	}
	opts.logf("calibration: %d windows of %d tokens", len(windows), len(windows[0]))

	g, err := createGGUF(ck, out, gopts)
	if err != nil {
		return nil, err
	}
	defer g.w.Abort()
	const step = "calibrate and quantize layers"
	opts.Progress.Report(step, 0, g.cfg.NumLayers)
	for i := 0; i < len(g.plan); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := g.plan[i]
		if p.spec.Layer < 0 {
			if err := g.writeFromCheckpoint(ck, p); err != nil {
				return nil, err
			}
			i++
			continue
		}
		// The tensors of one layer are planned together.
		end := i
		for end < len(g.plan) && g.plan[end].spec.Layer == p.spec.Layer {
			end++
		}
		if err := g.quantizeLayer(ck, p.spec.Layer, g.plan[i:end], acts, &opts); err != nil {
			return nil, fmt.Errorf("layer %d: %w", p.spec.Layer, err)
		}
		opts.Progress.Report(step, p.spec.Layer+1, g.cfg.NumLayers)
		i = end
	}
	return g.close(ctx, start)
}

// quantizeLayer quantizes layer l, writes its tensors (planned in tensors)
// and advances the calibration activations to the next layer's inputs.
func (g *ggufOutput) quantizeLayer(ck *model.Checkpoint, l int, tensors []ggufTensor, acts *calibrate.Activations, opts *Options) error {
	cfg := g.cfg
	w, err := runtime.ReadLayer(ck, l)
	if err != nil {
		return err
	}
	types := map[model.Role]gguf.Type{}
	for _, p := range tensors {
		types[p.spec.Role] = p.typ
	}
	// next is the layer the activations advance through: the quantized
	// one for GPTQ, the float one for AWQ (as in Quantize).
	var next *runtime.Layer
	var encoded map[model.Role][]byte
	switch opts.Method {
	case GPTQ:
		encoded, err = gptqBlocks(cfg, &w, acts, types, opts)
	case AWQ:
		if next, err = runtime.NewLayerOn(opts.Backend, cfg, w); err != nil {
			return err
		}
		defer next.Release()
		if _, err = awq.Layer(cfg, &w, acts, awq.Options{Scheme: opts.Scheme, Clip: opts.Clip, Backend: opts.Backend, Log: opts.Log}); err != nil {
			break
		}
		if opts.AWQThenGPTQ {
			encoded, err = gptqBlocks(cfg, &w, acts, types, opts)
		} else {
			encoded, err = roundBlocks(cfg, &w, acts, types, opts.Backend)
		}
	}
	if err != nil {
		return err
	}
	for _, p := range tensors {
		if data, ok := encoded[p.spec.Role]; ok {
			err = g.writeEncoded(p, data)
		} else if v := weightOf(&w, p.spec.Role); v != nil {
			err = g.writeFloat32(p, *v)
		} else {
			err = g.writeFloat32(p, vectorOf(&w, p.spec.Role))
		}
		if err != nil {
			return err
		}
	}
	if next == nil {
		if next, err = runtime.NewLayerOn(opts.Backend, cfg, w); err != nil {
			return err
		}
		defer next.Release()
	}
	return acts.Advance(next)
}

// gptqBlocks runs GPTQ on every linear of a layer whose type a Rounder
// supports, stage by stage as quantizeGPTQ does, and returns the encoded
// tensors; w is updated to the decoded weights.
func gptqBlocks(cfg *model.Config, w *runtime.LayerWeights, acts *calibrate.Activations, types map[model.Role]gguf.Type, opts *Options) (map[model.Role][]byte, error) {
	out := map[model.Role][]byte{}
	for _, stage := range gptqStages(opts.GPTQ.TrueSequential) {
		hessians := stageHessians(cfg, stage, opts.Backend)
		if err := observeHessians(cfg, *w, acts, hessians, opts.Backend); err != nil {
			return nil, err
		}
		for _, role := range stage {
			err := gptqBlock(cfg, w, role, hessians[inputOf(role)], types[role], out, opts)
			if err != nil {
				releaseAll(hessians)
				return nil, fmt.Errorf("%s: %w", role, err)
			}
		}
		releaseAll(hessians)
	}
	return out, nil
}

// gptqBlock runs GPTQ on the linear of role onto the blocks of type typ,
// storing its encoding in out and updating w to the decoded weights; a
// float fallback type is left out, to be written as it is.
func gptqBlock(cfg *model.Config, w *runtime.LayerWeights, role model.Role, h *gptq.Hessian, typ gguf.Type, out map[model.Role][]byte, opts *Options) error {
	rows, cols := shapeOf(cfg, role)
	r, err := gguf.NewRounder(typ, rows, cols)
	if err != nil {
		return nil // a float fallback type
	}
	if _, err := gptq.Quantize(*weightOf(w, role), rows, cols, h, gptq.Options{
		Grid:         r,
		Damp:         opts.GPTQ.Damp,
		BlockSize:    opts.GPTQ.BlockSize,
		ActOrder:     opts.GPTQ.ActOrder,
		StaticGroups: opts.GPTQ.ActOrder, // blocks are contiguous channels
		Backend:      opts.Backend,
		Log:          opts.Log,
	}); err != nil {
		return err
	}
	out[role], err = decodeInto(weightOf(w, role), typ, r.Bytes())
	return err
}

// roundBlocks rounds every linear of a layer whose type a Rounder supports
// to nearest, each block's parameters searched under the importance of its
// input channels measured on the layer as w holds it; w is updated to the
// decoded weights. The layer's projections run on be.
func roundBlocks(cfg *model.Config, w *runtime.LayerWeights, acts *calibrate.Activations, types map[model.Role]gguf.Type, be compute.Backend) (map[model.Role][]byte, error) {
	squares := map[string]*meanSquares{}
	for _, role := range linearRoles {
		_, in := shapeOf(cfg, role)
		squares[inputOf(role)] = &meanSquares{sum: make([]float64, in)}
	}
	hooks := &runtime.Hooks{QKVIn: squares[compute.InputQKV].add, OIn: squares[compute.InputO].add, MLPIn: squares[compute.InputGateUp].add, DownIn: squares[compute.InputDown].add}
	if err := observe(cfg, *w, acts, hooks, be); err != nil {
		return nil, err
	}
	out := map[model.Role][]byte{}
	for _, role := range linearRoles {
		rows, cols := shapeOf(cfg, role)
		r, err := gguf.NewRounder(types[role], rows, cols)
		if err != nil {
			continue // a float fallback type: written as it is
		}
		r.RoundAll(*weightOf(w, role), squares[inputOf(role)].mean())
		if out[role], err = decodeInto(weightOf(w, role), types[role], r.Bytes()); err != nil {
			return nil, fmt.Errorf("%s: %w", role, err)
		}
	}
	return out, nil
}

// hessianHooks feeds each hook's input to the Hessian of its name.
func hessianHooks(hessians map[string]*gptq.Hessian) *runtime.Hooks {
	add := func(name string) func([]float32, int) {
		if h := hessians[name]; h != nil {
			return h.Add
		}
		return nil
	}
	return &runtime.Hooks{QKVIn: add(compute.InputQKV), OIn: add(compute.InputO), MLPIn: add(compute.InputGateUp), DownIn: add(compute.InputDown), Partial: true}
}

// decodeInto decodes data of type t over *w and returns data.
func decodeInto(w *[]float32, t gguf.Type, data []byte) ([]byte, error) {
	dec := make([]float32, len(*w))
	if err := gguf.Decode(t, dec, data); err != nil {
		return nil, err
	}
	*w = dec
	return data, nil
}

// meanSquares accumulates the mean square of each input channel of a
// linear over the calibration tokens: its importance.
type meanSquares struct {
	sum  []float64
	rows int
}

func (m *meanSquares) add(x []float32, rows int) {
	in := len(m.sum)
	for r := range rows {
		for c, v := range x[r*in : (r+1)*in] {
			m.sum[c] += float64(v) * float64(v)
		}
	}
	m.rows += rows
}

func (m *meanSquares) mean() []float32 {
	out := make([]float32, len(m.sum))
	for c, s := range m.sum {
		out[c] = float32(s / float64(max(m.rows, 1)))
	}
	return out
}
