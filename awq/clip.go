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

// The clip search of one linear's weights w [out × in] with its sampled
// inputs x [n × in] (both already scaled), as llm-awq's
// auto_clip_layer: every (row, group) tries the symmetric bounds
// ±max_val with max_val = absmax·(1 - i/20), i = 0..9, where absmax is
// the group's largest |w|: the group is clamped to [-max_val, max_val],
// quantized with the scheme's min-max parameters of the clamped weights,
// and scored by the error of its share of the output,
// mean over tokens t of (Σ_c x[t,c]·(ŵ_c - w_c))², ŵ the dequantized clamped
// weights and w the unclamped ones. The bound with the least error wins
// (ties keep the larger one), and the group is clamped to it, so the
// quantizer's plain min-max range then spans [max(min w, -max_val),
// min(max w, max_val)].
//
// clipLosses scores the candidates (on the host; a compute.AWQSearcher
// scores them on its device), applyClip chooses and clamps.

// clipGroupSize is the scheme's group size for rows of in channels.
func clipGroupSize(in int, scheme quant.Scheme) int {
	if scheme.GroupSize <= 0 {
		return in
	}
	return scheme.GroupSize
}

// clipLosses returns the error of every candidate of every (row, group)
// of w [out × in] on the inputs x [n × in]: for group g, candidate i and
// row r, at (g·clipCandidates + i)·out + r.
func clipLosses(w []float32, out, in int, x []float32, scheme quant.Scheme) []float64 {
	n := len(x) / in
	gs := clipGroupSize(in, scheme)
	groups := in / gs
	maxq := scheme.MaxQ()
	losses := make([]float64, groups*clipCandidates*out)

	xg := make([]float32, n*gs)   // the group's inputs [n × gs]
	wg := make([]float32, out*gs) // the group's weights [out × gs]
	d := make([]float32, out*gs)  // ŵ - w [out × gs]
	e := make([]float32, out*n)   // output error [out × n]
	clamped := make([]float32, gs)
	absmax := make([]float32, out)
	for g := range groups {
		lo := g * gs
		for t := range n {
			copy(xg[t*gs:(t+1)*gs], x[t*in+lo:t*in+lo+gs])
		}
		for r := range out {
			row := wg[r*gs : (r+1)*gs]
			copy(row, w[r*in+lo:r*in+lo+gs])
			absmax[r] = groupAbsMax(row)
		}
		for i := range clipCandidates {
			f := clipFactor(i)
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
			at := losses[(g*clipCandidates+i)*out:]
			for r := range out {
				var sum float64
				for _, v := range e[r*n : (r+1)*n] {
					sum += float64(v) * float64(v)
				}
				at[r] = sum / float64(n)
			}
		}
	}
	return losses
}

// clipFactor is candidate i's fraction of absmax kept.
func clipFactor(i int) float32 { return float32(1 - float64(i)/clipSteps) }

// groupAbsMax is the largest |w| of a group.
func groupAbsMax(w []float32) float32 {
	var m float32
	for _, v := range w {
		m = max(m, v, -v)
	}
	return m
}

// applyClip chooses every (row, group)'s candidate of w [out × in] from
// losses (clipLosses' layout, over n sampled tokens), clamps w in place to
// the chosen ranges and reports the search.
func applyClip(w []float32, out, in int, losses []float64, n int, scheme quant.Scheme) ClipReport {
	rep, chosen := chooseClip(losses, out, in, n, scheme)
	clampGroups(w, out, in, chosen, scheme)
	return rep
}

// chooseClip returns the report of the clip search of a linear [out × in]
// from its losses (clipLosses' layout, over n sampled tokens) and the
// candidate chosen for each (row, group), at g·out + r: the least loss,
// the wider range on ties.
func chooseClip(losses []float64, out, in, n int, scheme quant.Scheme) (ClipReport, []int32) {
	groups := in / clipGroupSize(in, scheme)
	rep := ClipReport{Groups: out * groups, Tokens: n}
	chosen := make([]int32, groups*out)
	for g := range groups {
		for r := range out {
			best, bestStep := losses[g*clipCandidates*out+r], 0
			rep.ErrBefore += best
			for i := 1; i < clipCandidates; i++ {
				if loss := losses[(g*clipCandidates+i)*out+r]; loss < best {
					best, bestStep = loss, i
				}
			}
			rep.ErrAfter += best
			if bestStep == 0 {
				continue
			}
			chosen[g*out+r] = int32(bestStep)
			rep.Clipped++
			rep.MeanShrink += float64(bestStep) / clipSteps
		}
	}
	rep.MeanShrink /= float64(rep.Groups)
	return rep, chosen
}

// clampGroups clamps each (row, group) of w [out × in] to ±absmax times
// the chosen candidate's factor (chooseClip's layout), absmax the group's
// largest |w|, over the cores.
func clampGroups(w []float32, out, in int, chosen []int32, scheme quant.Scheme) {
	gs := clipGroupSize(in, scheme)
	groups := in / gs
	forRows(out, in, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			for g := range groups {
				step := int(chosen[g*out+r])
				if step == 0 {
					continue
				}
				row := w[r*in+g*gs : r*in+(g+1)*gs]
				m := groupAbsMax(row) * clipFactor(step)
				for j, v := range row {
					row[j] = min(max(v, -m), m)
				}
			}
		}
	})
}

// clipLinear runs the clip search on the host and clamps w in place.
func clipLinear(w []float32, out, in int, x []float32, scheme quant.Scheme) ClipReport {
	return applyClip(w, out, in, clipLosses(w, out, in, x, scheme), len(x)/in, scheme)
}
