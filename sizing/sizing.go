// Package sizing computes how much memory a LLaMA-family model takes: its
// weights in each storage format qtk writes, its KV cache, and the working
// memory of qtk's forward pass, which together estimate what serving a
// batch of sequences needs.
package sizing

import (
	"fmt"

	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
)

// DTypeBytes is the size of one value of a floating-point dtype as
// config.json names it, or 0 for an unknown name.
func DTypeBytes(dtype string) int {
	switch dtype {
	case "float32", "f32":
		return 4
	case "float16", "bfloat16", "f16", "bf16", "":
		return 2 // a config that names no dtype: transformers' half-precision default
	}
	return 0
}

// FloatWeightBytes is every weight stored at bytesPerValue.
func FloatWeightBytes(cfg *model.Config, bytesPerValue int) int64 {
	return cfg.ParamCount() * int64(bytesPerValue)
}

// HFWeightBytes is the size of the tensors of a checkpoint quantized to an
// HF INT4/INT8 format: the decoder layers' projections packed as the format
// lays them out (hf.Plan), everything else kept at keptBytes per value.
func HFWeightBytes(cfg *model.Config, format hf.Format, scheme quant.Scheme, keptBytes int) (int64, error) {
	qc, err := hf.NewConfig(format, scheme)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, spec := range cfg.Tensors() {
		if !spec.Linear || spec.Layer < 0 {
			total += elements(spec.Shape) * int64(keptBytes)
			continue
		}
		packed, err := hf.Plan(qc, spec.Shape[0], spec.Shape[1])
		if err != nil {
			return 0, fmt.Errorf("%s: %w", spec.Name, err)
		}
		for _, p := range packed {
			total += elements(p.Shape) * int64(p.DType.Bits()) / 8
		}
	}
	return total, nil
}

// KVBytesPerToken is the key and value cache one token takes over all
// layers with kvHeads heads of keys and values: 2 · layers · kvHeads ·
// head_dim · bytesPerValue. Pass cfg.NumKVHeads for the model as it is
// (grouped-query attention where fewer than its query heads) and
// cfg.NumHeads for the multi-head equivalent.
func KVBytesPerToken(cfg *model.Config, kvHeads, bytesPerValue int) int64 {
	return 2 * int64(cfg.NumLayers) * int64(kvHeads) * int64(cfg.HeadDim) * int64(bytesPerValue)
}

// ActivationBytes estimates the float32 working memory of qtk's forward
// pass (runtime.State) for batch sequences each prefilled with ctx tokens
// in one call, the largest it gets: per sequence the scratch buffers of
// ctx rows (residual, normed and projected hidden states, q/k/v, attention
// output, the grouped queries, gate·up and the activated FFN), the
// attention scores of every head (ctx × ctx, materialized), the RoPE table
// and one row of logits.
func ActivationBytes(cfg *model.Config, batch, ctx int) int64 {
	c := int64(ctx)
	h, ffn, q, kv := int64(cfg.HiddenSize), int64(cfg.IntermediateSize), int64(cfg.QDim()), int64(cfg.KVDim())
	rows := c * (3*h + (q + 2*kv) + q + q + 3*ffn)
	scores := int64(cfg.NumHeads) * c * c
	rope := c * int64(cfg.HeadDim) // cos and sin of head_dim/2 frequencies
	logits := int64(cfg.VocabSize)
	return int64(batch) * 4 * (rows + scores + rope + logits)
}

// Serving is the memory estimate for serving batch sequences of up to ctx
// tokens.
type Serving struct {
	Batch           int   `json:"batch"`
	Ctx             int   `json:"ctx"`
	KVBytesPerValue int   `json:"kv_bytes_per_value"`
	KVBytes         int64 `json:"kv_cache_bytes"`
	KVBytesMHA      int64 `json:"kv_cache_bytes_mha"`
	ActivationBytes int64 `json:"activation_bytes"`
}

// NewServing computes the KV cache (as the model is, and its multi-head
// equivalent) and activations for batch × ctx tokens.
func NewServing(cfg *model.Config, batch, ctx, kvBytesPerValue int) Serving {
	tokens := int64(batch) * int64(ctx)
	return Serving{
		Batch: batch, Ctx: ctx, KVBytesPerValue: kvBytesPerValue,
		KVBytes:         tokens * KVBytesPerToken(cfg, cfg.NumKVHeads, kvBytesPerValue),
		KVBytesMHA:      tokens * KVBytesPerToken(cfg, cfg.NumHeads, kvBytesPerValue),
		ActivationBytes: ActivationBytes(cfg, batch, ctx),
	}
}

// Total is the memory to serve with weights of weightBytes.
func (s Serving) Total(weightBytes int64) int64 {
	return weightBytes + s.KVBytes + s.ActivationBytes
}

func elements(shape []int) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= int64(d)
	}
	return n
}
