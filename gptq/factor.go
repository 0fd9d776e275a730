package gptq

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/qtk-dev/qtk/compute"
)

// invFactor is U, the upper Cholesky factor of H⁻¹ = UᵀU for the damped
// H in processing order, stored reversed as cholesky.go explains:
// U[p][q] = m[(n-1-p)·n + n-1-q], m holding L⁻¹ in its lower triangle.
type invFactor struct {
	n int
	m []float64
}

// row sets dst[k] = U[p][q0+k] in float32, the precision of the sweep.
func (u invFactor) row(dst []float32, p, q0 int) {
	base := (u.n-1-p)*u.n + u.n - 1 - q0
	src := u.m[base-len(dst)+1 : base+1]
	for k := range dst {
		dst[k] = float32(src[len(src)-1-k])
	}
}

// factor damps H (in processing order perm, with diagonal diag) by
// damp·mean(diag) for damp = o.Damp and factorizes it on the host. While
// that fails it raises damp as dampUntil says.
func factor(h *Hessian, perm []int, diag []float64, o Options) (invFactor, float64, error) {
	u := invFactor{n: len(perm), m: make([]float64, len(perm)*len(perm))}
	damp, err := dampUntil(diag, o, func(add float64) (bool, error) {
		return u.factorize(o.Backend, h, perm, diag, add)
	})
	if err != nil {
		return invFactor{}, 0, err
	}
	return u, damp, nil
}

// factorOnDevice is factor where fz holds H: the factor stays on its
// device.
func factorOnDevice(fz compute.Factorizer, h *Hessian, perm []int, diag []float64, o Options) (compute.Factor, float64, error) {
	var u compute.Factor
	damp, err := dampUntil(diag, o, func(add float64) (bool, error) {
		var ok bool
		var err error
		u, ok, err = fz.InverseFactor(h.gram, perm, add)
		return ok, err
	})
	if err != nil {
		return nil, 0, err
	}
	return u, damp, nil
}

// dampUntil calls try with add = damp·mean(diag), for damp = o.Damp and,
// while try reports that the damped H could not be factorized, for damp
// raised tenfold at a time up to MaxDamp, noting each raise in o.Log. It
// returns the damp that succeeded.
func dampUntil(diag []float64, o Options, try func(add float64) (bool, error)) (float64, error) {
	mean := 0.0
	for _, d := range diag {
		mean += d
	}
	mean /= float64(len(diag))
	for damp := o.Damp; ; {
		ok, err := try(damp * mean)
		if err != nil {
			return 0, fmt.Errorf("gptq: factorizing the hessian: %w", err)
		}
		if ok {
			return damp, nil
		}
		next := damp * 10
		if next > MaxDamp*(1+1e-9) {
			return 0, fmt.Errorf("gptq: hessian is not positive definite, even with damp %g", damp)
		}
		o.Log("gptq: cholesky failed with damp %g; damp raised to %g", damp, next)
		damp = next
	}
}

// factorize fills u.m with H in reversed processing order plus add on the
// diagonal, factorizes it and inverts the factor. It reports false when
// the matrix is not numerically positive definite or U does not fit
// float32 (the sweep's precision) with a normal positive diagonal.
func (u invFactor) factorize(be compute.Backend, h *Hessian, perm []int, diag []float64, add float64) (bool, error) {
	n, m := u.n, u.m
	// Rows in parallel: a large H is read mostly down its columns here,
	// bound by memory latency.
	parallelFor(n, factorRows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c := perm[n-1-r]
			row := m[r*n : (r+1)*n]
			for s := range r {
				row[s] = h.at(c, perm[n-1-s])
			}
			row[r] = diag[c] + add
		}
	})
	if ok, err := be.CholeskyInverse(m, n); !ok || err != nil {
		return false, err
	}
	var bad atomic.Bool
	parallelFor(n, factorRows, func(lo, hi int) {
		for r := lo; r < hi && !bad.Load(); r++ {
			for _, v := range m[r*n : r*n+r] {
				if !(math.Abs(v) <= math.MaxFloat32) {
					bad.Store(true)
				}
			}
			if d := m[r*n+r]; !(d >= 0x1p-126 && d <= math.MaxFloat32) {
				bad.Store(true)
			}
		}
	})
	return !bad.Load(), nil
}

// factorRows is the rows of the factorization's matrix per parallel chunk.
const factorRows = 64
