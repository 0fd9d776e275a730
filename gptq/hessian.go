package gptq

import (
	"fmt"
	"math"
	"sync"

	"github.com/qtk-dev/qtk/compute"
)

// MaxChannels is the largest number of input channels a Hessian takes
// (H alone is 8·in² bytes: 6.6 GiB at 28672, LLaMA-2-70B's down_proj).
const MaxChannels = 1 << 16

// Hessian accumulates H = 2/n Σ x·xᵀ over the n calibration rows x (one
// token's input to a linear layer, [in] each) seen so far: the Hessian of
// the layer's squared output error with respect to one weight row, which
// GPTQ minimizes (Frantar et al., 2022, arXiv 2210.17323, eq. 1).
//
// H is kept in float64 by a compute.Gram, on the CPU or the GPU. Each
// batch's xᵀx is computed in float32 (the precision of the reference,
// which accumulates H in float32 on the GPU) and folded into the float64
// running average, so that the rescaling by n/(n+rows) at every batch
// adds no float32 drift however many batches there are. Only the upper
// triangle is computed.
//
// Add must not run concurrently with other calls; Quantize only reads the
// Hessian, so several may share one at the same time.
type Hessian struct {
	in   int
	n    int
	gram compute.Gram
	// h is H [in×in] once read from the Gram (see load); only the upper
	// triangle (column ≥ row) is current.
	h   []float64
	err error
	// factor is the last factorization of H (see factored), nil when
	// stale.
	factorMu sync.Mutex
	factor   *factorization
}

// NewHessian returns an empty Hessian for a layer with in input channels.
// An in outside [1, MaxChannels] gives a Hessian whose Err says so.
func NewHessian(in int) *Hessian { return NewHessianOn(compute.CPU, in) }

// NewHessianOn is NewHessian accumulating on backend be.
func NewHessianOn(be compute.Backend, in int) *Hessian {
	if in <= 0 || in > MaxChannels {
		return &Hessian{err: fmt.Errorf("gptq: hessian of %d input channels: want 1 to %d", in, MaxChannels)}
	}
	g, err := be.NewGram(in)
	if err != nil {
		return &Hessian{err: fmt.Errorf("gptq: hessian of %d input channels: %w", in, err)}
	}
	return &Hessian{in: in, gram: g}
}

// Add folds rows calibration inputs x [rows×in] (row-major) into the
// running average, as the reference's add_batch does:
// H ← H·n/(n+rows) + 2/(n+rows)·xᵀx, n ← n+rows.
//
// A length that does not match rows×in is recorded as the Hessian's
// error (see Err), after which Add does nothing and Quantize fails.
// Non-finite inputs make H non-finite, which Quantize reports.
func (h *Hessian) Add(x []float32, rows int) {
	if h.err != nil || rows == 0 && len(x) == 0 {
		return
	}
	if rows <= 0 || rows > math.MaxInt/h.in || len(x) != rows*h.in {
		h.err = fmt.Errorf("gptq: hessian add: %d values for %d rows of %d channels", len(x), rows, h.in)
		return
	}
	total := h.n + rows
	h.stale()
	if err := h.gram.Add(x, rows, float64(h.n)/float64(total), 2/float64(total)); err != nil {
		h.err = fmt.Errorf("gptq: hessian add: %w", err)
		return
	}
	h.n = total
}

// N returns the number of calibration rows added.
func (h *Hessian) N() int { return h.n }

// In returns the number of input channels.
func (h *Hessian) In() int { return h.in }

// Matrix returns H [in×in] as accumulated so far, of which only the upper
// triangle (column ≥ row) is current. The slice is the Hessian's own.
func (h *Hessian) Matrix() ([]float64, error) {
	if h.err != nil {
		return nil, h.err
	}
	if err := h.load(); err != nil {
		return nil, err
	}
	return h.h, nil
}

// Err returns the first error met by NewHessian or Add, or nil.
func (h *Hessian) Err() error { return h.err }

// load reads H from the Gram, once after the last Add.
func (h *Hessian) load() error {
	if h.h != nil {
		return nil
	}
	m, err := h.gram.Matrix()
	if err != nil {
		return fmt.Errorf("gptq: reading the hessian: %w", err)
	}
	h.h = m
	return nil
}

// Release frees the Hessian's memory on the backend's device; the Hessian
// must not be used after.
func (h *Hessian) Release() {
	h.stale()
	if h.gram != nil {
		h.gram.Release()
	}
}

// stale drops what was read or derived from the Gram, which moves on.
func (h *Hessian) stale() {
	h.h = nil
	if h.factor != nil && h.factor.factor != nil {
		h.factor.factor.Release()
	}
	h.factor = nil
}

// diagonal returns diag(H) after checking that H is finite: on fz's
// device where fz holds H, else from H read to the host.
func (h *Hessian) diagonal(fz compute.Factorizer) ([]float64, error) {
	errNonFinite := fmt.Errorf("gptq: hessian has non-finite entries")
	if fz != nil {
		diag, finite, err := fz.GramDiagonal(h.gram)
		if err != nil {
			return nil, fmt.Errorf("gptq: reading the hessian's diagonal: %w", err)
		}
		if !finite {
			return nil, errNonFinite
		}
		return diag, nil
	}
	if err := h.load(); err != nil {
		return nil, err
	}
	if !h.finite() {
		return nil, errNonFinite
	}
	diag := make([]float64, h.in)
	for c := range diag {
		diag[c] = h.at(c, c)
	}
	return diag, nil
}

// at returns H[i][j]; load must have succeeded.
func (h *Hessian) at(i, j int) float64 {
	if i > j {
		i, j = j, i
	}
	return h.h[i*h.in+j]
}

// finite reports whether every entry of H is finite.
func (h *Hessian) finite() bool {
	for i := range h.in {
		for _, v := range h.h[i*h.in+i : (i+1)*h.in] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	return true
}
