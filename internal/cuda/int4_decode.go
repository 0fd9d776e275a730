package cuda

import "fmt"

// The products of a decode step fused with the steps around them
// (kernels/int4_half.cu): one row of x, float16 pairs as Int4GEMV
// multiplies one row, launched with programmatic dependent launch. They
// leave out the launches of the norms, the SwiGLU and the residual adds.

// int4Fused is their layout: INT4_FUSED_ROWS rows and INT4_FUSED_WARPS
// warps a block; their own shared memory holds the warps' sums and the
// norm's.
var int4Fused = int4Variant{rows: 8, threads: 4 * 32, xBytes: 2, staticBytes: 4*8*4 + 8*32 + 4, pdl: true}

// Int4FusedFits reports whether the fused products take w (x must fit a
// block's shared memory as float16).
func Int4FusedFits(w Int4) bool { return int4Fused.fits(w) }

func (c *Ctx) checkFused(what string, y, x Buffer, xLen int, w Int4) error {
	if !Int4FusedFits(w) {
		return fmt.Errorf("int4 %s: does not take [%d×%d] in %d groups of %d", what, w.Out, w.In, w.Groups, w.GroupLen)
	}
	if x.ptr%16 != 0 || x.bytes < uintptr(4*xLen) || y.bytes < uintptr(4*w.Out) {
		return fmt.Errorf("int4 %s: x of %d bytes at %#x, y of %d bytes for [%d×%d]", what, x.bytes, x.ptr, y.bytes, w.Out, w.In)
	}
	return nil
}

// Int4GEMVNorm sets y[Out] = W·(x / sqrt(mean(x²) + eps) · weight) for one
// row x [In] in the order of the codes (16-byte aligned), as RMSNorm then
// Int4GEMV do.
func (c *Ctx) Int4GEMVNorm(y, x, weight Buffer, eps float64, w Int4) error {
	if err := c.checkFused("gemv after a norm", y, x, w.In, w); err != nil {
		return err
	}
	if weight.ptr%16 != 0 || weight.bytes < uintptr(4*w.In) {
		return fmt.Errorf("int4 gemv after a norm: weight of %d bytes at %#x for %d columns", weight.bytes, weight.ptr, w.In)
	}
	return c.launchInt4(int4Fused, "int4_gemv_norm", y, x, w, weight, eps)
}

// Int4GEMVAddInto sets y[Out] += W·x for one row x [In] in the order of
// the codes (16-byte aligned).
func (c *Ctx) Int4GEMVAddInto(y, x Buffer, w Int4) error {
	if err := c.checkFused("gemv added", y, x, w.In, w); err != nil {
		return err
	}
	return c.launchInt4(int4Fused, "int4_gemv_add", y, x, w, Buffer{}, 0.0)
}

// Int4GEMVSwiGLUAddInto sets y[Out] += W·(silu(gate)·up) for one row
// gateUp [2·In] holding gate then up (16-byte aligned), as SwiGLU then
// Int4GEMV then AddInto do.
func (c *Ctx) Int4GEMVSwiGLUAddInto(y, gateUp Buffer, w Int4) error {
	if err := c.checkFused("gemv of a SwiGLU added", y, gateUp, 2*w.In, w); err != nil {
		return err
	}
	return c.launchInt4(int4Fused, "int4_gemv_swiglu_add", y, gateUp, w, Buffer{}, 0.0)
}
