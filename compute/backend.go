// Package compute is the seam between qtk's algorithms and the hardware
// that runs their heavy linear algebra: matrix products with weights,
// Hessian accumulation and the Cholesky inverse of GPTQ. The quantizers
// and the runtime are written once against [Backend]; the CPU backend
// runs internal/gemm and internal/linalg, the CUDA backend cuBLAS,
// cuSOLVER and qtk's own kernels through internal/cuda.
package compute

// Backend runs the heavy linear algebra. Matrices are row-major float32
// unless said otherwise. Methods may be called from several goroutines.
type Backend interface {
	// Name says which device this is, for logs: "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)".
	Name() string
	// NewLinear holds the weight w [out×in] of a linear layer for
	// repeated products; w may be changed by the caller afterwards.
	NewLinear(w []float32, out, in int) (Linear, error)
	// NewQuantLinear holds a quantized weight for repeated products. The
	// products equal those of NewLinear with q.Dequantize(), up to the
	// rounding of the device's arithmetic; q may be changed by the caller
	// afterwards.
	NewQuantLinear(q QuantWeight) (Linear, error)
	// MatMulT sets c[m×n] = a[m×k]·b[n×k]ᵀ.
	MatMulT(c, a, b []float32, m, n, k int) error
	// MatMul sets c[m×n] = a[m×k]·b[k×n].
	MatMul(c, a, b []float32, m, n, k int) error
	// NewGram starts an empty running xᵀx of n×n for inputs of n channels.
	NewGram(n int) (Gram, error)
	// CholeskyInverse factors the symmetric float64 matrix a [n×n], of
	// which it reads the lower triangle, as L·Lᵀ and overwrites a with
	// L⁻¹ (zero above the diagonal). It reports false, leaving a
	// undefined, when a is not numerically positive definite.
	CholeskyInverse(a []float64, n int) (bool, error)
	// PeakMemory is the most device memory seen in use, in bytes (0 for
	// the CPU, whose peak the process reports itself).
	PeakMemory() uint64
	// Close releases the device.
	Close()
}

// Linear is a weight [out×in] held by a backend.
type Linear interface {
	// MatMul sets dst[rows×out] = x[rows×in]·Wᵀ. A failure of the device
	// leaves dst undefined and is reported by Err.
	MatMul(dst, x []float32, rows int)
	// Err is the first failure of MatMul, or nil.
	Err() error
	// Release frees the device memory now instead of when the Linear is
	// garbage collected. The Linear must not be used after.
	Release()
}

// Gram is a running symmetric matrix H [n×n] in float64, of which only
// the upper triangle (column ≥ row) is kept current.
type Gram interface {
	// Add sets H = H·keep + scale·xᵀx for x [rows×n], xᵀx being computed
	// in float32.
	Add(x []float32, rows int, keep, scale float64) error
	// Matrix returns H [n×n], upper triangle current. The slice may be
	// the Gram's own: Add must not be called while it is in use.
	Matrix() ([]float64, error)
	// Release frees the device memory.
	Release()
}
