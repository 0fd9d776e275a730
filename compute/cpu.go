package compute

import (
	"github.com/qtk-dev/qtk/internal/gemm"
	"github.com/qtk-dev/qtk/internal/linalg"
)

// CPU is the backend of internal/gemm and internal/linalg.
var CPU Backend = cpu{}

type cpu struct{}

func (cpu) Name() string { return "cpu" }

func (cpu) NewLinear(w []float32, out, in int) (Linear, error) {
	return cpuLinear{gemm.PackT(w, out, in)}, nil
}

// NewQuantLinear keeps 4-bit weights packed (gemm.Int4): products of a
// few rows are computed from the codes, longer ones with the weight
// dequantized on the fly, rounded as the float32 linear of q.Dequantize()
// rounds. Other weights are dequantized into a float32 linear.
func (c cpu) NewQuantLinear(q QuantWeight) (Linear, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if perm, groupLen, ok := q.groupOrder(); ok && q.Bits == 4 && groupLen%8 == 0 {
		zero := make([]float32, len(q.Zero))
		for i, z := range q.Zero {
			zero[i] = float32(z)
		}
		return cpuInt4Linear{gemm.PackInt4(q.Q, q.Scale, zero, perm, q.Out, q.In, groupLen)}, nil
	}
	return c.NewLinear(q.Dequantize(), q.Out, q.In)
}

func (cpu) MatMulT(c, a, b []float32, m, n, k int) error {
	gemm.MatMulT(c, a, b, m, n, k)
	return nil
}

func (cpu) MatMul(c, a, b []float32, m, n, k int) error {
	gemm.MatMul(c, a, b, m, n, k)
	return nil
}

func (cpu) NewGram(n int) (Gram, error) { return &cpuGram{n: n, h: make([]float64, n*n)}, nil }

func (cpu) CholeskyInverse(a []float64, n int) (bool, error) {
	if !linalg.Cholesky(a, n) {
		return false, nil
	}
	linalg.InvertLower(a, n)
	return true, nil
}

func (cpu) PeakMemory() uint64 { return 0 }

func (cpu) Close() {}

// cpuLinear is a weight packed for internal/gemm.
type cpuLinear struct{ p *gemm.Packed }

func (l cpuLinear) MatMul(dst, x []float32, rows int) { l.p.MatMul(dst, x, rows) }
func (cpuLinear) Err() error                          { return nil }
func (cpuLinear) Release()                            {}

// cpuInt4Linear is a 4-bit weight packed for internal/gemm.
type cpuInt4Linear struct{ w *gemm.Int4 }

func (l cpuInt4Linear) MatMul(dst, x []float32, rows int) { l.w.MatMul(dst, x, rows) }
func (cpuInt4Linear) Err() error                          { return nil }
func (cpuInt4Linear) Release()                            {}

// gramChunk is the number of rows of H computed per product in Add,
// bounding its float32 scratch to gramChunk×n values.
const gramChunk = 256

type cpuGram struct {
	n int
	h []float64
}

func (g *cpuGram) Add(x []float32, rows int, keep, scale float64) error {
	n := g.n
	// xt = xᵀ [n×rows]: gemm.MatMulT wants both operands along rows.
	xt := make([]float32, n*rows)
	for r := range rows {
		for c, v := range x[r*n : (r+1)*n] {
			xt[c*rows+r] = v
		}
	}
	p := make([]float32, min(gramChunk, n)*n)
	for i0 := 0; i0 < n; i0 += gramChunk {
		i1 := min(i0+gramChunk, n)
		cols := n - i0
		// p = xt[i0:i1]·xt[i0:]ᵀ = (xᵀx)[i0:i1, i0:]: the upper triangle
		// of these rows and a little of the lower.
		gemm.MatMulT(p, xt[i0*rows:], xt[i0*rows:], i1-i0, cols, rows)
		for i := i0; i < i1; i++ {
			hr := g.h[i*n+i : (i+1)*n]
			pr := p[(i-i0)*cols+(i-i0) : (i-i0+1)*cols]
			for j, v := range pr {
				hr[j] = hr[j]*keep + scale*float64(v)
			}
		}
	}
	return nil
}

func (g *cpuGram) Matrix() ([]float64, error) { return g.h, nil }

func (g *cpuGram) Release() {}
