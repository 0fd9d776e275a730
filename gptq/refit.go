package gptq

import (
	"math"

	"github.com/qtk-dev/qtk/quant"
)

// refitScales re-solves every row's group scales for the integer codes the
// sweep chose, minimizing the layer's true calibration error
// (w-ŵ)ᵀH(w-ŵ) with ŵ_c = s_g(c)·(q_c - z_g(c)). Per row this is a small
// linear least-squares problem in the row's group scales:
//
//	A s = b,  A_gh = Σ_{c∈g, d∈h} e_c H_cd e_d,  b_g = Σ_{c∈g} e_c (H w)_c,
//
// with e_c = q_c - z_g(c). The sweep's own scales are one feasible point,
// so a refit scale set is kept only when, rounded to the scale dtype, it
// lowers the error. w is the original weight [out×in]; h the undamped
// Hessian with dead columns' weights zeroed as in the sweep.
//
// The sums run in float64: H spans orders of magnitude across channels, and
// float32 accumulation loses the small differences the refit is after.
func refitScales(t *quant.Tensor, w []float32, h *Hessian, dead []bool) {
	out, in := t.Out, t.In
	groups := len(t.Scale) / out
	hd := make([]float64, in*in) // H as a dense symmetric matrix
	for c := 0; c < in; c++ {
		for d := 0; d < in; d++ {
			hd[c*in+d] = h.at(c, d)
		}
	}
	gidx := t.GIdx
	parallelFor(out, sweepRows, func(lo, hi int) {
		e := make([]float64, in)  // codes less zero points, q - z
		wr := make([]float64, in) // the row's weights
		acc := make([]float64, groups)
		a := make([]float64, groups*groups)
		b := make([]float64, groups)
		for r := lo; r < hi; r++ {
			for c := 0; c < in; c++ {
				e[c], wr[c] = 0, 0
				if !dead[c] {
					e[c] = float64(int(t.Q[r*in+c]) - int(t.Zero[r*groups+int(gidx[c])]))
					wr[c] = float64(w[r*in+c])
				}
			}
			clear(a)
			clear(b)
			for c := 0; c < in; c++ {
				if e[c] == 0 {
					continue // contributes nothing to row c of A or to b
				}
				row := hd[c*in : (c+1)*in]
				clear(acc)
				var hw float64
				for d, hcd := range row {
					hw += hcd * wr[d]
					acc[gidx[d]] += hcd * e[d]
				}
				g := int(gidx[c])
				b[g] += e[c] * hw
				for k, v := range acc {
					a[g*groups+k] += e[c] * v
				}
			}
			old := t.Scale[r*groups : (r+1)*groups]
			refit := solveSymmetric(a, b, groups)
			if refit == nil {
				continue
			}
			cand := make([]float32, groups)
			for g, v := range refit {
				if !(v > 0) || math.IsInf(v, 0) {
					cand = nil
					break
				}
				cand[g] = t.Scheme.RoundScale(float32(v))
			}
			if cand != nil && rowError(cand, a, b, groups) < rowError(old, a, b, groups) {
				copy(old, cand)
			}
		}
	})
}

// rowError is (w-ŵ)ᵀH(w-ŵ) up to the constant wᵀHw: sᵀAs - 2bᵀs.
func rowError(s []float32, a, b []float64, n int) float64 {
	var q float64
	for g := 0; g < n; g++ {
		for k := 0; k < n; k++ {
			q += float64(s[g]) * a[g*n+k] * float64(s[k])
		}
		q -= 2 * b[g] * float64(s[g])
	}
	return q
}

// solveSymmetric solves A x = b for a small symmetric positive definite A
// by Cholesky; nil when A is not positive definite.
func solveSymmetric(a, b []float64, n int) []float64 {
	l := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			s := a[i*n+j]
			for k := 0; k < j; k++ {
				s -= l[i*n+k] * l[j*n+k]
			}
			if i == j {
				if s <= 0 {
					return nil
				}
				l[i*n+i] = math.Sqrt(s)
			} else {
				l[i*n+j] = s / l[j*n+j]
			}
		}
	}
	x := make([]float64, n)
	for i := 0; i < n; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i*n+k] * x[k]
		}
		x[i] = s / l[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		s := x[i]
		for k := i + 1; k < n; k++ {
			s -= l[k*n+i] * x[k]
		}
		x[i] = s / l[i*n+i]
	}
	return x
}
