package cuda

import (
	"fmt"
	"math"
)

// The steps of a decoder layer on device activations (kernels/layer.cu).
// Sizes are in float32 elements; the caller sizes the buffers.

// elementBlocks is the grid of the element-wise kernels: enough blocks to
// fill the device, each striding over the rest.
func elementBlocks(n int64) Dim {
	return Dim{X: int(max(1, min((n+launchThreads-1)/launchThreads, 1<<16)))}
}

// elementwise launches a grid-stride kernel over n elements.
func (c *Ctx) elementwise(name string, n int64, args ...any) error {
	if n <= 0 {
		return nil
	}
	return c.LaunchGrid(name, elementBlocks(n), Dim{X: launchThreads}, 0, args...)
}

// chained is elementwise for the kernels that wait for the grids before
// them, launched with LaunchGridPDL.
func (c *Ctx) chained(name string, n int64, args ...any) error {
	if n <= 0 {
		return nil
	}
	return c.LaunchGridPDL(name, elementBlocks(n), Dim{X: launchThreads}, 0, args...)
}

// Zero sets the first n floats of x to zero.
func (c *Ctx) Zero(x Buffer, n int) error {
	return c.elementwise("zero_floats", int64(n), x, int64(n))
}

// AddInto sets x += y over n floats.
func (c *Ctx) AddInto(x, y Buffer, n int) error {
	return c.chained("add_into", int64(n), x, y, int64(n))
}

// AddBias adds bias [cols] to every row of x [rows × cols].
func (c *Ctx) AddBias(x, bias Buffer, rows, cols int) error {
	return c.chained("add_bias", int64(rows)*int64(cols), x, bias, int64(rows), int32(cols))
}

// normThreads is the block of rms_norm: one block per row, wide so that
// the one row of a decode step is read in a single pass.
const normThreads = 1024

// RMSNorm writes x / sqrt(mean(x²) + eps) · weight for each row of x
// [rows × cols] to dst.
func (c *Ctx) RMSNorm(dst, x, weight Buffer, rows, cols int, eps float64) error {
	return c.AddRMSNorm(dst, x, Buffer{}, weight, rows, cols, eps)
}

// AddRMSNorm adds residual [rows × cols] into x, then writes RMSNorm of
// the sum to dst, in one kernel; a zero residual Buffer adds nothing. dst
// may not overlap x or residual.
func (c *Ctx) AddRMSNorm(dst, x, residual, weight Buffer, rows, cols int, eps float64) error {
	if rows <= 0 {
		return nil
	}
	bytes := uintptr(4 * rows * cols)
	if overlap(dst, x, bytes) || overlap(dst, residual, bytes) {
		return fmt.Errorf("rms_norm: the output overlaps the input")
	}
	return c.LaunchGridPDL("rms_norm", Dim{X: rows}, Dim{X: normThreads}, 0, dst, x, residual, weight, int32(cols), eps)
}

// Position is where the first new token of each sequence sits: Start,
// plus the int32 at StartAt when that is not the zero Buffer. A position
// read from device memory lets a recorded Graph serve every step, the
// caller uploading the position before each replay.
type Position struct {
	Start   int
	StartAt Buffer
}

// Rope rotates the heads query heads and kvHeads key heads at the start of
// each row of qkv [rows × stride] by their positions: rows are sequences
// of n tokens, the first at position at. invFreq holds headDim/2
// inverse frequencies. With kv not the zero Buffer, the rotated keys and
// the values after them in each row are also stored in the cache kv
// [rows/n sequences × maxLen × 2 × kvHeads·headDim] at their positions.
func (c *Ctx) Rope(qkv, invFreq Buffer, rows, n int, at Position, heads, kvHeads, headDim, stride int, kv Buffer, maxLen int) error {
	work := int64(rows) * int64(heads+kvHeads) * int64(headDim/2)
	return c.chained("rope", work, qkv, invFreq, int64(rows), int32(n), at.StartAt, int32(at.Start),
		int32(heads), int32(kvHeads), int32(headDim), int32(stride), kv, int32(maxLen))
}

// SwiGLU writes silu(gate)·up of gateUp [rows × 2·ffn] (gate then up in
// each row) to dst [rows × ffn].
func (c *Ctx) SwiGLU(dst, gateUp Buffer, rows, ffn int) error {
	return c.chained("swiglu", int64(rows)*int64(ffn), dst, gateUp, int64(rows), int32(ffn))
}

// Attention shapes and where its keys and values are.
type Attention struct {
	Heads, KVHeads, HeadDim int
	// Seqs sequences of N new tokens each, at positions Start … Start+N-1;
	// with N = 1 the position may instead be read from StartAt (added to
	// Start).
	Seqs, N, Start int
	StartAt        Buffer
	// MaxKeys bounds the keys a token sees (the cache's length); with
	// N = 1 it sets how the keys are split over blocks (see
	// AttentionScratchBytes), so that the launch does not depend on the
	// position. 0 means Start+N.
	MaxKeys int
	// Partial and Arrived are the scratch of a split decode, of
	// AttentionScratchBytes: Arrived must be zero before the first launch
	// and Attention leaves it zero.
	Partial, Arrived Buffer
	// QStride is the width of a row of the queries' buffer.
	QStride int
	// RopeInvFreq, when not the zero Buffer, holds the HeadDim/2 inverse
	// frequencies of RoPE, and a decode (N = 1, keys and values in a
	// cache) does what Rope does first: the queries' buffer holds each
	// token's q, k and v before RoPE (QStride wide), and the rotated key
	// and the value are stored into the cache at the position.
	RopeInvFreq Buffer
	// The key of sequence s, position p, KV head g starts at element
	// s·KeySeqStride + p·KeyPosStride + g·HeadDim of the keys' buffer;
	// its value ValueOffset elements further.
	KeySeqStride, KeyPosStride, ValueOffset int
}

// MaxAttentionHeadDim is the largest head dimension Attention takes.
const MaxAttentionHeadDim = 128

// attentionQueries and attentionThreads match ATT_QUERIES and the four
// threads per query of kernels/layer.cu.
const (
	attentionQueries = 32
	attentionThreads = 4 * attentionQueries
)

// Attention writes the causal attention of a's tokens to out [Seqs·N ×
// Heads·HeadDim]: each token at position p attends to positions 0 … p,
// with softmax scale 1/sqrt(HeadDim). Queries are the first Heads·HeadDim
// values of each row of q (after RoPE).
func (c *Ctx) Attention(out, q, keys Buffer, a Attention) error {
	switch {
	case a.HeadDim <= 0 || a.HeadDim%4 != 0 || a.HeadDim > MaxAttentionHeadDim:
		return fmt.Errorf("attention: head dim %d is not a multiple of 4 up to %d", a.HeadDim, MaxAttentionHeadDim)
	case a.KVHeads <= 0 || a.Heads%a.KVHeads != 0:
		return fmt.Errorf("attention: %d heads do not share %d KV heads", a.Heads, a.KVHeads)
	case a.Seqs > 65535 || a.Heads > 65535:
		return fmt.Errorf("attention: %d sequences of %d heads exceed the grid", a.Seqs, a.Heads)
	case a.Seqs <= 0 || a.N <= 0:
		return nil
	}
	scale := float32(1 / math.Sqrt(float64(a.HeadDim)))
	if a.N == 1 {
		return c.decodeAttention(out, q, keys, a, scale)
	}
	if a.RopeInvFreq != (Buffer{}) {
		return fmt.Errorf("attention: RoPE is fused only into a decode, not %d tokens a sequence", a.N)
	}
	if a.StartAt != (Buffer{}) {
		return fmt.Errorf("attention: a position on the device serves one token per sequence, not %d", a.N)
	}
	grid := Dim{X: (a.N + attentionQueries - 1) / attentionQueries, Y: a.Heads, Z: a.Seqs}
	return c.LaunchGrid("attention", grid, Dim{X: attentionThreads}, 0,
		out, q, keys, int32(a.N), int32(a.Start), int32(a.Heads), int32(a.KVHeads), int32(a.HeadDim), int32(a.QStride),
		int64(a.KeySeqStride), int32(a.KeyPosStride), int32(a.ValueOffset), scale)
}

// decodeWarps matches DEC_WARPS of kernels/decode_attention.cu.
const decodeWarps = 8

// Splits of the keys of a decode: a split has at least decodeSplitKeys
// keys of MaxKeys, and there are at most maxDecodeSplits.
const (
	decodeSplitKeys = 64
	maxDecodeSplits = 32
)

// decodeSplits is the number of parts decode_attention splits the keys
// of a into.
func decodeSplits(a Attention) int {
	keys := a.MaxKeys
	if keys <= 0 {
		keys = a.Start + a.N
	}
	return min(max(1, (keys+decodeSplitKeys-1)/decodeSplitKeys), maxDecodeSplits)
}

// AttentionScratchBytes is the scratch Attention needs in a.Partial and
// a.Arrived: the parts of a decode (N = 1) split over several blocks, and
// the count of each head's blocks done; 0 for other attentions.
func AttentionScratchBytes(a Attention) (partial, arrived int) {
	splits := decodeSplits(a)
	if a.N != 1 || splits == 1 {
		return 0, 0
	}
	return 4 * a.Seqs * a.Heads * splits * (a.HeadDim + 2), 4 * a.Seqs * a.Heads
}

// decodeAttention is Attention of one token per sequence, the keys split
// over blocks whose parts the last of each head merges.
func (c *Ctx) decodeAttention(out, q, keys Buffer, a Attention, scale float32) error {
	if (q.ptr|keys.ptr)%16 != 0 || a.QStride%4 != 0 || a.KeySeqStride%4 != 0 || a.KeyPosStride%4 != 0 || a.ValueOffset%4 != 0 {
		return fmt.Errorf("attention: decode needs queries, keys and values 16-byte aligned")
	}
	if partial, arrived := AttentionScratchBytes(a); a.Partial.Bytes() < partial || a.Arrived.Bytes() < arrived {
		return fmt.Errorf("attention: scratch of %d and %d bytes, need %d and %d", a.Partial.Bytes(), a.Arrived.Bytes(), partial, arrived)
	}
	args := []any{out, a.Partial, a.Arrived, q, keys, a.StartAt, int32(a.Start), int32(a.Heads), int32(a.KVHeads), int32(a.HeadDim), int32(a.QStride),
		int64(a.KeySeqStride), int32(a.KeyPosStride), int32(a.ValueOffset), scale}
	name := "decode_attention"
	if a.RopeInvFreq != (Buffer{}) {
		if a.RopeInvFreq.bytes < uintptr(2*a.HeadDim) {
			return fmt.Errorf("attention: %d bytes of RoPE frequencies for heads of %d", a.RopeInvFreq.bytes, a.HeadDim)
		}
		name, args = "decode_attention_rope", append(args, a.RopeInvFreq)
	}
	return c.LaunchGridPDL(name, Dim{X: decodeSplits(a), Y: a.Heads, Z: a.Seqs}, Dim{X: 32 * decodeWarps}, 0, args...)
}

// overlap reports whether the first bytes of a and b share memory (the
// zero Buffer shares none).
func overlap(a, b Buffer, bytes uintptr) bool {
	return a.ptr != 0 && b.ptr != 0 && a.ptr < b.ptr+bytes && b.ptr < a.ptr+bytes
}
