package compute

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// gpu is the CUDA backend: weights and Hessians stay on the device;
// activations travel to it and back for every product.
type gpu struct {
	dev *cuda.Device
	// Scratch for the operands of products, grown as needed; only touched
	// on the device's goroutine.
	in, out, extra cuda.Buffer
	int4           int4Scratch
	// stage is the page-locked host buffer every copy goes through.
	stage cuda.Pinned
	// layer is the scratch of resident layers' passes.
	layer  layerScratch
	peakMu sync.Mutex
	peak   uint64
}

// OpenCUDA opens GPU ordinal as a Backend.
func OpenCUDA(ordinal int) (Backend, error) {
	dev, err := cuda.Open(ordinal)
	if err != nil {
		return nil, err
	}
	return &gpu{dev: dev}, nil
}

func (g *gpu) Name() string { return fmt.Sprintf("cuda:%d (%s)", g.dev.Ordinal, g.dev.Name) }

// scratch returns *b grown to at least bytes.
func scratch(c *cuda.Ctx, b *cuda.Buffer, bytes int) (cuda.Buffer, error) {
	if b.Bytes() >= bytes {
		return *b, nil
	}
	if err := c.Free(*b); err != nil {
		return cuda.Buffer{}, err
	}
	*b = cuda.Buffer{}
	nb, err := c.Alloc(bytes)
	if err != nil {
		return cuda.Buffer{}, err
	}
	*b = nb
	return nb, nil
}

// stageBytes is the size of the page-locked stage of host copies.
const stageBytes = 64 << 20

// upload copies src to the device through the page-locked stage.
func upload[T uint8 | uint16 | int32 | uint32 | float32 | float64](g *gpu, c *cuda.Ctx, dst cuda.Buffer, src []T) error {
	if err := g.ensureStage(c); err != nil {
		return err
	}
	return cuda.UploadVia(c, dst, src, g.stage)
}

// download copies from the device to dst through the page-locked stage.
func download[T uint8 | uint16 | int32 | uint32 | float32 | float64](g *gpu, c *cuda.Ctx, dst []T, src cuda.Buffer) error {
	if err := g.ensureStage(c); err != nil {
		return err
	}
	return cuda.DownloadVia(c, dst, src, g.stage)
}

func (g *gpu) ensureStage(c *cuda.Ctx) error {
	if g.stage.Bytes() > 0 {
		return nil
	}
	var err error
	g.stage, err = c.AllocPinned(stageBytes)
	return err
}

// notePeak records the memory in use; called after the largest
// allocations of an operation.
func (g *gpu) notePeak(c *cuda.Ctx) error {
	used, err := c.MemInUse()
	if err != nil {
		return err
	}
	g.peakMu.Lock()
	g.peak = max(g.peak, used)
	g.peakMu.Unlock()
	return nil
}

func (g *gpu) PeakMemory() uint64 {
	g.peakMu.Lock()
	defer g.peakMu.Unlock()
	return g.peak
}

func (g *gpu) Close() {
	g.dev.Do(func(c *cuda.Ctx) error {
		c.Free(g.in)
		c.Free(g.out)
		c.Free(g.extra)
		g.int4.free(c)
		c.FreePinned(g.stage)
		g.layer.free(c)
		return nil
	})
	g.dev.Close()
}

// product runs c = a·op(b) with a, b and c through the scratch buffers.
func (g *gpu) product(c, a, b []float32, m, n, k int, trans bool) error {
	return g.dev.Do(func(ctx *cuda.Ctx) error {
		da, err := scratch(ctx, &g.in, 4*m*k)
		if err != nil {
			return err
		}
		db, err := scratch(ctx, &g.extra, 4*n*k)
		if err != nil {
			return err
		}
		dc, err := scratch(ctx, &g.out, 4*m*n)
		if err != nil {
			return err
		}
		if err := upload(g, ctx, da, a[:m*k]); err != nil {
			return err
		}
		if err := upload(g, ctx, db, b[:n*k]); err != nil {
			return err
		}
		if trans {
			err = ctx.MatMulT(dc, da, db, m, n, k)
		} else {
			err = ctx.MatMul(dc, da, db, m, n, k)
		}
		if err != nil {
			return err
		}
		return download(g, ctx, c[:m*n], dc)
	})
}

func (g *gpu) MatMulT(c, a, b []float32, m, n, k int) error {
	if err := checkProduct(len(c), len(a), len(b), m, n, k); err != nil {
		return err
	}
	return g.product(c, a, b, m, n, k, true)
}

func (g *gpu) MatMul(c, a, b []float32, m, n, k int) error {
	if err := checkProduct(len(c), len(a), len(b), m, n, k); err != nil {
		return err
	}
	return g.product(c, a, b, m, n, k, false)
}

func checkProduct(lc, la, lb, m, n, k int) error {
	if m < 0 || n < 0 || k < 0 || lc < m*n || la < m*k || lb < n*k {
		return fmt.Errorf("compute: product of [%d×%d] and [%d×%d] with slices of %d, %d, %d", m, k, k, n, la, lb, lc)
	}
	return nil
}

// deviceMem is a buffer freed by Release or, failing that, when its owner
// is garbage collected.
type deviceMem struct {
	dev   *cuda.Device
	buf   cuda.Buffer
	freed bool // only read and written on the device's goroutine
}

func (m *deviceMem) free() {
	m.dev.Do(func(c *cuda.Ctx) error {
		if m.freed {
			return nil
		}
		m.freed = true
		return c.Free(m.buf)
	})
}

// alloc returns device memory of bytes, freed when owner is collected.
func alloc[T any](dev *cuda.Device, owner *T, bytes int) (*deviceMem, error) {
	m := &deviceMem{dev: dev}
	err := dev.Do(func(c *cuda.Ctx) error {
		var err error
		m.buf, err = c.Alloc(bytes)
		return err
	})
	if err != nil {
		return nil, err
	}
	runtime.AddCleanup(owner, (*deviceMem).free, m)
	return m, nil
}

// hold copies src to new device memory owned by owner (see alloc) and
// notes the memory in use.
func hold[T uint8 | uint16 | int32 | uint32 | float32 | float64, O any](g *gpu, owner *O, src []T) (*deviceMem, error) {
	var elem T
	m, err := alloc(g.dev, owner, int(unsafe.Sizeof(elem))*len(src))
	if err != nil {
		return nil, err
	}
	err = g.dev.Do(func(c *cuda.Ctx) error {
		if err := upload(g, c, m.buf, src); err != nil {
			return err
		}
		return g.notePeak(c)
	})
	if err != nil {
		m.free()
		return nil, err
	}
	return m, nil
}

// gpuLinear is a weight resident on the device in float32.
type gpuLinear struct {
	hostProducts
	g       *gpu
	out, in int
	w       *deviceMem
}

func (g *gpu) NewLinear(w []float32, out, in int) (Linear, error) {
	if len(w) < out*in {
		return nil, fmt.Errorf("compute: linear [%d×%d] from %d values", out, in, len(w))
	}
	l := &gpuLinear{g: g, out: out, in: in}
	var err error
	if l.w, err = hold(g, l, w[:out*in]); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *gpuLinear) MatMul(dst, x []float32, rows int) {
	l.matMul(l.g, l, dst, x, rows, l.out, l.in)
}

func (l *gpuLinear) Release() { l.w.free() }

// gpuGram keeps H in float64 on the device and a float32 scratch for
// each batch's xᵀx.
type gpuGram struct {
	g *gpu
	n int
	h *deviceMem // [n×n] float64
	p *deviceMem // [n×n] float32
}

func (g *gpu) NewGram(n int) (Gram, error) {
	gr := &gpuGram{g: g, n: n}
	var err error
	if gr.h, err = alloc(g.dev, gr, 8*n*n); err != nil {
		return nil, err
	}
	if gr.p, err = alloc(g.dev, gr, 4*n*n); err != nil {
		gr.Release()
		return nil, err
	}
	err = g.dev.Do(func(c *cuda.Ctx) error {
		if err := upload(g, c, gr.h.buf, make([]float64, n*n)); err != nil {
			return err
		}
		return g.notePeak(c)
	})
	if err != nil {
		gr.Release()
		return nil, err
	}
	return gr, nil
}

func (gr *gpuGram) Add(x []float32, rows int, keep, scale float64) error {
	n := gr.n
	if len(x) < rows*n {
		return fmt.Errorf("compute: gram add: %d values for %d rows of %d", len(x), rows, n)
	}
	return gr.g.dev.Do(func(c *cuda.Ctx) error {
		dx, err := scratch(c, &gr.g.in, 4*rows*n)
		if err != nil {
			return err
		}
		if err := upload(gr.g, c, dx, x[:rows*n]); err != nil {
			return err
		}
		if err := c.Gram(gr.p.buf, dx, rows, n); err != nil {
			return err
		}
		return c.FoldUpper(gr.h.buf, gr.p.buf, n, keep, scale)
	})
}

func (gr *gpuGram) Matrix() ([]float64, error) {
	h := make([]float64, gr.n*gr.n)
	err := gr.g.dev.Do(func(c *cuda.Ctx) error { return download(gr.g, c, h, gr.h.buf) })
	if err != nil {
		return nil, err
	}
	return h, nil
}

func (gr *gpuGram) Release() {
	if gr.h != nil {
		gr.h.free()
	}
	if gr.p != nil {
		gr.p.free()
	}
}

func (g *gpu) CholeskyInverse(a []float64, n int) (bool, error) {
	if len(a) < n*n {
		return false, fmt.Errorf("compute: cholesky of %d×%d from %d values", n, n, len(a))
	}
	ok := false
	err := g.dev.Do(func(c *cuda.Ctx) error {
		da, err := c.Alloc(8 * n * n)
		if err != nil {
			return err
		}
		defer c.Free(da)
		inv, err := c.Alloc(8 * n * n)
		if err != nil {
			return err
		}
		defer c.Free(inv)
		if err := g.notePeak(c); err != nil {
			return err
		}
		if err := upload(g, c, da, a[:n*n]); err != nil {
			return err
		}
		if ok, err = c.CholeskyInverse(inv, da, n); err != nil || !ok {
			return err
		}
		return download(g, c, a[:n*n], inv)
	})
	return ok, err
}
