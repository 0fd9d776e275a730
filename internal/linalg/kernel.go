package linalg

// Cache blocking of subNT: a block of B (nBlock rows of kBlock values,
// 64 KiB) stays in L2 while 4-row strips of A (8 KiB) pass through L1.
const (
	kBlock = 256
	nBlock = 32
)

// subNT sets C[i][j] -= Σ_t A[i][t]·B[j][t] for i < m, j < n, t < k: the
// product of A[m×k] with the transpose of B[n×k], subtracted. The matrices
// are row-major with row strides ldc, lda and ldb, so both operands are
// read along contiguous rows. It is the only O(n³) kernel of the
// factorizations.
func subNT(c []float64, ldc int, a []float64, lda int, b []float64, ldb int, m, n, k int) {
	if m <= 0 || n <= 0 {
		return
	}
	for t0 := 0; t0 < k; t0 += kBlock {
		kt := min(kBlock, k-t0)
		for j0 := 0; j0 < n; j0 += nBlock {
			subNTBlock(c[j0:], ldc, a[t0:], lda, b[j0*ldb+t0:], ldb, m, min(nBlock, n-j0), kt)
		}
	}
}

// subNTBlock is subNT on one cache block, four rows of A by two of B at a
// time (eight accumulators and six loads fit the sixteen SSE registers).
func subNTBlock(c []float64, ldc int, a []float64, lda int, b []float64, ldb int, m, n, k int) {
	i := 0
	for ; i+4 <= m; i += 4 {
		a0 := a[i*lda : i*lda+k]
		a1 := a[(i+1)*lda : (i+1)*lda+k]
		a2 := a[(i+2)*lda : (i+2)*lda+k]
		a3 := a[(i+3)*lda : (i+3)*lda+k]
		j := 0
		for ; j+2 <= n; j += 2 {
			b0 := b[j*ldb : j*ldb+k]
			b1 := b[(j+1)*ldb : (j+1)*ldb+k]
			// Equal lengths let the compiler drop the bounds checks below.
			b1, a0, a1, a2, a3 := b1[:len(b0)], a0[:len(b0)], a1[:len(b0)], a2[:len(b0)], a3[:len(b0)]
			var s00, s01, s10, s11, s20, s21, s30, s31 float64
			for t, x0 := range b0 {
				x1 := b1[t]
				y0, y1, y2, y3 := a0[t], a1[t], a2[t], a3[t]
				s00 += y0 * x0
				s01 += y0 * x1
				s10 += y1 * x0
				s11 += y1 * x1
				s20 += y2 * x0
				s21 += y2 * x1
				s30 += y3 * x0
				s31 += y3 * x1
			}
			c0 := c[i*ldc+j : i*ldc+j+2]
			c0[0] -= s00
			c0[1] -= s01
			c1 := c[(i+1)*ldc+j : (i+1)*ldc+j+2]
			c1[0] -= s10
			c1[1] -= s11
			c2 := c[(i+2)*ldc+j : (i+2)*ldc+j+2]
			c2[0] -= s20
			c2[1] -= s21
			c3 := c[(i+3)*ldc+j : (i+3)*ldc+j+2]
			c3[0] -= s30
			c3[1] -= s31
		}
		if j < n {
			bj := b[j*ldb : j*ldb+k]
			c[i*ldc+j] -= dot(a0, bj)
			c[(i+1)*ldc+j] -= dot(a1, bj)
			c[(i+2)*ldc+j] -= dot(a2, bj)
			c[(i+3)*ldc+j] -= dot(a3, bj)
		}
	}
	for ; i < m; i++ {
		ai := a[i*lda : i*lda+k]
		for j := range n {
			c[i*ldc+j] -= dot(ai, b[j*ldb:j*ldb+k])
		}
	}
}

// dot returns Σ a[t]·b[t] over the length of a; b must be at least as long.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1 float64
	for len(a) >= 2 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		a, b = a[2:], b[2:]
	}
	if len(a) == 1 {
		s0 += a[0] * b[0]
	}
	return s0 + s1
}
