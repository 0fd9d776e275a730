package compute

import "github.com/qtk-dev/qtk/internal/cuda"

// deviceLinear is a Linear resident on the GPU whose products can run
// between device buffers, for device-resident layers.
type deviceLinear interface {
	// matMulDevice sets dst[rows×out] = x[rows×in]·Wᵀ, both float32 device buffers,
	// on the device goroutine (c is its context). No host copies.
	matMulDevice(c *cuda.Ctx, dst, x cuda.Buffer, rows int) error
}

func (l *gpuLinear) matMulDevice(c *cuda.Ctx, dst, x cuda.Buffer, rows int) error {
	return c.MatMulT(dst, x, l.w.buf, rows, l.out, l.in)
}
