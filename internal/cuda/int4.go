package cuda

import "fmt"

// Int4 is the layout of a 4-bit weight [Out×In] on the device, as the
// kernels of kernels/int4.cu read it:
//   - Codes, uint32 [Out × In/8]: word w of a row holds the codes of its
//     columns 8w..8w+7, column 8w+k in bits 4k..4k+3;
//   - Params, float32 pairs [Out × Groups]: each group's scale and zero
//     point, the weight being (code - zero)·scale;
//   - Perm, int32 [In], or the zero Buffer: column j of the codes is column
//     Perm[j] of the layer.
//
// Groups are runs of GroupLen columns of the codes. In is a multiple of 32
// and GroupLen a multiple of 32 or In (see [Int4Fits]).
type Int4 struct {
	Out, In, Groups, GroupLen int
	Codes, Params, Perm       Buffer
}

// Int4MaxRows is the most rows of x [Int4GEMV] takes.
const Int4MaxRows = 8

// int4GEMVKernels names the GEMV's entry point for each count of rows.
var int4GEMVKernels = func() (names [Int4MaxRows + 1]string) {
	for rows := 1; rows <= Int4MaxRows; rows++ {
		names[rows] = fmt.Sprintf("int4_gemv_%d", rows)
	}
	return names
}()

// int4Block is the threads of a block of the GEMV (INT4_WARPS warps).
const int4Block = 128

// int4BlockRows is the rows of the weight one block of int4_gemv_B
// computes (its template argument R in int4.cu).
func int4BlockRows(b int) int {
	switch {
	case b == 1:
		return 8
	case b == 2:
		return 4
	case b <= 4:
		return 2
	}
	return 1
}

// Int4Fits reports whether the kernels take a weight of in columns in
// groups of groupLen.
func Int4Fits(in, groupLen int) bool {
	return in > 0 && in%32 == 0 && groupLen > 0 && (groupLen%32 == 0 || groupLen == in)
}

func (w Int4) check() error {
	if !Int4Fits(w.In, w.GroupLen) || w.Out <= 0 || w.Groups != (w.In+w.GroupLen-1)/w.GroupLen {
		return fmt.Errorf("int4: weight [%d×%d] in %d groups of %d does not fit the kernels", w.Out, w.In, w.Groups, w.GroupLen)
	}
	return nil
}

// Int4GEMV sets y[rows×Out] = x[rows×In]·Wᵀ for 1 ≤ rows ≤ Int4MaxRows,
// reading each code once for all rows. x holds the columns in the order
// of the codes (see [Ctx.GatherColumns]) and starts 16-byte aligned.
//
// One row (decoding) multiplies in float16 pairs summed in float32
// (relative error a few 1e-4, see int4_half.cu) where x fits a block's
// shared memory, launched with programmatic dependent launch; more rows,
// or wider ones, in float32.
func (c *Ctx) Int4GEMV(y, x Buffer, w Int4, rows int) error {
	name := c.decode
	if name == "" {
		name = int4DecodeVariant(w)
	}
	if rows == 1 && Int4VariantFits(name, w) {
		return c.Int4GEMVVariant(name, y, x, w)
	}
	return c.Int4GEMVFloat(y, x, w, rows)
}

// Int4GEMVFloat is Int4GEMV in float32 arithmetic for any count of rows
// (the kernels int4_gemv_B).
func (c *Ctx) Int4GEMVFloat(y, x Buffer, w Int4, rows int) error {
	if err := w.check(); err != nil {
		return err
	}
	if rows < 1 || rows > Int4MaxRows {
		return fmt.Errorf("int4 gemv: %d rows, want 1..%d", rows, Int4MaxRows)
	}
	if x.ptr%16 != 0 || x.bytes < uintptr(4*rows*w.In) || y.bytes < uintptr(4*rows*w.Out) {
		return fmt.Errorf("int4 gemv: x of %d bytes at %#x, y of %d bytes for %d rows of [%d×%d]", x.bytes, x.ptr, y.bytes, rows, w.Out, w.In)
	}
	rowsPerBlock := int4BlockRows(rows)
	blocks := (w.Out + rowsPerBlock - 1) / rowsPerBlock
	return c.LaunchGrid(int4GEMVKernels[rows], Dim{X: blocks}, Dim{X: int4Block}, 0,
		y, x, w.Codes, w.Params, int32(w.Out), int32(w.In), int32(w.Groups), int32(w.GroupLen/32))
}

// Int4Dequantize writes the float32 weight dst [Out×In], in the layer's
// column order.
func (c *Ctx) Int4Dequantize(dst Buffer, w Int4) error {
	if err := w.check(); err != nil {
		return err
	}
	if dst.bytes < uintptr(4*w.Out*w.In) {
		return fmt.Errorf("int4 dequantize: %d bytes for [%d×%d]", dst.bytes, w.Out, w.In)
	}
	return c.launch("int4_dequantize", w.Out*w.In/8, dst, w.Codes, w.Params, w.Perm,
		int32(w.Out), int32(w.In), int32(w.Groups), int32(w.GroupLen))
}

// GatherColumns sets dst[b][j] = x[b][perm[j]] for the float32 rows
// [rows×n], perm being int32 [n].
func (c *Ctx) GatherColumns(dst, x, perm Buffer, rows, n int) error {
	if bytes := uintptr(4 * rows * n); dst.bytes < bytes || x.bytes < bytes || perm.bytes < uintptr(4*n) {
		return fmt.Errorf("gather columns: buffers of %d, %d, %d bytes for [%d×%d]", dst.bytes, x.bytes, perm.bytes, rows, n)
	}
	return c.launch("gather_columns", rows*n, dst, x, perm, int32(rows), int32(n))
}
