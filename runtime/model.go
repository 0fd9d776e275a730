// Package runtime runs a decoder-only transformer on the CPU in float32:
// batched prefill, a KV cache for generation, logits for scoring, and
// single layers over calibration batches.
package runtime

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/gemm"
	"github.com/qtk-dev/qtk/model"
)

// Model holds the weights of a LLaMA-family decoder, widened to float32 and
// packed for the matrix kernel. It is immutable once built and may be shared
// by many States.
type Model struct {
	Config *model.Config
	embed  []float32 // [vocab × hidden], rows looked up by token id
	layers []*Layer
	norm   []float32    // [hidden]
	head   *gemm.Packed // [vocab × hidden]
}

// Load widens and packs every weight of a checkpoint.
func Load(ck *model.Checkpoint) (*Model, error) {
	cfg := ck.Config
	m := &Model{Config: cfg, layers: make([]*Layer, cfg.NumLayers)}
	var err error
	if m.embed, err = ck.Float32(model.TokenEmbedding, -1); err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Dir, err)
	}
	if m.norm, err = ck.Float32(model.OutputNorm, -1); err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Dir, err)
	}
	head, err := ck.Float32(model.Output, -1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Dir, err)
	}
	m.head = gemm.PackT(head, cfg.VocabSize, cfg.HiddenSize)
	for l := range m.layers {
		w, err := ReadLayer(ck, l)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ck.Dir, err)
		}
		m.layers[l] = NewLayer(cfg, w)
	}
	return m, nil
}
