package cuda

import (
	"fmt"
	"sync"
)

// cuBLAS and cuSOLVER, as far as qtk uses them. Both libraries are
// column-major; the methods below take row-major matrices and swap
// operands accordingly.
var (
	cublasCreate    func(handle *uintptr) int32
	cublasDestroy   func(handle uintptr) int32
	cublasSetStream func(handle uintptr, stream uintptr) int32
	cublasSgemm     func(handle uintptr, transa, transb int32, m, n, k int32, alpha *float32, a uintptr, lda int32, b uintptr, ldb int32, beta *float32, c uintptr, ldc int32) int32
	cublasSsyrk     func(handle uintptr, uplo, trans int32, n, k int32, alpha *float32, a uintptr, lda int32, beta *float32, c uintptr, ldc int32) int32
	cublasDtrsm     func(handle uintptr, side, uplo, trans, diag int32, m, n int32, alpha *float64, a uintptr, lda int32, b uintptr, ldb int32) int32
	// AWQ's searches (awq.go).
	cublasGemmEx              func(handle uintptr, transa, transb int32, m, n, k int32, alpha *float32, a uintptr, atype int32, lda int32, b uintptr, btype int32, ldb int32, beta *float32, c uintptr, ctype int32, ldc int32, computeType int32, algo int32) int32
	cublasSgemmStridedBatched func(handle uintptr, transa, transb int32, m, n, k int32, alpha *float32, a uintptr, lda int32, strideA int64, b uintptr, ldb int32, strideB int64, beta *float32, c uintptr, ldc int32, strideC int64, batch int32) int32
	// Batched products in TF32 (awq_attention.go).
	cublasGemmStridedBatchedEx func(handle uintptr, transa, transb int32, m, n, k int32, alpha *float32, a uintptr, atype int32, lda int32, strideA int64, b uintptr, btype int32, ldb int32, strideB int64, beta *float32, c uintptr, ctype int32, ldc int32, strideC int64, batch int32, computeType int32, algo int32) int32

	cusolverDnCreate           func(handle *uintptr) int32
	cusolverDnDestroy          func(handle uintptr) int32
	cusolverDnDpotrfBufferSize func(handle uintptr, uplo int32, n int32, a uintptr, lda int32, lwork *int32) int32
	cusolverDnDpotrf           func(handle uintptr, uplo int32, n int32, a uintptr, lda int32, work uintptr, lwork int32, info uintptr) int32
)

// cuBLAS enumerations.
const (
	opN         = 0
	opT         = 1
	fillLower   = 0
	fillUpper   = 1
	sideLeft    = 0
	diagNonUnit = 0
)

var blasLib, solverLib struct {
	once sync.Once
	err  error
}

func loadBLAS() error {
	blasLib.once.Do(func() {
		lib, err := open("libcublas.so", "libcublas.so.13", "libcublas.so.12")
		if err != nil {
			blasLib.err = err
			return
		}
		blasLib.err = bind(lib, "libcublas", []symbol{
			{&cublasCreate, "cublasCreate_v2"},
			{&cublasDestroy, "cublasDestroy_v2"},
			{&cublasSetStream, "cublasSetStream_v2"},
			{&cublasSgemm, "cublasSgemm_v2"},
			{&cublasSsyrk, "cublasSsyrk_v2"},
			{&cublasDtrsm, "cublasDtrsm_v2"},
			{&cublasGemmEx, "cublasGemmEx"},
			{&cublasSgemmStridedBatched, "cublasSgemmStridedBatched"},
			{&cublasGemmStridedBatchedEx, "cublasGemmStridedBatchedEx"},
		})
	})
	return blasLib.err
}

func loadSolver() error {
	solverLib.once.Do(func() {
		lib, err := open("libcusolver.so", "libcusolver.so.12", "libcusolver.so.11")
		if err != nil {
			solverLib.err = err
			return
		}
		solverLib.err = bind(lib, "libcusolver", []symbol{
			{&cusolverDnCreate, "cusolverDnCreate"},
			{&cusolverDnDestroy, "cusolverDnDestroy"},
			{&cusolverDnDpotrfBufferSize, "cusolverDnDpotrf_bufferSize"},
			{&cusolverDnDpotrf, "cusolverDnDpotrf"},
		})
	})
	return solverLib.err
}

func checkBLAS(call string, status int32) error {
	if status == 0 {
		return nil
	}
	return fmt.Errorf("%s: cuBLAS status %d", call, status)
}

func checkSolver(call string, status int32) error {
	if status == 0 {
		return nil
	}
	return fmt.Errorf("%s: cuSOLVER status %d", call, status)
}

// blasHandle returns the context's cuBLAS handle, creating it once.
func (c *Ctx) blasHandle() (uintptr, error) {
	if c.blas != 0 {
		return c.blas, nil
	}
	if err := loadBLAS(); err != nil {
		return 0, err
	}
	if err := checkBLAS("cublasCreate", cublasCreate(&c.blas)); err != nil {
		return 0, err
	}
	return c.blas, nil
}

func (c *Ctx) solverHandle() (uintptr, error) {
	if c.solver != 0 {
		return c.solver, nil
	}
	if err := loadSolver(); err != nil {
		return 0, err
	}
	if err := checkSolver("cusolverDnCreate", cusolverDnCreate(&c.solver)); err != nil {
		return 0, err
	}
	return c.solver, nil
}

// MatMulT sets C[m×n] = A[m×k]·B[n×k]ᵀ, all float32 row-major.
func (c *Ctx) MatMulT(dst, a, b Buffer, m, n, k int) error {
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	one, zero := float32(1), float32(0)
	// Column-major, Cᵀ[n×m] = B·Aᵀ: B is Bᵀ[k×n] there, A is Aᵀ[k×m].
	return checkBLAS(fmt.Sprintf("cublasSgemm([%d×%d]·[%d×%d]ᵀ)", m, k, n, k), cublasSgemm(h, opT, opN, int32(n), int32(m), int32(k), &one, b.ptr, int32(k), a.ptr, int32(k), &zero, dst.ptr, int32(n)))
}

// cuBLAS's cudaDataType, cublasComputeType and cublasGemmAlgo values.
const (
	dataFloat32     = 0  // CUDA_R_32F
	dataFloat16     = 2  // CUDA_R_16F
	compute32F      = 68 // CUBLAS_COMPUTE_32F
	computeFastTF32 = 77 // CUBLAS_COMPUTE_32F_FAST_TF32
	gemmDefaultAlgo = -1 // CUBLAS_GEMM_DEFAULT
)

// MatMulTTF32 is MatMulT on the tensor cores: the products of float32
// operands rounded to TF32 (10 bits of mantissa), summed in float32.
func (c *Ctx) MatMulTTF32(dst, a, b Buffer, m, n, k int) error {
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	one, zero := float32(1), float32(0)
	return checkBLAS(fmt.Sprintf("cublasGemmEx(TF32 [%d×%d]·[%d×%d]ᵀ)", m, k, n, k), cublasGemmEx(h, opT, opN, int32(n), int32(m), int32(k), &one,
		b.ptr, dataFloat32, int32(k), a.ptr, dataFloat32, int32(k), &zero, dst.ptr, dataFloat32, int32(n),
		computeFastTF32, gemmDefaultAlgo))
}

// MatMulTHalf sets C[m×n] = alpha·A[m×k]·B[n×k]ᵀ for float16 operands
// (IEEE bits) on the tensor cores, their products summed in float32 into
// the float32 C.
func (c *Ctx) MatMulTHalf(dst, a, b Buffer, m, n, k int, alpha float32) error {
	if a.bytes < uintptr(2*m*k) || b.bytes < uintptr(2*n*k) || dst.bytes < uintptr(4*m*n) {
		return fmt.Errorf("half matmul: buffers of %d, %d, %d bytes for [%d×%d]·[%d×%d]ᵀ", a.bytes, b.bytes, dst.bytes, m, k, n, k)
	}
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	zero := float32(0)
	return checkBLAS(fmt.Sprintf("cublasGemmEx(float16 [%d×%d]·[%d×%d]ᵀ)", m, k, n, k), cublasGemmEx(h, opT, opN, int32(n), int32(m), int32(k), &alpha,
		b.ptr, dataFloat16, int32(k), a.ptr, dataFloat16, int32(k), &zero, dst.ptr, dataFloat32, int32(n),
		compute32F, gemmDefaultAlgo))
}

// ToHalf writes the n float32 values of x (n even) times scale as float16
// bits to h.
func (c *Ctx) ToHalf(h, x Buffer, n int, scale float32) error {
	if n%2 != 0 || x.bytes < uintptr(4*n) || h.bytes < uintptr(2*n) || (x.ptr|h.ptr)%8 != 0 {
		return fmt.Errorf("to half: %d values from %d bytes into %d", n, x.bytes, h.bytes)
	}
	return c.elementwise("floats_to_half", int64(n/2), h, x, int64(n/2), scale)
}

// MatMul sets C[m×n] = A[m×k]·B[k×n], all float32 row-major.
func (c *Ctx) MatMul(dst, a, b Buffer, m, n, k int) error {
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	one, zero := float32(1), float32(0)
	return checkBLAS(fmt.Sprintf("cublasSgemm([%d×%d]·[%d×%d])", m, k, k, n), cublasSgemm(h, opN, opN, int32(n), int32(m), int32(k), &one, b.ptr, int32(n), a.ptr, int32(k), &zero, dst.ptr, int32(n)))
}

// Gram sets the upper triangle (column ≥ row) of the row-major g[in×in]
// to xᵀx, x being float32 row-major [rows×in].
func (c *Ctx) Gram(g, x Buffer, rows, in int) error {
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	one, zero := float32(1), float32(0)
	// x is xᵀ[in×rows] in column-major; xᵀ·x there is G, whose lower
	// triangle is the row-major upper one.
	return checkBLAS("cublasSsyrk", cublasSsyrk(h, fillLower, opN, int32(in), int32(rows), &one, x.ptr, int32(in), &zero, g.ptr, int32(in)))
}

// FoldUpper sets h = h·keep + scale·g on the upper triangle of the
// row-major n×n float64 h and float32 g.
func (c *Ctx) FoldUpper(h, g Buffer, n int, keep, scale float64) error {
	return c.launch("fold_upper", n*n, h, g, int32(n), keep, scale)
}

// CholeskyInverse factors the symmetric positive definite float64 n×n
// row-major matrix a, of which it reads the lower triangle, as a = L·Lᵀ
// and writes L⁻¹ (zero above the diagonal) to inv. It reports false when
// a is not numerically positive definite. a is overwritten.
func (c *Ctx) CholeskyInverse(inv, a Buffer, n int) (bool, error) {
	s, err := c.solverHandle()
	if err != nil {
		return false, err
	}
	h, err := c.blasHandle()
	if err != nil {
		return false, err
	}
	// Row-major lower is column-major upper: a = UᵀU there with U = Lᵀ.
	var lwork int32
	if err := checkSolver("cusolverDnDpotrf_bufferSize", cusolverDnDpotrfBufferSize(s, fillUpper, int32(n), a.ptr, int32(n), &lwork)); err != nil {
		return false, err
	}
	work, err := c.Alloc(int(lwork)*8 + 8)
	if err != nil {
		return false, err
	}
	defer c.Free(work)
	info := work.Offset(int(lwork) * 8)
	if err := checkSolver("cusolverDnDpotrf", cusolverDnDpotrf(s, fillUpper, int32(n), a.ptr, int32(n), work.ptr, lwork, info.ptr)); err != nil {
		return false, err
	}
	status := []int32{0}
	if err := Download(c, status, info); err != nil {
		return false, err
	}
	switch {
	case status[0] < 0:
		return false, fmt.Errorf("cusolverDnDpotrf: parameter %d is wrong", -status[0])
	case status[0] > 0:
		return false, nil // the leading minor of that order is not positive definite
	}
	// U⁻¹ (column-major upper) is L⁻¹ (row-major lower): solve U·X = I.
	if err := c.launch("set_identity", n*n, inv, int32(n)); err != nil {
		return false, err
	}
	one := 1.0
	if err := checkBLAS("cublasDtrsm", cublasDtrsm(h, sideLeft, fillUpper, opN, diagNonUnit, int32(n), int32(n), &one, a.ptr, int32(n), inv.ptr, int32(n))); err != nil {
		return false, err
	}
	return true, c.launch("zero_upper", n*n, inv, int32(n))
}
