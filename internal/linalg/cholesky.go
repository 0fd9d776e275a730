package linalg

import "math"

// Dense float64 factorizations of the damped Hessian. Matrices are n×n,
// row-major, in one slice; only lower triangles are read.
//
// GPTQ needs U, the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU). The
// reference computes it as cholesky(cholesky_inverse(cholesky(H)), upper),
// which forms H⁻¹ and factorizes a second time. qtk uses an equivalent
// route with one factorization and one triangular inverse, in place: with
// J the exchange matrix (reversed order), factor JHJ = L·Lᵀ; then
// H = (JLJ)(JLJ)ᵀ where JLJ is upper triangular, so
// H⁻¹ = (JL⁻¹J)ᵀ(JL⁻¹J), and since JL⁻¹J is upper triangular with a
// positive diagonal it is U, by uniqueness of the Cholesky factor. So
// U[p][q] = L⁻¹[n-1-p][n-1-q].

// factorBlock is the block size of the blocked factorizations: panels
// of factorBlock columns are factored with plain loops, and the O(n³)
// updates of the rest go through subNT.
const factorBlock = 64

// parallelRows is the number of rows per parallel chunk of the updates.
const parallelRows = 32

// Cholesky overwrites the lower triangle of the symmetric matrix a with
// L, a = L·Lᵀ, and zeroes the strict upper triangle. It reports false,
// leaving a undefined, when a is not numerically positive definite (a
// pivot that is not positive, or NaN). It is the right-looking blocked
// algorithm (LAPACK dpotrf), in float64.
func Cholesky(a []float64, n int) bool {
	negInv := make([]float64, factorBlock*factorBlock)
	packed := make([]float64, factorBlock*n)
	for k0 := 0; k0 < n; k0 += factorBlock {
		k1 := min(k0+factorBlock, n)
		width := k1 - k0
		if !choleskyDiag(a, n, k0, k1) {
			return false
		}
		if k1 == n {
			break
		}
		// Panel: L[k1:, k0:k1] = A[k1:, k0:k1]·L11⁻ᵀ, L11 the diagonal
		// block just factored, through its inverse so that subNT does the
		// work.
		t := negInv[:width*width]
		clear(t)
		for i := range width {
			copy(t[i*width:i*width+i+1], a[(k0+i)*n+k0:(k0+i)*n+k0+i+1])
		}
		invertDiag(t, width, width)
		for i := range t {
			t[i] = -t[i]
		}
		ParallelFor(n-k1, parallelRows, func(lo, hi int) {
			mulRight(a[(k1+lo)*n+k0:], n, hi-lo, t, width)
		})
		// Trailing matrix: A[k1:, k1:] -= L21·L21ᵀ, L21 = L[k1:, k0:k1]
		// (lower triangle; each chunk of rows also updates the few entries
		// above the diagonal of its own square, which are never read).
		// L21 is first packed contiguously: its rows in a lie n apart,
		// often a power of two, and would evict each other from cache.
		l21 := packed[:(n-k1)*width]
		for i := k1; i < n; i++ {
			copy(l21[(i-k1)*width:(i-k1+1)*width], a[i*n+k0:i*n+k1])
		}
		ParallelFor(n-k1, parallelRows, func(lo, hi int) {
			subNT(a[(k1+lo)*n+k1:], n, l21[lo*width:], width, l21, width, hi-lo, hi, width)
		})
	}
	for i := range n {
		clear(a[i*n+i+1 : (i+1)*n])
	}
	return true
}

// choleskyDiag factors the diagonal block [k0, k1) of a in place, its
// trailing updates already applied.
func choleskyDiag(a []float64, n, k0, k1 int) bool {
	for j := k0; j < k1; j++ {
		rj := a[j*n+k0 : j*n+j]
		d := a[j*n+j] - dot(rj, rj)
		if !(d > 0) { // also false for NaN
			return false
		}
		d = math.Sqrt(d)
		a[j*n+j] = d
		for i := j + 1; i < k1; i++ {
			a[i*n+j] = (a[i*n+j] - dot(a[i*n+k0:i*n+j], rj)) / d
		}
	}
	return true
}

// InvertLower overwrites the lower triangular matrix a (with zero strict
// upper triangle and positive diagonal, as cholesky leaves it) with its
// inverse. It is the blocked algorithm of LAPACK dtrtri, from the last
// block column back: with the trailing square already inverted to M22,
//
//	[L11  0 ]⁻¹   [ L11⁻¹          0  ]
//	[L21 L22]   = [-M22·L21·L11⁻¹  M22].
func InvertLower(a []float64, n int) {
	panel := make([]float64, factorBlock*n)
	negDt := make([]float64, factorBlock*factorBlock)
	last := (n - 1) / factorBlock * factorBlock
	for j0 := last; j0 >= 0; j0 -= factorBlock {
		j1 := min(j0+factorBlock, n)
		width := j1 - j0
		invertDiag(a[j0*n+j0:], n, width)
		if j1 == n {
			continue
		}
		// -L11⁻ᵀ, for mulRight.
		dt := negDt[:width*width]
		for i := range width {
			for c, v := range a[(j0+i)*n+j0 : (j0+i)*n+j1] {
				dt[c*width+i] = -v
			}
		}
		// The panel L21 = A[j1:, j0:j1], transposed so that subNT reads
		// it along rows: pt[c][k-j1] = A[k][j0+c].
		m := n - j1
		pt := panel[:width*m]
		for k := j1; k < n; k++ {
			for c, v := range a[k*n+j0 : k*n+j1] {
				pt[c*m+k-j1] = v
			}
		}
		ParallelFor(m, parallelRows, func(lo, hi int) {
			r0, r1 := j1+lo, j1+hi
			for i := r0; i < r1; i++ {
				clear(a[i*n+j0 : i*n+j1])
			}
			// A[r, J] = -Σ_k M22[r][k]·L21[k]; M22 is lower triangular
			// with zeros above, so k stops at the chunk's last row.
			subNT(a[r0*n+j0:], n, a[r0*n+j1:], n, pt, m, r1-r0, width, r1-j1)
			mulRight(a[r0*n+j0:], n, r1-r0, dt, width)
		})
	}
}

// invertDiag inverts in place the lower triangular w×w block d (row
// stride ld), by columns from the last one: column j of the inverse below
// the diagonal is -M·L[j+1:, j]/L[j][j], M the inverse of the block below
// j. It writes nothing above the diagonal.
func invertDiag(d []float64, ld, w int) {
	var col [factorBlock]float64
	for j := w - 1; j >= 0; j-- {
		inv := 1 / d[j*ld+j]
		d[j*ld+j] = inv
		for i := j + 1; i < w; i++ {
			col[i] = d[i*ld+j]
		}
		for i := j + 1; i < w; i++ {
			d[i*ld+j] = -dot(d[i*ld+j+1:i*ld+i+1], col[j+1:i+1]) * inv
		}
	}
}

// mulRight overwrites the rows×w block x (row stride ld) with -x·tᵀ, t
// being w×w; callers pass a negated t for a plain product. x is copied to
// the stack so that subNT can do the work in place.
func mulRight(x []float64, ld, rows int, t []float64, w int) {
	var buf [parallelRows * factorBlock]float64
	tmp := buf[:rows*w]
	for i := range rows {
		row := x[i*ld : i*ld+w]
		copy(tmp[i*w:(i+1)*w], row)
		clear(row)
	}
	subNT(x, ld, tmp, w, t, w, rows, w, w)
}
