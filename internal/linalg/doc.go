// Package linalg holds the dense float64 factorizations qtk's CPU backend
// runs for GPTQ (a blocked Cholesky factorization and triangular inverse)
// and the chunked parallel loop they share with the quantizers.
package linalg
