package gemm

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/linalg"
)

// packPanels is the panels a core packs at a time, in PackT and
// PackInt4.
const packPanels = 4

// Packed is a right-hand side B[n×k]ᵀ packed once for repeated products,
// typically a weight matrix at model load. It is immutable and safe for
// concurrent use.
type Packed struct {
	ks   *kernels
	n, k int
	// data holds ⌈n/nr⌉ panels of k steps of nr floats, stride floats
	// apart; the last panel is zero-padded past n.
	data   []float32
	stride int
}

// PackT packs B[n×k] (one row per output column, the weight layout) for
// Packed.MatMul. It panics if len(b) < n*k.
func PackT(b []float32, n, k int) *Packed { return packT(active, b, n, k) }

func packT(ks *kernels, b []float32, n, k int) *Packed {
	if n < 0 || k < 0 || len(b) < n*k {
		panic(fmt.Sprintf("gemm: PackT: len(b) = %d, need n*k for n=%d k=%d", len(b), n, k))
	}
	nr := ks.nr
	panels := (n + nr - 1) / nr
	// One spare step between panels: with k a power of two, panels k*nr
	// floats apart would all map to the same cache sets, and the blocks of
	// them that a product keeps in cache would evict each other.
	stride := k*nr + nr
	p := &Packed{ks: ks, n: n, k: k, data: make([]float32, panels*stride), stride: stride}
	if k > 0 {
		// Panels are packed apart, over the cores (loading a model packs
		// every weight once).
		linalg.ParallelFor(panels, packPanels, func(lo, hi int) {
			for q := lo; q < hi; q++ {
				packBT(p.data[q*stride:], b[q*nr*k:], k, min(nr, n-q*nr), k, nr)
			}
		})
	}
	return p
}

// Rows returns n, the number of rows of the original B (columns of C).
func (p *Packed) Rows() int { return p.n }

// Cols returns k, the length of each row of B (columns of A).
func (p *Packed) Cols() int { return p.k }

// MatMul sets C[m×n] = A[m×k]·Bᵀ. It panics if a slice is shorter than its
// dimensions require.
func (p *Packed) MatMul(c, a []float32, m int) {
	n, k := p.n, p.k
	checkDims("Packed.MatMul", len(c), len(a), n*k, m, n, k)
	if trivial(c, m, n, k) {
		return
	}
	if m == 1 {
		thin(p.ks, c, a, p.data, p.stride, bPacked, 1, n, k)
		return
	}
	mul(p.ks, c, a, nil, p.data, p.stride, true, m, n, k)
}
