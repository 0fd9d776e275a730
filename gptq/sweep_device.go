package gptq

import (
	"cmp"
	"fmt"
	"time"

	"github.com/qtk-dev/qtk/compute"
)

// deviceJob describes the sweep for a compute.Sweeper, or says why it
// stays on the CPU: a device runs package quant's integer grid with
// min-max group parameters only.
func (s *sweep) deviceJob() (compute.SweepJob, string) {
	g, ok := s.grid.(*schemeGrid)
	if why := deviceSweepBlocker(s.o); why != "" || !ok {
		return compute.SweepJob{}, cmp.Or(why, "block grids are fitted on the CPU")
	}
	in := s.in
	var u []float32
	if s.factor == nil {
		u = make([]float32, in*in)
		parallelFor(in, sweepRows, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				s.u.row(u[p*in+p:(p+1)*in], p, p)
			}
		})
	}
	group := make([]int32, in)
	for j, c := range s.perm {
		group[j] = g.t.GIdx[c]
	}
	return compute.SweepJob{
		Out: s.out, In: in,
		W: s.w, U: u, Factor: s.factor,
		BlockSize:     min(s.o.BlockSize, in),
		Scheme:        g.t.Scheme,
		DynamicGroups: s.dynamic,
		GroupSize:     s.gs,
		Group:         group,
		Scale:         g.t.Scale,
		Zero:          g.t.Zero,
		Q:             make([]uint8, s.out*in),
	}, ""
}

// deviceSweepBlocker says why a sweep with options o stays on the CPU,
// or returns "" when a Sweeper runs it: a device runs package quant's
// integer grid with min-max group parameters only.
func deviceSweepBlocker(o Options) string {
	switch {
	case o.Grid != nil:
		return "block grids are fitted on the CPU"
	case o.Clip != nil:
		return "the clip search runs on the CPU"
	case o.BlockSize > compute.SweepMaxBlock:
		return fmt.Sprintf("blocks of %d columns, more than the device's %d", o.BlockSize, compute.SweepMaxBlock)
	}
	return ""
}

// runOn runs job, the sweep described by deviceJob, on sw and puts the
// codes into the grid's tensor in channel order.
func (s *sweep) runOn(sw compute.Sweeper, job compute.SweepJob) (float64, error) {
	start := time.Now()
	loss, err := sw.Sweep(job)
	if err != nil {
		return 0, fmt.Errorf("gptq: sweep on the device: %w", err)
	}
	s.o.Log("gptq: [%d×%d] swept on the device in %.3fs", s.out, s.in, time.Since(start).Seconds())
	t := s.grid.(*schemeGrid).t
	in := s.in
	parallelFor(s.out, sweepRows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dst, src := t.Q[r*in:(r+1)*in], job.Q[r*in:(r+1)*in]
			for j, c := range s.perm {
				dst[c] = src[j]
			}
		}
	})
	return loss, nil
}
