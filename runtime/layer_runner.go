package runtime

import (
	"fmt"

	"github.com/qtk-dev/qtk/model"
)

// LayerRunner runs single layers over a batch of independent sequences,
// each at positions 0..n-1: the calibration pass of quantizers, which walk
// a model layer by layer without holding all of it.
type LayerRunner struct {
	cfg          *model.Config
	seqLen       int
	keys, values []float32
	rope         ropeTable
	scratch      scratch
}

// NewLayerRunner returns a runner for sequences of up to seqLen tokens.
func NewLayerRunner(cfg *model.Config, seqLen int) *LayerRunner {
	kv := cfg.NumKVHeads * seqLen * cfg.HeadDim
	return &LayerRunner{
		cfg:    cfg,
		seqLen: seqLen,
		keys:   make([]float32, kv),
		values: make([]float32, kv),
		rope:   newRopeTable(cfg, seqLen),
	}
}

func (r *LayerRunner) check(x []float32) (n int, err error) {
	h := r.cfg.HiddenSize
	if len(x)%h != 0 || len(x) == 0 || len(x)/h > r.seqLen {
		return 0, fmt.Errorf("layer runner: sequence of %d values is not 1..%d rows of %d", len(x), r.seqLen, h)
	}
	return len(x) / h, nil
}

// Run applies ly in place to one sequence's hidden states x [n × hidden],
// calling hooks with the inputs of its projections.
func (r *LayerRunner) Run(ly *Layer, x []float32, hooks *Hooks) error {
	n, err := r.check(x)
	if err != nil {
		return err
	}
	sc := r.scratch.ensure(r.cfg, n)
	ly.forward(x, n, r.cache(), sc, hooks)
	return ly.err()
}

// Attention writes the self-attention output (after o_proj, before the
// residual add) of normed rows [n × hidden] to dst.
func (r *LayerRunner) Attention(ly *Layer, dst, normed []float32) error {
	n, err := r.check(normed)
	if err != nil {
		return err
	}
	sc := r.scratch.ensure(r.cfg, n)
	attn := sc.attn[:n*r.cfg.QDim()]
	ly.attention(attn, normed, n, r.cache(), sc)
	ly.o.MatMul(dst[:len(normed)], attn, n)
	if ly.oBias != nil {
		addBias(dst, ly.oBias, n)
	}
	return ly.err()
}

// MLP writes the feed-forward output (after down_proj, before the residual
// add) of normed rows [n × hidden] to dst.
func (r *LayerRunner) MLP(ly *Layer, dst, normed []float32) error {
	n, err := r.check(normed)
	if err != nil {
		return err
	}
	sc := r.scratch.ensure(r.cfg, n)
	act := sc.act[:n*r.cfg.IntermediateSize]
	ly.mlp(act, normed, n, sc)
	ly.down.MatMul(dst[:len(normed)], act, n)
	if ly.downBias != nil {
		addBias(dst, ly.downBias, n)
	}
	return ly.err()
}

func (r *LayerRunner) cache() contiguousKV {
	return contiguousKV{cfg: r.cfg, keys: r.keys, values: r.values, maxLen: r.seqLen, rope: &r.rope}
}

// RMSNorm writes x / rms(x) · weight for each row of x [rows × len(weight)].
func RMSNorm(dst, x, weight []float32, eps float64) {
	rmsNorm(dst, x, weight, len(x)/len(weight), eps)
}
