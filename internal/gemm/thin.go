package gemm

import "sync"

// Products with few rows of A are bound by reading B, which a packed product
// would read (and pack) as often as one with many rows. They get loops of
// their own that stream B once, split by columns over the threads.
const (
	// maxDotRows is the most rows of A for which MatMulT takes dot products
	// of the rows of A and B instead of packing B.
	maxDotRows = 16

	// minParallelThin is the least number of multiply-adds worth a thread in
	// those loops.
	minParallelThin = 1 << 16
)

// Layouts of B for a thinJob.
const (
	bPacked   = iota // panels packed by PackT; m must be 1
	bTrans           // raw B[n×k]
	bRowMajor        // raw B[k×n]; m must be 1
)

var thinJobs = sync.Pool{New: func() any { return new(thinJob) }}

// thinJob computes C[m×n] = A[m×k]·B for small m, split by columns. Packed B
// panels are pstride floats apart.
type thinJob struct {
	ks      *kernels
	c, a, b []float32
	pstride int
	layout  int
	m, n, k int
	parts   int
	done    sync.WaitGroup
}

func thin(ks *kernels, c, a, b []float32, pstride, layout, m, n, k int) {
	g := thinJobs.Get().(*thinJob)
	g.ks, g.c, g.a, g.b, g.pstride, g.layout = ks, c, a, b, pstride, layout
	g.m, g.n, g.k = m, n, k
	g.parts = threads(int64(m)*int64(n)*int64(k), minParallelThin)
	parallel(g, &g.done, g.parts)
	g.c, g.a, g.b = nil, nil, nil // don't pin the caller's memory
	thinJobs.Put(g)
}

func (g *thinJob) run(part int) {
	ks, n, k := g.ks, g.n, g.k
	switch g.layout {
	case bPacked:
		nr := ks.nr
		lo, hi := span(n, nr, g.parts, part)
		full := (hi - lo) / nr
		ks.gemvPacked(g.c[lo:], g.a, g.b[lo/nr*g.pstride:], k, full, g.pstride)
		if done := lo + full*nr; done < hi {
			var tmp [nrMax]float32
			ks.gemvPacked(tmp[:], g.a, g.b[done/nr*g.pstride:], k, 1, g.pstride)
			copy(g.c[done:hi], tmp[:])
		}
	case bTrans:
		lo, hi := span(n, 4, g.parts, part)
		ks.dots(g.c[lo:], g.a, g.b[lo*k:], g.m, hi-lo, k, n)
	case bRowMajor:
		lo, hi := span(n, 64, g.parts, part)
		ks.gemvRows(g.c[lo:hi], g.a, g.b[lo:], k, n)
	}
}
