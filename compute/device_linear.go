package compute

import (
	"cmp"
	"sync"

	"github.com/qtk-dev/qtk/internal/cuda"
)

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

// hostProducts gives a device linear the Linear methods that take their
// rows from the host: matMul copies x to the device, runs the product
// there and copies the result back; a failure is kept for Err.
type hostProducts struct {
	mu  sync.Mutex // guards err: products may come from several goroutines
	err error
}

// matMul is Linear.MatMul for l, a weight [out×in] held by g.
func (h *hostProducts) matMul(g *gpu, l deviceLinear, dst, x []float32, rows, out, in int) {
	if h.Err() != nil {
		return
	}
	err := checkProduct(len(dst), len(x), out*in, rows, out, in)
	if err == nil {
		err = g.dev.Do(func(c *cuda.Ctx) error {
			dx, err := scratch(c, &g.in, 4*rows*in)
			if err != nil {
				return err
			}
			dy, err := scratch(c, &g.out, 4*rows*out)
			if err != nil {
				return err
			}
			if err := upload(g, c, dx, x[:rows*in]); err != nil {
				return err
			}
			if err := l.matMulDevice(c, dy, dx, rows); err != nil {
				return err
			}
			return download(g, c, dst[:rows*out], dy)
		})
	}
	if err != nil {
		h.mu.Lock()
		h.err = cmp.Or(h.err, err)
		h.mu.Unlock()
	}
}

func (h *hostProducts) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}
