package compute

import (
	"fmt"
	"runtime"

	"github.com/qtk-dev/qtk/internal/cuda"
)

var _ Sweeper = (*gpu)(nil)

// Sweep runs the whole sweep of job on the device: W and U stay there
// for every block, each block is one kernel (the column loop) and one
// GEMM (the lazy update), and only the codes, the group parameters and
// the loss come back.
func (g *gpu) Sweep(job SweepJob) (float64, error) {
	if err := job.check(); err != nil {
		return 0, err
	}
	var factor *gpuFactor
	if job.Factor != nil {
		f, ok := job.Factor.(*gpuFactor)
		if !ok || f.g != g {
			return 0, fmt.Errorf("compute: sweep on %s with a factor held elsewhere", g.Name())
		}
		factor = f
	}
	groups := len(job.Scale) / job.Out
	rowLoss := make([]float64, job.Out)
	err := g.dev.Do(func(c *cuda.Ctx) error {
		var held []cuda.Buffer
		defer func() {
			for _, b := range held {
				c.Free(b)
			}
		}()
		alloc := func(bytes int) (cuda.Buffer, error) {
			b, err := c.Alloc(bytes)
			if err == nil {
				held = append(held, b)
			}
			return b, err
		}
		s := &cuda.Sweep{
			Out: job.Out, In: job.In, Groups: groups,
			DynamicGroups: job.DynamicGroups, GroupSize: job.GroupSize,
			MaxQ: job.Scheme.MaxQ(), Symmetric: job.Scheme.Symmetric,
			MinZero: int(job.Scheme.MinZero), BF16Scales: job.Scheme.BF16Scales,
		}
		uBytes := 4 * job.In * job.In
		if factor != nil {
			s.U, uBytes = factor.u.buf, 0
		}
		for _, b := range []struct {
			buf   *cuda.Buffer
			bytes int
		}{
			{&s.W, 4 * job.Out * job.In},
			{&s.U, uBytes},
			{&s.E, 4 * job.Out * cuda.SweepMaxBlock},
			{&s.Q, job.Out * job.In},
			{&s.Scale, 4 * job.Out * groups},
			{&s.Zero, job.Out * groups},
			{&s.Group, 4 * job.In},
			{&s.Loss, 8 * job.Out},
		} {
			if b.bytes == 0 {
				continue // U from the factor
			}
			var err error
			if *b.buf, err = alloc(b.bytes); err != nil {
				return err
			}
		}
		if err := g.notePeak(c); err != nil {
			return err
		}
		if err := upload(g, c, s.W, job.W); err != nil {
			return err
		}
		if factor == nil {
			if err := upload(g, c, s.U, job.U); err != nil {
				return err
			}
		}
		if err := upload(g, c, s.Scale, job.Scale); err != nil {
			return err
		}
		if err := upload(g, c, s.Zero, job.Zero); err != nil {
			return err
		}
		if err := upload(g, c, s.Group, job.Group); err != nil {
			return err
		}
		if err := upload(g, c, s.Loss, rowLoss); err != nil {
			return err
		}
		for i1 := 0; i1 < job.In; i1 += job.BlockSize {
			if err := c.SweepBlock(s, i1, min(job.BlockSize, job.In-i1)); err != nil {
				return err
			}
		}
		if err := download(g, c, job.Q, s.Q); err != nil {
			return err
		}
		if err := download(g, c, job.Scale, s.Scale); err != nil {
			return err
		}
		if err := download(g, c, job.Zero, s.Zero); err != nil {
			return err
		}
		return download(g, c, rowLoss, s.Loss)
	})
	runtime.KeepAlive(factor) // its memory, which the kernels read, stays held
	if err != nil {
		return 0, err
	}
	loss := 0.0
	for _, l := range rowLoss {
		loss += l
	}
	return loss / 2, nil
}
