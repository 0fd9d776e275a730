package cuda

import (
	"fmt"
	"math"
)

// WindowAttention writes to out [seqs·n × heads·headDim] the causal
// attention of seqs windows of n tokens, each at positions 0 … n-1 and
// attending to its own rows of qkv [seqs·n × (heads+2·kvHeads)·headDim]
// (queries after RoPE, then keys, then values; query head h reads KV head
// h/(heads/kvHeads)): Attention's result, computed as products. For each
// head, one batched product gives every window's scores, a kernel their
// causal softmax, and a second product the weighted values; with tf32 the
// products run on the tensor cores in TF32. scores holds seqs·n·n floats.
func (c *Ctx) WindowAttention(out, qkv, scores Buffer, seqs, n, heads, kvHeads, headDim int, tf32 bool) error {
	switch {
	case heads <= 0 || kvHeads <= 0 || heads%kvHeads != 0 || headDim <= 0:
		return fmt.Errorf("window attention: %d heads sharing %d KV heads of %d", heads, kvHeads, headDim)
	case seqs <= 0 || n <= 0:
		return nil
	case scores.bytes < 4*uintptr(seqs)*uintptr(n)*uintptr(n):
		return fmt.Errorf("window attention: scores of %d bytes for %d windows of %d", scores.bytes, seqs, n)
	}
	qDim, kvDim := heads*headDim, kvHeads*headDim
	stride := qDim + 2*kvDim
	window := int64(n) * int64(stride) // from one window's rows of qkv to the next's
	scale := float32(1 / math.Sqrt(float64(headDim)))
	for h := range heads {
		g := h / (heads / kvHeads)
		q := qkv.Offset(4 * h * headDim)
		k := qkv.Offset(4 * (qDim + g*headDim))
		v := qkv.Offset(4 * (qDim + kvDim + g*headDim))
		// Column-major, Sᵀ [n × n] = K·Qᵀ: K is stored as Kᵀ [headDim ×
		// n], Q as Qᵀ; Sᵀ read row-major is S, a query's scores a row.
		if err := c.gemmStridedBatched("attention scores", tf32, opT, opN, n, n, headDim, scale,
			k, stride, window, q, stride, window, scores, n, int64(n)*int64(n), seqs); err != nil {
			return err
		}
		if err := c.LaunchGrid("awq_causal_softmax", warpBlocks(int64(seqs)*int64(n)), Dim{X: launchThreads}, 0,
			scores, int64(seqs)*int64(n), int32(n)); err != nil {
			return err
		}
		// Column-major, Oᵀ [headDim × n] = Vᵀ·Pᵀ, written into head h's
		// columns of out.
		if err := c.gemmStridedBatched("attention values", tf32, opN, opN, headDim, n, n, 1,
			v, stride, window, scores, n, int64(n)*int64(n), out.Offset(4*h*headDim), qDim, int64(n)*int64(qDim), seqs); err != nil {
			return err
		}
	}
	return nil
}

// gemmStridedBatched runs batch column-major products C = alpha·op(A)·op(B)
// (C [m × n], beta 0), the operands of product i at strideA, strideB and
// strideC elements from product i-1's, in float32 or, with tf32, on the
// tensor cores in TF32.
func (c *Ctx) gemmStridedBatched(what string, tf32 bool, transA, transB int32, m, n, k int, alpha float32,
	a Buffer, lda int, strideA int64, b Buffer, ldb int, strideB int64, dst Buffer, ldc int, strideC int64, batch int) error {
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	zero := float32(0)
	if tf32 {
		return checkBLAS("cublasGemmStridedBatchedEx("+what+")", cublasGemmStridedBatchedEx(h, transA, transB,
			int32(m), int32(n), int32(k), &alpha, a.ptr, dataFloat32, int32(lda), strideA, b.ptr, dataFloat32, int32(ldb), strideB,
			&zero, dst.ptr, dataFloat32, int32(ldc), strideC, int32(batch), computeFastTF32, gemmDefaultAlgo))
	}
	return checkBLAS("cublasSgemmStridedBatched("+what+")", cublasSgemmStridedBatched(h, transA, transB,
		int32(m), int32(n), int32(k), &alpha, a.ptr, int32(lda), strideA, b.ptr, int32(ldb), strideB,
		&zero, dst.ptr, int32(ldc), strideC, int32(batch)))
}
