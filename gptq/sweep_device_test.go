package gptq

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/quant"
)

// fakeSweeper is the CPU backend claiming to sweep: it records every job
// and answers with codes telling each column's processing position.
type fakeSweeper struct {
	compute.Backend
	jobs []compute.SweepJob
}

const fakeLoss = 42

func (f *fakeSweeper) Sweep(job compute.SweepJob) (float64, error) {
	f.jobs = append(f.jobs, job)
	for i := range job.Q {
		job.Q[i] = uint8(i % job.In % 16)
	}
	return fakeLoss, nil
}

// TestSweepOnSweeper: a backend that sweeps gets the integer grid's
// sweep, described as the CPU sweep would run it, and its codes land in
// channel order; other grids stay on the CPU, which the log says.
func TestSweepOnSweeper(t *testing.T) {
	const out, in = 20, 192
	w, _, h := calibrated(11, out, in, 300)
	for _, o := range []Options{
		{Scheme: scheme4(64)},
		{Scheme: scheme4(-1), ActOrder: true},
		{Scheme: scheme4(32), ActOrder: true},
		{Scheme: scheme4(32), ActOrder: true, StaticGroups: true},
		{Scheme: quant.Scheme{Bits: 8, GroupSize: 96, Symmetric: true}, BlockSize: 40},
		{Scheme: scheme4(64), RefitScales: true},
	} {
		t.Run(optName(o), func(t *testing.T) {
			fake := &fakeSweeper{Backend: compute.CPU}
			o.Backend = fake
			res, err := Quantize(w, out, in, h, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(fake.jobs) != 1 {
				t.Fatalf("%d sweeps on the backend, want 1", len(fake.jobs))
			}
			job := fake.jobs[0]
			ro, err := o.resolved()
			if err != nil {
				t.Fatal(err)
			}
			p, err := newPlan(h, ro)
			if err != nil {
				t.Fatal(err)
			}
			grid := newSchemeGrid(out, in, groupIndex(p.perm, ro), ro)
			want := newSweep(w, out, in, p, grid, ro)
			if !slices.Equal(job.W, want.w) {
				t.Error("weights differ from the CPU sweep's")
			}
			row := make([]float32, in)
			for q := range in {
				p.u.row(row[q:], q, q)
				if !slices.Equal(job.U[q*in+q:(q+1)*in], row[q:]) {
					t.Fatalf("row %d of U differs", q)
				}
			}
			if job.Out != out || job.In != in || job.BlockSize != min(ro.BlockSize, in) || job.Scheme != o.Scheme ||
				job.DynamicGroups != want.dynamic || job.GroupSize != want.gs {
				t.Errorf("job [%d×%d] blocks %d, %+v, dynamic %v groups of %d; want dynamic %v groups of %d",
					job.Out, job.In, job.BlockSize, job.Scheme, job.DynamicGroups, job.GroupSize, want.dynamic, want.gs)
			}
			if !want.dynamic && !slices.Equal(job.Scale, grid.t.Scale) {
				t.Error("the parameters fitted before the sweep are not the CPU sweep's")
			}
			for j, c := range p.perm {
				if job.Group[j] != grid.t.GIdx[c] {
					t.Fatalf("column %d (channel %d) in group %d, want %d", j, c, job.Group[j], grid.t.GIdx[c])
				}
				for r := range out {
					if got := res.Tensor.Q[r*in+c]; got != uint8(j%16) {
						t.Fatalf("code [%d, %d] = %d, want the device's %d", r, c, got, j%16)
					}
				}
			}
			if res.Loss != fakeLoss {
				t.Errorf("loss %v, want the device's %v", res.Loss, fakeLoss)
			}
		})
	}
	q4 := func() Grid {
		g, err := gguf.NewRounder(gguf.TypeQ4_0, out, in)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	for _, tc := range []struct {
		why  string
		opts func() Options // fresh for each run: a grid holds its result
	}{
		{"clip search", func() Options { return Options{Scheme: scheme4(64), Clip: &quant.ClipSearch{}} }},
		{"blocks of 256", func() Options { return Options{Scheme: scheme4(64), BlockSize: 256} }},
		{"block grids", func() Options { return Options{Grid: q4()} }},
	} {
		t.Run(tc.why, func(t *testing.T) {
			fake := &fakeSweeper{Backend: compute.CPU}
			var log strings.Builder
			o := tc.opts()
			o.Backend = fake
			o.Log = func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
			res, err := Quantize(w, out, in, h, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(fake.jobs) != 0 {
				t.Error("swept on the backend")
			}
			if !strings.Contains(log.String(), "column sweep on the CPU: ") || !strings.Contains(log.String(), tc.why) {
				t.Errorf("log %q does not say the sweep stays on the CPU because of %s", log.String(), tc.why)
			}
			cpu, err := Quantize(w, out, in, h, tc.opts())
			if err != nil {
				t.Fatal(err)
			}
			if res.Loss != cpu.Loss {
				t.Errorf("loss %v, on the CPU backend %v", res.Loss, cpu.Loss)
			}
		})
	}
}
