package gemm

import "sync"

// Cache blocking. A B micro-panel (kc steps of nr floats, 16 or 32 KiB) stays in L1
// while it meets every row panel of the packed A block (mc×kc, 144 KiB), which
// stays in L2. When B is not pre-packed, each thread packs nc columns of it at
// a time (kc×nc, 2 MiB) and shares them among all its row blocks.
const (
	kcMax = 256
	mcMax = 144 // a multiple of every mr
	ncMax = 2048
	mrMax = 12
	nrMax = 32

	aBufLen = mcMax * kcMax
	bBufLen = ncMax * kcMax

	// kcSmallM caps kc when A is short enough to pack whole: then B is read
	// once, panel by panel, instead of once per k block.
	kcSmallM = 4 * kcMax

	// minParallel is the least work, in multiply-adds, worth a thread.
	minParallel = 1 << 19
)

var (
	aBufs = sync.Pool{New: func() any { return new([aBufLen]float32) }}
	bBufs = sync.Pool{New: func() any { return new([bBufLen]float32) }}
	jobs  = sync.Pool{New: func() any { return new(mulJob) }}
)

// mulJob computes C[m×n] = A[m×k]·B. B is either pre-packed (packed, panels
// pstride floats apart) or raw: n×k when trans, else k×n. Part p of the tm×tn
// grid computes one rectangle of C.
type mulJob struct {
	ks      *kernels
	c, a, b []float32
	packed  []float32
	pstride int
	trans   bool
	m, n, k int
	kc      int
	tm, tn  int
	done    sync.WaitGroup
}

// mul runs a mulJob over as many threads as its size deserves.
func mul(ks *kernels, c, a, b, packed []float32, pstride int, trans bool, m, n, k int) {
	j := jobs.Get().(*mulJob)
	j.ks, j.c, j.a, j.b, j.packed, j.pstride, j.trans = ks, c, a, b, packed, pstride, trans
	j.m, j.n, j.k = m, n, k
	j.kc = blockK(k, m, ks.mr)
	parts := threads(int64(m)*int64(n)*int64(k), minParallel)
	j.tm, j.tn = grid(parts, m, n, ks)
	parallel(j, &j.done, j.tm*j.tn)
	j.c, j.a, j.b, j.packed = nil, nil, nil, nil // don't pin the caller's memory
	jobs.Put(j)
}

// blockK returns the k block size: k split evenly into blocks of at most
// kcMax, or of up to kcSmallM when few rows of A make the packed A block
// small anyway.
func blockK(k, m, mr int) int {
	limit := kcMax
	if m < mcMax {
		rows := (m + mr - 1) / mr * mr
		limit = max(kcMax, min(kcSmallM, aBufLen/rows))
	}
	blocks := (k + limit - 1) / limit
	return (k + blocks - 1) / blocks
}

// grid splits parts threads into tm row ranges times tn column ranges,
// preferring columns: threads then share only A, which is small to pack.
func grid(parts, m, n int, ks *kernels) (tm, tn int) {
	panels := (n + ks.nr - 1) / ks.nr
	rowPanels := (m + ks.mr - 1) / ks.mr
	tn = min(parts, max(1, panels/4))
	tm = max(1, min(parts/tn, rowPanels))
	return tm, tn
}

func (j *mulJob) run(part int) {
	mr, nr := j.ks.mr, j.ks.nr
	i0, i1 := span(j.m, mr, j.tm, part/j.tn)
	c0, c1 := span(j.n, nr, j.tn, part%j.tn)
	if i0 >= i1 || c0 >= c1 {
		return
	}
	abuf := aBufs.Get().(*[aBufLen]float32)
	defer aBufs.Put(abuf)
	// Columns per B block. Pre-packed B is walked in blocks of the same size
	// so that each block is read from memory once and then served from cache
	// to every row block.
	ncols := bBufLen / j.kc / nr * nr
	var bbuf *[bBufLen]float32
	if j.packed == nil {
		bbuf = bBufs.Get().(*[bBufLen]float32)
		defer bBufs.Put(bbuf)
	}
	for jc := c0; jc < c1; jc += ncols {
		cols := min(ncols, c1-jc)
		for pc := 0; pc < j.k; pc += j.kc {
			kc := min(j.kc, j.k-pc)
			var bp []float32
			var stride int // floats from one B panel to the next
			switch {
			case j.packed != nil:
				bp, stride = j.packed[jc/nr*j.pstride+pc*nr:], j.pstride
			case j.trans:
				packBT(bbuf[:], j.b[jc*j.k+pc:], j.k, cols, kc, nr)
				bp, stride = bbuf[:], kc*nr
			default:
				packBN(bbuf[:], j.b[pc*j.n+jc:], j.n, cols, kc, nr)
				bp, stride = bbuf[:], kc*nr
			}
			for ic := i0; ic < i1; ic += mcMax {
				rows := min(mcMax, i1-ic)
				packA(abuf[:], j.a[ic*j.k+pc:], j.k, rows, kc, mr)
				j.block(abuf[:], bp, stride, ic, rows, jc, cols, kc, pc > 0)
			}
		}
	}
}

// block multiplies a packed A block (rows×kc) by packed B panels covering
// columns [jc, jc+cols) into C, adding to C unless this is the first k block.
func (j *mulJob) block(a, b []float32, stride, ic, rows, jc, cols, kc int, accumulate bool) {
	ks, n := j.ks, j.n
	mr, nr := ks.mr, ks.nr
	for q := 0; q*nr < cols; q++ {
		bq := b[q*stride:]
		col := jc + q*nr
		w := min(nr, n-col)
		for ir := 0; ir < rows; ir += mr {
			r := min(mr, rows-ir)
			aq := a[ir*kc:]
			ci := (ic+ir)*n + col
			if w == nr {
				ks.tile(r, kc, aq, bq, j.c[ci:], n, accumulate)
				continue
			}
			// The last panel is zero-padded past n: compute the full
			// tile aside and keep its first w columns.
			var tmp [mrMax * nrMax]float32
			ks.tile(r, kc, aq, bq, tmp[:], nr, false)
			for i := 0; i < r; i++ {
				dst := j.c[ci+i*n : ci+i*n+w]
				src := tmp[i*nr : i*nr+w]
				if accumulate {
					for x, v := range src {
						dst[x] += v
					}
				} else {
					copy(dst, src)
				}
			}
		}
	}
}
