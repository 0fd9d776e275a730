package gemm

import "fmt"

// MatMulT sets C[m×n] = A[m×k]·B[n×k]ᵀ: B holds one row per output column,
// as the weights of a linear layer y = x·Wᵀ do. It panics if a slice is
// shorter than its dimensions require.
func MatMulT(c, a, b []float32, m, n, k int) {
	checkDims("MatMulT", len(c), len(a), len(b), m, n, k)
	if trivial(c, m, n, k) {
		return
	}
	if m <= maxDotRows {
		thin(active, c, a, b, 0, bTrans, m, n, k)
		return
	}
	mul(active, c, a, b, nil, 0, true, m, n, k)
}

// MatMul sets C[m×n] = A[m×k]·B[k×n]. It panics if a slice is shorter than
// its dimensions require.
func MatMul(c, a, b []float32, m, n, k int) {
	checkDims("MatMul", len(c), len(a), len(b), m, n, k)
	if trivial(c, m, n, k) {
		return
	}
	if m == 1 {
		thin(active, c, a, b, 0, bRowMajor, 1, n, k)
		return
	}
	mul(active, c, a, b, nil, 0, false, m, n, k)
}

// trivial handles the products with nothing to sum, reporting whether C is
// done.
func trivial(c []float32, m, n, k int) bool {
	if m == 0 || n == 0 {
		return true
	}
	if k == 0 {
		clear(c[:m*n])
		return true
	}
	return false
}

// checkDims panics unless lc, la and lb, the lengths of C, A and B, cover
// m×n, m×k and n×k elements.
func checkDims(op string, lc, la, lb int, m, n, k int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: %s: negative dimension m=%d n=%d k=%d", op, m, n, k))
	}
	for _, s := range [...]struct {
		name string
		len  int
		need int
	}{{"c", lc, m * n}, {"a", la, m * k}, {"b", lb, n * k}} {
		if s.len < s.need {
			panic(fmt.Sprintf("gemm: %s: len(%s) = %d, need %d for m=%d n=%d k=%d", op, s.name, s.len, s.need, m, n, k))
		}
	}
}
