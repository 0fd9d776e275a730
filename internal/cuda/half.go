package cuda

import "fmt"

// HalfMaxRows is the most rows of x one launch of the half-precision
// product takes; HalfGEMV runs longer inputs in slices of it.
const HalfMaxRows = 8

// halfGEMVKernels names the product's entry point for each count of rows.
var halfGEMVKernels = func() (names [HalfMaxRows + 1]string) {
	for rows := 1; rows <= HalfMaxRows; rows++ {
		names[rows] = fmt.Sprintf("half_gemv_%d", rows)
	}
	return names
}()

// halfBlock is the threads of a block of the product and halfWarpRows
// the rows of the weight each warp computes (HALF_WARP_ROWS of half.cu).
const (
	halfBlock    = 128
	halfWarpRows = 4
)

// HalfGEMV sets y[rows×out] = x[rows×in]·Wᵀ for the weight w [out×in]
// held as IEEE float16 bits (kernels/half.cu), reading w once for every
// HalfMaxRows rows. in is a multiple of 8; w and x start 16-byte aligned.
func (c *Ctx) HalfGEMV(y, x, w Buffer, rows, out, in int) error {
	switch {
	case out <= 0 || in <= 0 || in%8 != 0:
		return fmt.Errorf("half gemv: weight [%d×%d], want columns a positive multiple of 8", out, in)
	case rows < 0:
		return fmt.Errorf("half gemv: %d rows", rows)
	case (x.ptr|w.ptr)%16 != 0 || w.bytes < uintptr(2*out*in) || x.bytes < uintptr(4*rows*in) || y.bytes < uintptr(4*rows*out):
		return fmt.Errorf("half gemv: buffers of %d, %d, %d bytes for %d rows of [%d×%d]", y.bytes, x.bytes, w.bytes, rows, out, in)
	}
	rowsPerBlock := halfBlock / 32 * halfWarpRows
	blocks := (out + rowsPerBlock - 1) / rowsPerBlock
	for done := 0; done < rows; done += HalfMaxRows {
		b := min(HalfMaxRows, rows-done)
		err := c.LaunchGridPDL(halfGEMVKernels[b], Dim{X: blocks}, Dim{X: halfBlock}, 0,
			y.Offset(4*done*out), x.Offset(4*done*in), w, int32(out), int32(in))
		if err != nil {
			return err
		}
	}
	return nil
}
