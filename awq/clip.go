package awq

import (
	"github.com/qtk-dev/qtk/internal/gemm"
	"github.com/qtk-dev/qtk/quant"
)

// The clip grid of llm-awq's auto_clip: max_val = absmax·(1 - i/20) for
// i = 0..9 (n_grid 20, max_shrink 0.5).
const (
	clipSteps      = quant.DefaultClipSteps
	clipCandidates = int(quant.DefaultClipMaxShrink * clipSteps)
)

// clipLinear runs the clip search on one linear's weights w [out × in]
// with its sampled inputs x [n × in] (both already scaled), and clamps w
// in place to the chosen ranges.
//
// As in llm-awq's auto_clip_layer, every (row, group) tries the symmetric
// bounds ±max_val with max_val = absmax·(1 - i/20), i = 0..9, where absmax
// is the group's largest |w|: the group is clamped to [-max_val, max_val],
// quantized with the scheme's min-max parameters of the clamped weights,
// and scored by the error of its share of the output,
// mean over tokens t of (Σ_c x[t,c]·(ŵ_c - w_c))², ŵ the dequantized clamped
// weights and w the unclamped ones. The bound with the least error wins
// (ties keep the larger one), and the group is clamped to it, so the
// quantizer's plain min-max range then spans [max(min w, -max_val),
// min(max w, max_val)].
func clipLinear(w []float32, out, in int, x []float32, scheme quant.Scheme) ClipReport {
	n := len(x) / in
	gs := scheme.GroupSize
	if gs <= 0 {
		gs = in
	}
	groups := in / gs
	rep := ClipReport{Groups: out * groups, Tokens: n}
	maxq := scheme.MaxQ()

	xg := make([]float32, n*gs)   // the group's inputs [n × gs]
	wg := make([]float32, out*gs) // the group's weights [out × gs]
	d := make([]float32, out*gs)  // ŵ - w [out × gs]
	e := make([]float32, out*n)   // output error [out × n]
	clamped := make([]float32, gs)
	absmax := make([]float32, out)
	best := make([]float64, out)
	bestMax := make([]float32, out)
	bestStep := make([]int, out)
	for g := range groups {
		lo := g * gs
		for t := range n {
			copy(xg[t*gs:(t+1)*gs], x[t*in+lo:t*in+lo+gs])
		}
		for r := range out {
			row := wg[r*gs : (r+1)*gs]
			copy(row, w[r*in+lo:r*in+lo+gs])
			absmax[r] = 0
			for _, v := range row {
				absmax[r] = max(absmax[r], v, -v)
			}
		}
		for i := range clipCandidates {
			f := float32(1 - float64(i)/clipSteps)
			for r := range out {
				m := absmax[r] * f
				row := wg[r*gs : (r+1)*gs]
				for j, v := range row {
					clamped[j] = min(max(v, -m), m)
				}
				scale, zero := scheme.Params(clamped)
				for j, v := range clamped {
					d[r*gs+j] = quant.Dequantize(quant.Quantize(v, scale, zero, maxq), scale, zero) - row[j]
				}
			}
			gemm.MatMulT(e, d, xg, out, n, gs)
			for r := range out {
				var sum float64
				for _, v := range e[r*n : (r+1)*n] {
					sum += float64(v) * float64(v)
				}
				loss := sum / float64(n)
				if i == 0 {
					rep.ErrBefore += loss
				}
				if i == 0 || loss < best[r] {
					best[r], bestMax[r], bestStep[r] = loss, absmax[r]*f, i
				}
			}
		}
		for r := range out {
			rep.ErrAfter += best[r]
			if bestStep[r] == 0 {
				continue
			}
			rep.Clipped++
			rep.MeanShrink += float64(bestStep[r]) / clipSteps
			m := bestMax[r]
			row := w[r*in+lo : r*in+lo+gs]
			for j, v := range row {
				row[j] = min(max(v, -m), m)
			}
		}
	}
	rep.MeanShrink /= float64(rep.Groups)
	return rep
}
