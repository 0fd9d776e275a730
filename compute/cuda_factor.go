package compute

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/cuda"
)

var _ Factorizer = (*gpu)(nil)

// gpuFactor is U in float32 on the device, row-major, zero below the
// diagonal: the layout cuda.Sweep reads.
type gpuFactor struct {
	g *gpu
	n int
	u *deviceMem
}

func (f *gpuFactor) N() int { return f.n }

func (f *gpuFactor) Release() { f.u.free() }

func (g *gpu) HoldsGram(gr Gram) bool {
	own, ok := gr.(*gpuGram)
	return ok && own.g == g
}

// ownGram returns gr as this backend's Gram.
func (g *gpu) ownGram(gr Gram) (*gpuGram, error) {
	if !g.HoldsGram(gr) {
		return nil, fmt.Errorf("compute: %T is not a Gram of %s", gr, g.Name())
	}
	return gr.(*gpuGram), nil
}

func (g *gpu) GramDiagonal(gr Gram) ([]float64, bool, error) {
	own, err := g.ownGram(gr)
	if err != nil {
		return nil, false, err
	}
	n := own.n
	diag := make([]float64, n)
	bad := []int32{0}
	err = g.dev.Do(func(c *cuda.Ctx) error {
		d, err := c.Alloc(8*n + 4)
		if err != nil {
			return err
		}
		defer c.Free(d)
		flag := d.Offset(8 * n)
		if err := upload(g, c, flag, bad); err != nil {
			return err
		}
		if err := c.HessianCheck(d, flag, own.h.buf, n); err != nil {
			return err
		}
		if err := download(g, c, diag, d); err != nil {
			return err
		}
		return download(g, c, bad, flag)
	})
	if err != nil {
		return nil, false, err
	}
	return diag, bad[0] == 0, nil
}

// InverseFactor gathers the damped, permuted H in reversed processing
// order, factorizes it with cuSOLVER and inverts the factor with cuBLAS
// (cuda.Ctx.CholeskyInverse, which Backend.CholeskyInverse runs on a host
// matrix), and reverses the inverse into U: the maths of gptq's host path,
// whose matrices never leave the device here.
func (g *gpu) InverseFactor(gr Gram, perm []int, add float64) (Factor, bool, error) {
	own, err := g.ownGram(gr)
	if err != nil {
		return nil, false, err
	}
	n := own.n
	if len(perm) != n {
		return nil, false, fmt.Errorf("compute: factor of order %d with a permutation of %d", n, len(perm))
	}
	order := make([]int32, n)
	for i, c := range perm {
		if c < 0 || c >= n {
			return nil, false, fmt.Errorf("compute: factor of order %d: permutation holds %d", n, c)
		}
		order[i] = int32(c)
	}
	f := &gpuFactor{g: g, n: n}
	if f.u, err = alloc(g.dev, f, 4*n*n); err != nil {
		return nil, false, err
	}
	ok := false
	err = g.dev.Do(func(c *cuda.Ctx) error {
		var held []cuda.Buffer
		defer func() {
			for _, b := range held {
				c.Free(b)
			}
		}()
		bufs := make([]cuda.Buffer, 3)
		for i, bytes := range []int{8 * n * n, 8 * n * n, 4*n + 4} {
			b, err := c.Alloc(bytes)
			if err != nil {
				return err
			}
			held = append(held, b)
			bufs[i] = b
		}
		a, inv, dperm := bufs[0], bufs[1], bufs[2]
		flag := dperm.Offset(4 * n)
		if err := g.notePeak(c); err != nil {
			return err
		}
		bad := []int32{0}
		if err := upload(g, c, dperm, order); err != nil {
			return err
		}
		if err := upload(g, c, flag, bad); err != nil {
			return err
		}
		if err := c.GatherDamped(a, own.h.buf, dperm, n, add); err != nil {
			return err
		}
		if ok, err = c.CholeskyInverse(inv, a, n); err != nil || !ok {
			return err
		}
		if err := c.ReverseFactor(f.u.buf, flag, inv, n); err != nil {
			return err
		}
		if err := download(g, c, bad, flag); err != nil {
			return err
		}
		ok = bad[0] == 0
		return nil
	})
	if err != nil || !ok {
		f.Release()
		return nil, false, err
	}
	return f, true, nil
}
