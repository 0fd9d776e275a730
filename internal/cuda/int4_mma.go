package cuda

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/linalg"
)

// Int4MMA is a 4-bit weight [Out×In] packed for the tensor-core kernels of
// kernels/int4_mma.cu, whose header gives the layout: Codes uint32 [Out/16
// × In/64 × 32 × 4], Params float32 [Out/16 × Groups × 8 × 4]. Its columns
// are in the order of an [Int4]'s codes, and Perm, as there, is int32 [In]
// or the zero Buffer: column j of the codes is column Perm[j] of the layer.
type Int4MMA struct {
	Out, In, Groups, GroupLen int
	Codes, Params, Perm       Buffer
}

// Int4MMAFits reports whether the tensor-core layout takes a weight
// [out×in] in groups of groupLen: rows a multiple of 16, columns of 64,
// each chunk of 64 columns inside one group, and one row of x, as float16
// with its chunk sums, in the shared memory every block gets.
func Int4MMAFits(out, in, groupLen int) bool {
	return out > 0 && out%16 == 0 && in > 0 && in%64 == 0 && groupLen > 0 && groupLen%64 == 0 &&
		int4MMAShared(1, in)+int4MMAStatic(1) <= maxBlockShared
}

// int4MMAShared is the dynamic shared memory of the kernel for rows of x:
// each as float16 and a float32 sum a chunk.
func int4MMAShared(rows, in int) int { return rows * (2*in + 4*(in/64)) }

// int4MMAStatic is the kernel's own shared memory (partial [8][rows][16]).
func int4MMAStatic(rows int) int { return 8 * rows * 16 * 4 }

func (w Int4MMA) check() error {
	if !Int4MMAFits(w.Out, w.In, w.GroupLen) || w.Groups != (w.In+w.GroupLen-1)/w.GroupLen {
		return fmt.Errorf("int4 mma: weight [%d×%d] in %d groups of %d does not fit", w.Out, w.In, w.Groups, w.GroupLen)
	}
	return nil
}

// PackInt4MMA lays out for Int4MMA a weight given in the [Int4] layout:
// codes uint32 [out × in/8] and params (scale, zero) [out × groups].
func PackInt4MMA(codes []uint32, params []float32, out, in, groupLen int) (mmaCodes []uint32, mmaParams []float32, err error) {
	groups := (in + groupLen - 1) / groupLen
	if !Int4MMAFits(out, in, groupLen) || len(codes) != out*in/8 || len(params) != 2*out*groups {
		return nil, nil, fmt.Errorf("int4 mma: weight [%d×%d] in groups of %d (%d words, %d params) does not fit", out, in, groupLen, len(codes), len(params))
	}
	chunks, words := in/64, in/8
	mmaCodes = make([]uint32, out*in/8)
	mmaParams = make([]float32, 4*out*groups)
	linalg.ParallelFor(out/16, 4, func(lo, hi int) {
		for tile := lo; tile < hi; tile++ {
			for c := range chunks {
				for lane := range 32 {
					g, j := lane/4, lane%4
					for t := range 4 {
						// Columns 16j + 4t .. +3 of the chunk: one half of
						// a word in rows g and g + 8 each.
						col := 64*c + 16*j + 4*t
						shift := 4 * (col % 8)
						a := codes[(16*tile+g)*words+col/8] >> shift
						b := codes[(16*tile+g+8)*words+col/8] >> shift
						mmaCodes[((tile*chunks+c)*32+lane)*4+t] = mmaWord(a, b)
					}
				}
			}
			for gr := range groups {
				for g := range 8 {
					r0, r1 := 16*tile+g, 16*tile+g+8
					s0, z0 := params[2*(r0*groups+gr)], params[2*(r0*groups+gr)+1]
					s1, z1 := params[2*(r1*groups+gr)], params[2*(r1*groups+gr)+1]
					i := 4 * ((tile*groups+gr)*8 + g)
					mmaParams[i], mmaParams[i+1] = s0, 1024+z0
					mmaParams[i+2], mmaParams[i+3] = s1/16, 1024+16*z1
				}
			}
		}
	})
	return mmaCodes, mmaParams, nil
}

// mmaWord places the codes of 4 consecutive columns of row g (the low 16
// bits of a) and of row g + 8 (of b) as one lane's word of a tile: row g in
// the even nibbles, g + 8 in the odd ones, the columns in the order 0, 2,
// 1, 3 of the nibble pairs (0,1), (2,3), (4,5), (6,7).
func mmaWord(a, b uint32) uint32 {
	var w uint32
	for k, n := range [4]int{0, 4, 2, 6} { // nibble of column k in row g
		w |= (a>>(4*k)&0xF)<<(4*n) | (b>>(4*k)&0xF)<<(4*n+4)
	}
	return w
}

// Int4MMAGEMV sets y[rows×Out] = x[rows×In]·Wᵀ on the tensor cores,
// reading each code once for every Int4MaxRows rows of x, or as many as a
// block's shared memory holds (all 8 at Llama-2-7B's widths). x
// holds the columns in the order of the codes (see [Ctx.GatherColumns])
// and starts 16-byte aligned. The kernels wait for the grids before them:
// they are launched with programmatic dependent launch.
func (c *Ctx) Int4MMAGEMV(y, x Buffer, w Int4MMA, rows int) error {
	if err := w.check(); err != nil {
		return err
	}
	if rows < 1 {
		return fmt.Errorf("int4 mma: %d rows", rows)
	}
	if x.ptr%16 != 0 || x.bytes < uintptr(4*rows*w.In) || y.bytes < uintptr(4*rows*w.Out) {
		return fmt.Errorf("int4 mma: x of %d bytes at %#x, y of %d bytes for %d rows of [%d×%d]", x.bytes, x.ptr, y.bytes, rows, w.Out, w.In)
	}
	per := min(rows, Int4MaxRows)
	for per > 1 && int4MMAShared(per, w.In)+int4MMAStatic(per) > c.maxShared {
		per--
	}
	for b := 0; b < rows; b += per {
		n := min(per, rows-b)
		kernel := fmt.Sprintf("int4_mma_w8d4_%d", n)
		if n == 1 && w.Out <= w.In {
			kernel = "int4_mma_w8d8_1"
		}
		err := c.LaunchGridPDL(kernel, Dim{X: w.Out / 16}, Dim{X: 256}, int4MMAShared(n, w.In),
			y.Offset(4*b*w.Out), x.Offset(4*b*w.In), w.Codes, w.Params,
			int32(w.Out), int32(w.In), int32(w.Groups), int32(w.GroupLen/64))
		if err != nil {
			return err
		}
	}
	return nil
}

// Int4MMADequantize writes the float32 weight dst [Out×In], in the
// layer's column order.
func (c *Ctx) Int4MMADequantize(dst Buffer, w Int4MMA) error {
	return c.int4MMADequantize("int4_dequantize_mma", 4, dst, w)
}

// Int4MMADequantizeHalf writes the weight dst [Out×In] as float16 bits,
// in the layer's column order.
func (c *Ctx) Int4MMADequantizeHalf(dst Buffer, w Int4MMA) error {
	return c.int4MMADequantize("int4_dequantize_mma_half", 2, dst, w)
}

func (c *Ctx) int4MMADequantize(kernel string, size int, dst Buffer, w Int4MMA) error {
	if err := w.check(); err != nil {
		return err
	}
	if dst.bytes < uintptr(size*w.Out*w.In) || dst.ptr%16 != 0 {
		return fmt.Errorf("int4 mma dequantize: %d bytes at %#x for [%d×%d]", dst.bytes, dst.ptr, w.Out, w.In)
	}
	return c.launch(kernel, w.Out*w.In/8, dst, w.Codes, w.Params, w.Perm,
		int32(w.Out), int32(w.In), int32(w.Groups), int32(w.GroupLen/64))
}
