package compute

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/cuda"
)

var _ HalfLinears = (*gpu)(nil)

// gpuHalfLinear is a weight resident on the device in float16, multiplied
// by the half-precision GEMV of internal/cuda.
type gpuHalfLinear struct {
	hostProducts
	g       *gpu
	out, in int
	w       *deviceMem
}

// NewHalfLinear holds w in float16; a weight whose width the kernel
// cannot take (not a multiple of 8) is held in float32 instead.
func (g *gpu) NewHalfLinear(w []float32, out, in int) (Linear, error) {
	if len(w) < out*in || out <= 0 || in <= 0 {
		return nil, fmt.Errorf("compute: linear [%d×%d] from %d values", out, in, len(w))
	}
	if in%8 != 0 {
		return g.NewLinear(w, out, in)
	}
	bits := make([]uint16, out*in)
	for i := range bits {
		bits[i] = toHalf(w[i])
	}
	l := &gpuHalfLinear{g: g, out: out, in: in}
	var err error
	if l.w, err = hold(g, l, bits); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *gpuHalfLinear) MatMul(dst, x []float32, rows int) {
	l.matMul(l.g, l, dst, x, rows, l.out, l.in)
}

func (l *gpuHalfLinear) matMulDevice(c *cuda.Ctx, dst, x cuda.Buffer, rows int) error {
	if l.w.freed {
		return fmt.Errorf("compute: half-precision linear used after Release")
	}
	return c.HalfGEMV(dst, x, l.w.buf, rows, l.out, l.in)
}

func (l *gpuHalfLinear) Release() { l.w.free() }
