package compute

import (
	"cmp"
	"fmt"
	"sync"

	"github.com/qtk-dev/qtk/internal/cuda"
)

var _ HalfLinears = (*gpu)(nil)

// gpuHalfLinear is a weight resident on the device in float16, multiplied
// by the half-precision GEMV of internal/cuda.
type gpuHalfLinear struct {
	g       *gpu
	out, in int
	w       *deviceMem
	mu      sync.Mutex // guards err: products may come from several goroutines
	err     error
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
	if l.Err() != nil {
		return
	}
	err := checkProduct(len(dst), len(x), l.out*l.in, rows, l.out, l.in)
	if err == nil {
		err = l.g.dev.Do(func(c *cuda.Ctx) error {
			dx, err := scratch(c, &l.g.in, 4*rows*l.in)
			if err != nil {
				return err
			}
			dy, err := scratch(c, &l.g.out, 4*rows*l.out)
			if err != nil {
				return err
			}
			if err := upload(l.g, c, dx, x[:rows*l.in]); err != nil {
				return err
			}
			if err := l.matMulDevice(c, dy, dx, rows); err != nil {
				return err
			}
			return download(l.g, c, dst[:rows*l.out], dy)
		})
	}
	if err != nil {
		l.mu.Lock()
		l.err = cmp.Or(l.err, err)
		l.mu.Unlock()
	}
}

func (l *gpuHalfLinear) matMulDevice(c *cuda.Ctx, dst, x cuda.Buffer, rows int) error {
	if l.w.freed {
		return fmt.Errorf("compute: half-precision linear used after Release")
	}
	return c.HalfGEMV(dst, x, l.w.buf, rows, l.out, l.in)
}

func (l *gpuHalfLinear) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *gpuHalfLinear) Release() { l.w.free() }
