// Package gemm multiplies single-precision matrices on the CPU.
//
// Matrices are row-major with contiguous rows: element (i, j) of an r×c
// matrix x is x[i*c+j]. Results overwrite C, which must not overlap A or B.
//
// The implementation follows BLIS/GotoBLAS: B is packed into panels of nr
// columns (k steps of nr floats each), A into panels of mr rows, and a
// register-blocked micro-kernel computes one mr×nr tile of C at a time while
// the panels sit in L1 and L2. On amd64 the kernels are assembly generated
// by ./asm (go generate): a 6×16 AVX2+FMA tile, or 12×32 where AVX-512 is
// available. Other CPUs, or the purego build tag, get portable Go kernels.
// Products with one or a few rows of A (decoding) skip the packing and
// stream B once.
//
// Int4 holds a weight as 4-bit codes with a scale and zero point per group
// of columns (GPTQ, AWQ): products of a few rows are computed from the
// codes, one weight row per vector lane; longer ones dequantize into a
// float32 packing and round exactly as PackT's products.
//
// Products above a small size are split over runtime.GOMAXPROCS(0)
// goroutines, run by long-lived workers the package starts on first use.
// Each element of C is summed in an order fixed by the kernels and the
// shape, so results do not depend on the number of threads; different
// kernels (and the few-rows paths) round differently.
//
// Passing a slice shorter than the given dimensions need, or a negative
// dimension, is a programmer error: the functions panic. They never read or
// write outside the first m*k, n*k and m*n elements.
package gemm
