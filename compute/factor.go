package compute

// Factorizer is a backend that factorizes GPTQ's damped Hessian where one
// of its Grams keeps H, so that neither H nor its inverse factor leaves
// the device: the factor goes to the backend's Sweeper in SweepJob.Factor.
// gptq finds it by type assertion and factorizes on the host otherwise
// (Backend.CholeskyInverse).
type Factorizer interface {
	// HoldsGram reports whether g is one of this backend's Grams, which
	// the other methods take.
	HoldsGram(g Gram) bool
	// GramDiagonal returns the diagonal of H [n] and whether every entry
	// of its upper triangle is finite.
	GramDiagonal(g Gram) (diag []float64, finite bool, err error)
	// InverseFactor makes A = P·H·Pᵀ + add·I, H with rows and columns in
	// processing order (A[i][j] = H[perm[i]][perm[j]]) and a zero H_cc,
	// an input that was always zero, taken as 1, and returns U, the upper
	// Cholesky factor of A⁻¹ = UᵀU in float32. It reports false, with a
	// nil Factor, when A is not numerically positive definite or U does
	// not fit float32 with a positive normal diagonal.
	InverseFactor(g Gram, perm []int, add float64) (Factor, bool, error)
}

// Factor is U [n×n] of Factorizer.InverseFactor, held on the device.
type Factor interface {
	// N is the order of U.
	N() int
	// Release frees the device memory now instead of when the Factor is
	// garbage collected; the Factor must not be used after.
	Release()
}
