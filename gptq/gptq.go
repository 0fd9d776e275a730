// Package gptq quantizes the weights of a linear layer with GPTQ
// (Frantar et al., 2022, "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers", arXiv 2210.17323).
//
// A [Hessian] accumulates H = 2/n Σ x·xᵀ over the layer's calibration
// inputs; [Quantize] then quantizes the weight columns (input channels)
// one at a time, spreading each column's rounding error over the columns
// not yet quantized through the inverse Hessian, so that the layer's
// output on the calibration inputs changes as little as possible. The
// integer grid and the group parameters are those of package quant.
//
// The algorithm follows the reference implementations
// (IST-DASLab/gptq, AutoGPTQ) step by step, including their dead
// columns, damping, act-order, static groups, lazy block updates and the
// moment group parameters are found; the factorization differs (one
// float64 Cholesky and a triangular inverse instead of three float32
// factorizations) but yields the same matrix, and failing
// factorizations are retried with more damping.
//
// On a backend that is a compute.Sweeper (the CUDA one), the sweep onto
// package quant's integer grid with min-max parameters runs whole on its
// device, rounding as the CPU sweep does; other grids and the clip
// search sweep on the CPU. Where that backend, a compute.Factorizer, also
// accumulated the Hessian, H is factorized there too, and neither H nor
// the factor crosses to the host.
package gptq

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/quant"
)

// Result is the outcome of [Quantize].
type Result struct {
	// Tensor holds the quantized weights in the original channel order;
	// nil with Options.Grid, which then holds them.
	Tensor *quant.Tensor
	// Loss is the sum over all weights of GPTQ's error terms
	// ((w-ŵ)/U_jj)²/2, U the upper Cholesky factor of the damped H⁻¹
	// (the reference's Hinv), w the weight as updated when its column
	// came up: what the reference sums and prints as "error" (AutoGPTQ
	// logs it divided by the number of calibration rows as "avg loss").
	// It equals ½ Σ_rows (w-ŵ)ᵀ·H·(w-ŵ) for the damped H and the
	// original weights (dead columns zeroed), up to float32 rounding.
	Loss float64
	// Damp is the damping fraction finally used: Options.Damp, or a
	// raised value when H could not be factorized with it.
	Damp float64
}

// Quantize quantizes the weight matrix w [out×in] (row-major, a linear
// layer's weight) with GPTQ, using the Hessian h of the layer's inputs.
// Neither w nor h is modified, so weights sharing one Hessian (q, k and v
// projections) may be quantized concurrently.
//
// It fails on mismatched shapes, a scheme the row length does not allow
// (see quant.Scheme.Validate), an empty or failed Hessian, non-finite
// weights or Hessian entries, and a Hessian that is not positive definite
// even with damping raised to MaxDamp.
func Quantize(w []float32, out, in int, h *Hessian, opts Options) (Result, error) {
	o, err := opts.resolved()
	if err != nil {
		return Result{}, fmt.Errorf("gptq: %w", err)
	}
	if err := checkInputs(w, out, in, h, o); err != nil {
		return Result{}, err
	}

	p, err := newPlan(h, o)
	if err != nil {
		return Result{}, err
	}
	grid := o.Grid
	var scheme *schemeGrid
	if grid == nil {
		scheme = newSchemeGrid(out, in, groupIndex(p.perm, o), o)
		grid = scheme
	}
	loss, err := newSweep(w, out, in, p, grid, o).run()
	if err != nil {
		return Result{}, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return Result{}, fmt.Errorf("gptq: the error terms overflowed (loss %v); the Hessian is too badly scaled", loss)
	}
	res := Result{Loss: loss, Damp: p.damp}
	if scheme != nil {
		if o.RefitScales {
			if err := h.load(); err != nil {
				return Result{}, err
			}
			refitScales(scheme.t, w, h, p.dead)
		}
		res.Tensor = scheme.t
	}
	return res, nil
}

// plan is what the sweep needs of the Hessian: the processing order, the
// dead columns, the factor U and the channels' importance.
type plan struct {
	perm []int  // perm[j] is the input channel quantized j-th
	dead []bool // inputs that were always zero, by channel
	// U is u, on the host, or factor, on the device that sweeps.
	u      invFactor
	factor compute.Factor
	damp   float64 // the damping fraction U was found with
	// importance is diag(H) in processing order for the grid's fits; nil
	// when they take none.
	importance []float32
}

// newPlan derives the sweep's plan from h.
func newPlan(h *Hessian, o Options) (plan, error) {
	f, err := h.factored(o)
	if err != nil {
		return plan{}, err
	}
	p := plan{perm: f.perm, dead: f.dead, u: f.u, factor: f.factor, damp: f.damp}
	if o.Clip != nil || o.Grid != nil {
		p.importance = make([]float32, h.in)
		for j, c := range p.perm {
			p.importance[j] = float32(f.diag[c])
		}
	}
	return p, nil
}

// factorization is what the plan takes from the Hessian alone: the same
// for every weight that reads the same inputs (q, k and v; gate and up),
// which share it. The sweep only reads it.
type factorization struct {
	actOrder bool    // the options it was made with
	optDamp  float64 //
	perm     []int
	dead     []bool
	diag     []float64 // diag(H), dead columns set to 1
	// U is u, or factor where the backend holds H and sweeps (see
	// deviceFactorizer).
	u      invFactor
	factor compute.Factor
	damp   float64
}

// factored returns the factorization of H for o, made on the first call
// after the last Add. Where o's backend holds H and sweeps, H and U stay
// on its device; else H is read to the host and factorized from there.
func (h *Hessian) factored(o Options) (*factorization, error) {
	h.factorMu.Lock()
	defer h.factorMu.Unlock()
	start := time.Now()
	fz := deviceFactorizer(h, o)
	if f := h.factor; f != nil && f.actOrder == o.ActOrder && f.optDamp == o.Damp && (f.factor != nil) == (fz != nil) {
		return f, nil
	}
	diag, err := h.diagonal(fz)
	if err != nil {
		return nil, err
	}
	// Dead columns, inputs that were always zero, get H_cc = 1 (and zero
	// weights in the sweep), as in the reference.
	f := &factorization{actOrder: o.ActOrder, optDamp: o.Damp, diag: diag, dead: make([]bool, h.in)}
	for c, d := range f.diag {
		if d == 0 {
			f.diag[c], f.dead[c] = 1, true
		}
	}
	f.perm = processingOrder(f.diag, o.ActOrder)
	if fz != nil {
		if f.factor, f.damp, err = factorOnDevice(fz, h, f.perm, f.diag, o); err != nil {
			return nil, err
		}
		o.Log("gptq: hessian of %d channels factorized on the device in %.3fs", h.in, time.Since(start).Seconds())
	} else if f.u, f.damp, err = factor(h, f.perm, f.diag, o); err != nil {
		return nil, err
	}
	// A factorization this replaces may still be read by a Quantize with
	// other options; its device memory goes when it is collected.
	h.factor = f
	return f, nil
}

// deviceFactorizer returns o's backend as a Factorizer where Quantize can
// keep H and U on its device from end to end: the backend holds h's Gram
// and sweeps o's grid there. Else it returns nil.
func deviceFactorizer(h *Hessian, o Options) compute.Factorizer {
	fz, ok := o.Backend.(compute.Factorizer)
	if _, sweeps := o.Backend.(compute.Sweeper); !ok || !sweeps || !fz.HoldsGram(h.gram) || deviceSweepBlocker(o) != "" {
		return nil
	}
	return fz
}

// checkInputs validates everything Quantize is given.
func checkInputs(w []float32, out, in int, h *Hessian, o Options) error {
	switch {
	case out <= 0 || in <= 0:
		return fmt.Errorf("gptq: shape [%d, %d] is not positive", out, in)
	case out > math.MaxInt/in || len(w) != out*in:
		return fmt.Errorf("gptq: %d weights for shape [%d, %d]", len(w), out, in)
	case h == nil:
		return fmt.Errorf("gptq: no hessian")
	case h.err != nil:
		return h.err
	case h.in != in:
		return fmt.Errorf("gptq: hessian of %d input channels for a weight of %d", h.in, in)
	case h.n == 0:
		return fmt.Errorf("gptq: hessian has no calibration rows")
	}
	if o.Grid != nil {
		if gs := o.Grid.GroupSize(); gs <= 0 || in%gs != 0 {
			return fmt.Errorf("gptq: the grid's groups of %d do not divide the %d input channels", gs, in)
		}
	} else if err := o.Scheme.Validate(in); err != nil {
		return fmt.Errorf("gptq: %w", err)
	}
	if i := firstNonFinite(w, in); i >= 0 {
		return fmt.Errorf("gptq: row %d, column %d: weight is %v", i/in, i%in, w[i])
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or infinite value of
// w [rows×in], or -1, scanning rows in parallel.
func firstNonFinite(w []float32, in int) int {
	rows := len(w) / in
	first := make([]int, (rows+sweepRows-1)/sweepRows) // by chunk of rows
	parallelFor(rows, sweepRows, func(lo, hi int) {
		first[lo/sweepRows] = -1
		for i, v := range w[lo*in : hi*in] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				first[lo/sweepRows] = lo*in + i
				return
			}
		}
	})
	for _, i := range first {
		if i >= 0 {
			return i
		}
	}
	return -1
}

// processingOrder returns perm, perm[j] being the input channel quantized
// j-th: the identity, or with act-order the channels by decreasing
// diagonal of H (ties in channel order; the reference's torch.argsort
// leaves their order unspecified).
func processingOrder(diag []float64, actOrder bool) []int {
	perm := make([]int, len(diag))
	for c := range perm {
		perm[c] = c
	}
	if actOrder {
		slices.SortStableFunc(perm, func(a, b int) int {
			switch {
			case diag[a] > diag[b]:
				return -1
			case diag[a] < diag[b]:
				return 1
			}
			return 0
		})
	}
	return perm
}
