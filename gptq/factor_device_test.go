package gptq

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/quant"
)

// fakeFactorizer is a fakeSweeper that factorizes "on its device": it
// reads the CPU's Gram through Matrix and makes U as the host path does,
// recording every call.
type fakeFactorizer struct {
	fakeSweeper
	refuse   int // InverseFactor calls to answer "not positive definite" first
	calls    []factorCall
	released int
}

type factorCall struct {
	perm []int
	add  float64
}

// fakeFactor is U [n×n] in float32, zero below the diagonal.
type fakeFactor struct {
	u     []float32
	owner *fakeFactorizer
}

func (f *fakeFactor) N() int   { return int(math.Sqrt(float64(len(f.u)))) }
func (f *fakeFactor) Release() { f.owner.released++ }

func (f *fakeFactorizer) HoldsGram(g compute.Gram) bool { return g != nil }

func (f *fakeFactorizer) GramDiagonal(g compute.Gram) ([]float64, bool, error) {
	m, err := g.Matrix()
	if err != nil {
		return nil, false, err
	}
	h := hessianOf(m, int(math.Sqrt(float64(len(m)))))
	diag := make([]float64, h.in)
	for c := range diag {
		diag[c] = h.at(c, c)
	}
	return diag, h.finite(), nil
}

func (f *fakeFactorizer) InverseFactor(g compute.Gram, perm []int, add float64) (compute.Factor, bool, error) {
	f.calls = append(f.calls, factorCall{slices.Clone(perm), add})
	if f.refuse > 0 {
		f.refuse--
		return nil, false, nil
	}
	diag, _, err := f.GramDiagonal(g)
	if err != nil {
		return nil, false, err
	}
	for c, d := range diag {
		if d == 0 {
			diag[c] = 1
		}
	}
	m, _ := g.Matrix()
	n := len(perm)
	u := invFactor{n: n, m: make([]float64, n*n)}
	if ok, err := u.factorize(compute.CPU, hessianOf(m, n), perm, diag, add); !ok || err != nil {
		return nil, ok, err
	}
	return &fakeFactor{u: upperRows(u), owner: f}, true, nil
}

// upperRows returns U [n×n] of u in float32, zero below the diagonal.
func upperRows(u invFactor) []float32 {
	n := u.n
	rows := make([]float32, n*n)
	for p := range n {
		u.row(rows[p*n+p:(p+1)*n], p, p)
	}
	return rows
}

// TestFactorOnDevice: a backend that holds the Hessian's Gram and sweeps
// gets the factorization too, asked for as the host path makes it; H is
// never read to the host, the factor goes to the sweep, is made once per
// Hessian and released with it, and damping is raised as on the host.
func TestFactorOnDevice(t *testing.T) {
	const out, in = 20, 192
	for _, o := range []Options{
		{Scheme: scheme4(64)},
		{Scheme: scheme4(32), ActOrder: true},
		{Scheme: scheme4(-1), ActOrder: true, Damp: 0.05},
	} {
		t.Run(optName(o), func(t *testing.T) {
			w, x, h := calibrated(13, out, in, 300)
			fake := &fakeFactorizer{fakeSweeper: fakeSweeper{Backend: compute.CPU}}
			o.Backend = fake
			res, err := Quantize(w, out, in, h, o)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Quantize(w, out, in, h, o); err != nil {
				t.Fatal(err)
			}
			if h.h != nil {
				t.Error("H was read to the host")
			}
			if len(fake.calls) != 1 || len(fake.jobs) != 2 {
				t.Fatalf("%d factorizations and %d sweeps, want 1 and 2", len(fake.calls), len(fake.jobs))
			}
			if res.Loss != fakeLoss {
				t.Errorf("loss %v, want the device's %v", res.Loss, fakeLoss)
			}
			// The host's plan for the same options, from a copy of H.
			ro, err := Options{Scheme: o.Scheme, ActOrder: o.ActOrder, Damp: o.Damp}.resolved()
			if err != nil {
				t.Fatal(err)
			}
			onHost := hessianOf(h.full(), in)
			host, err := newPlan(onHost, ro)
			if err != nil {
				t.Fatal(err)
			}
			f, _ := onHost.factored(ro)
			mean := 0.0
			for _, d := range f.diag {
				mean += d / in
			}
			call := fake.calls[0]
			if !slices.Equal(call.perm, host.perm) || math.Abs(call.add-host.damp*mean) > 1e-12*call.add {
				t.Errorf("asked for perm %v… + %v, the host's is %v… + %v", call.perm[:4], call.add, host.perm[:4], host.damp*mean)
			}
			for _, job := range fake.jobs {
				if job.U != nil || job.Factor == nil || !slices.Equal(job.Factor.(*fakeFactor).u, upperRows(host.u)) {
					t.Fatal("the sweep did not get the device factor, equal to the host's")
				}
			}
			if fake.released != 0 {
				t.Error("factor released while the Hessian is current")
			}
			h.Add(x[:in], 1)
			if fake.released != 1 {
				t.Errorf("factor released %d times by Add, want 1", fake.released)
			}
		})
	}
	t.Run("damping raised", func(t *testing.T) {
		w, _, h := calibrated(14, out, in, 300)
		fake := &fakeFactorizer{fakeSweeper: fakeSweeper{Backend: compute.CPU}, refuse: 2}
		var log strings.Builder
		o := Options{Scheme: scheme4(64), Backend: fake, Log: func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }}
		res, err := Quantize(w, out, in, h, o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Damp != 1 || len(fake.calls) != 3 || !strings.Contains(log.String(), "damp raised to 0.1") || !strings.Contains(log.String(), "damp raised to 1") {
			t.Errorf("damp %v after %d tries, log %q; want 1 after 3, each raise noted", res.Damp, len(fake.calls), log.String())
		}
		for i := 1; i < len(fake.calls); i++ {
			if r := fake.calls[i].add / fake.calls[i-1].add; math.Abs(r-10) > 1e-9 {
				t.Errorf("try %d adds %v times the one before, want 10", i, r)
			}
		}
		h.Release()
		if fake.released != 1 {
			t.Errorf("factor released %d times by Release, want 1", fake.released)
		}
	})
	t.Run("clip search on the host", func(t *testing.T) {
		w, _, h := calibrated(15, out, in, 300)
		fake := &fakeFactorizer{fakeSweeper: fakeSweeper{Backend: compute.CPU}}
		o := Options{Scheme: scheme4(64), Backend: fake, Clip: &quant.ClipSearch{}}
		if _, err := Quantize(w, out, in, h, o); err != nil {
			t.Fatal(err)
		}
		if len(fake.calls) != 0 || len(fake.jobs) != 0 {
			t.Errorf("%d factorizations and %d sweeps on the device, want none", len(fake.calls), len(fake.jobs))
		}
	})
	t.Run("non-finite hessian", func(t *testing.T) {
		w, x, _ := calibrated(16, out, in, 300)
		h := NewHessian(in)
		x[5] = float32(math.Inf(1))
		h.Add(x, 300)
		fake := &fakeFactorizer{fakeSweeper: fakeSweeper{Backend: compute.CPU}}
		_, err := Quantize(w, out, in, h, Options{Scheme: scheme4(64), Backend: fake})
		if err == nil || !strings.Contains(err.Error(), "non-finite") || len(fake.calls) != 0 {
			t.Errorf("error %v after %d factorizations, want non-finite entries before any", err, len(fake.calls))
		}
	})
}
