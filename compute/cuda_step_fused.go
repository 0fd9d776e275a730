package compute

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// fusedLayer is a layer's 4-bit projections, as the decode step's fused
// products take them (see cuda.Int4GEMVNorm).
type fusedLayer struct{ qkv, o, gateUp, down cuda.Int4 }

// fusedLayers returns the 4-bit weights of every layer when the fused
// products take them all: 4-bit projections packed for the kernels, in
// their columns' order (no act-order permutation to gather by) and
// narrow enough; nil otherwise, and the step runs the layers' stages.
func fusedLayers(layers []*gpuLayer) []fusedLayer {
	var fused []fusedLayer
	for _, ly := range layers {
		var ws [4]cuda.Int4
		for i, l := range []deviceLinear{ly.qkv, ly.o, ly.gateUp, ly.down} {
			q, ok := l.(*gpuQuantLinear)
			if !ok || q.w.Perm != (cuda.Buffer{}) || !cuda.Int4FusedFits(q.w) {
				return nil
			}
			ws[i] = q.w
		}
		fused = append(fused, fusedLayer{ws[0], ws[1], ws[2], ws[3]})
	}
	return fused
}

// launchFused queues the step's kernels for the token at position at,
// the layers' norms, SwiGLU and residual adds fused into their products
// and RoPE into the attention: per layer, q, k, v of the normed x; the
// attention (bias, then RoPE, the cache write and attention in one
// kernel); x += o; gate, up of the normed x; x += down of their SwiGLU. x
// stays the whole residual stream between the products.
func (st *gpuStep) launchFused(c *cuda.Ctx, at cuda.Position) error {
	sc := &st.g.layer
	x := st.x.buf
	for l, ly := range st.layers {
		s, w := ly.shape, st.fused[l]
		if err := sc.ensure(c, s, 1); err != nil {
			return err
		}
		eps := float64(s.NormEps)
		err := c.Int4GEMVNorm(sc.qkv, x, ly.inputNorm(), eps, w.qkv)
		if err == nil {
			err = ly.attend(c, sc, 1, 1, at, st.kv[l], st.maxLen, true)
		}
		if err == nil {
			err = c.Int4GEMVAddInto(x, sc.attn, w.o)
		}
		if err == nil {
			err = c.Int4GEMVNorm(sc.gateUp, x, ly.postNorm(), eps, w.gateUp)
		}
		if err == nil {
			err = c.Int4GEMVSwiGLUAddInto(x, sc.gateUp, w.down)
		}
		if err != nil {
			return fmt.Errorf("layer %d: %w", l, err)
		}
	}
	if err := st.head.matMulDevice(c, st.logits.buf, x, 1); err != nil {
		return fmt.Errorf("head: %w", err)
	}
	return nil
}
