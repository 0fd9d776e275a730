// Package runtime runs a decoder-only transformer on the CPU in float32:
// batched prefill, a KV cache for generation, logits for scoring, and
// single layers over calibration batches.
package runtime

import (
	"fmt"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
)

// Model holds the weights of a LLaMA-family decoder, widened to float32 and
// packed for the matrix kernel. It is immutable once built and may be shared
// by many States.
type Model struct {
	Config *model.Config
	embed  []float32 // [vocab × hidden], rows looked up by token id
	layers []*Layer
	norm   []float32      // [hidden]
	head   compute.Linear // [vocab × hidden], or [len(outputIDs) × hidden]
	// outputIDs lists the tokens the head computes logits for, when not
	// the whole vocabulary (see WithOutputs).
	outputIDs []int
}

// Load widens and packs every weight of a checkpoint or GGUF file for the
// CPU.
func Load(w model.Weights) (*Model, error) { return LoadOn(compute.CPU, w) }

// LoadOn widens every weight of a checkpoint or GGUF file and holds the
// projections and the head on backend be. The linear weights a quantized
// checkpoint stores quantized are held quantized (see
// compute.Backend.NewQuantLinear).
func LoadOn(be compute.Backend, w model.Weights) (*Model, error) {
	cfg := w.ModelConfig()
	m := &Model{Config: cfg, layers: make([]*Layer, cfg.NumLayers)}
	var err error
	if m.embed, err = w.Float32(model.TokenEmbedding, -1); err != nil {
		return nil, err
	}
	if m.norm, err = w.Float32(model.OutputNorm, -1); err != nil {
		return nil, err
	}
	qs, _ := w.(quantSource)
	var head projection
	if qs != nil {
		q, err := qs.QuantTensor(model.Output, -1)
		if err != nil {
			return nil, err
		}
		if q != nil {
			head.q = quantWeight(q)
		}
	}
	if head.q == nil {
		if head.w, err = w.Float32(model.Output, -1); err != nil {
			return nil, err
		}
	}
	if m.head, err = newFusedLinear(be, []projection{head}, cfg.VocabSize, cfg.HiddenSize); err != nil {
		return nil, err
	}
	for l := range m.layers {
		lw, err := readLayer(w, qs, l)
		if err != nil {
			return nil, err
		}
		if m.layers[l], err = NewLayerOn(be, cfg, lw); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
	}
	return m, nil
}
