package gptq

import (
	"fmt"
	"testing"

	"github.com/qtk-dev/qtk/compute"
)

// benchShapes are linear layers of the test models (1024×384, 384×1024)
// and of a 7B model's attention (4096×4096, skipped with -short).
var benchShapes = []struct{ out, in int }{{1024, 384}, {384, 1024}, {4096, 4096}}

// benchHessian returns a Hessian from 2048 correlated calibration rows.
func benchHessian(b *testing.B, in int) *Hessian {
	b.Helper()
	x := correlatedInputs(newRand(1), 2048, in)
	h := NewHessian(in)
	h.Add(x, 2048)
	if err := h.load(); err != nil {
		b.Fatal(err)
	}
	return h
}

func BenchmarkQuantize(b *testing.B) {
	for _, sh := range benchShapes {
		for _, o := range []Options{{Scheme: scheme4(128)}, {Scheme: scheme4(128), ActOrder: true}} {
			b.Run(fmt.Sprintf("%dx%d/%s", sh.out, sh.in, optName(o)), func(b *testing.B) {
				if testing.Short() && sh.out*sh.in > 1<<21 {
					b.Skip("large shape skipped in short mode")
				}
				w := randn(newRand(2), sh.out*sh.in)
				h := benchHessian(b, sh.in)
				for b.Loop() {
					if _, err := Quantize(w, sh.out, sh.in, h, o); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkFactor times the damped factorization alone: Cholesky and
// triangular inverse, n³·2/3 flops.
func BenchmarkFactor(b *testing.B) {
	for _, n := range []int{384, 1024, 4096} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			if testing.Short() && n > 2048 {
				b.Skip("large shape skipped in short mode")
			}
			h := benchHessian(b, n)
			perm := processingOrder(make([]float64, n), false)
			diag := make([]float64, n)
			for c := range diag {
				diag[c] = h.at(c, c)
			}
			u := invFactor{n: n, m: make([]float64, n*n)}
			for b.Loop() {
				if ok, err := u.factorize(compute.CPU, h, perm, diag, 0.01); !ok || err != nil {
					b.Fatal("factorize failed")
				}
			}
			b.ReportMetric(2*float64(n)*float64(n)*float64(n)/3*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkHessianAdd times one batch of 2048 calibration rows.
func BenchmarkHessianAdd(b *testing.B) {
	for _, in := range []int{384, 1024, 4096} {
		b.Run(fmt.Sprint(in), func(b *testing.B) {
			if testing.Short() && in > 2048 {
				b.Skip("large shape skipped in short mode")
			}
			const rows = 2048
			x := randn(newRand(3), rows*in)
			h := NewHessian(in)
			for b.Loop() {
				h.Add(x, rows)
			}
			b.ReportMetric(float64(rows)*float64(in)*float64(in)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSweep times the sweep of one Llama-2-7B weight matrix (out×in:
// attention 4096×4096, gate and up 11008×4096, down 4096×11008) with the
// reference recipe (4-bit, group 128, asymmetric, no act-order), from
// the plan (the factor of H) to the codes: all on the CPU ("cpu"); where
// there is a GPU, the column loop on the CPU and the lazy updates on the
// GPU ("cpu+cublas"), and all on the GPU ("gpu"). Skipped with -short.
func BenchmarkSweep(b *testing.B) {
	if testing.Short() {
		b.Skip("7B shapes skipped in short mode")
	}
	type variant struct {
		name    string
		be      compute.Backend
		cpuLoop bool // the column loop stays on the CPU
	}
	variants := []variant{{"cpu", compute.CPU, true}}
	if g, err := compute.OpenCUDA(0); err == nil {
		defer g.Close()
		variants = append(variants, variant{"cpu+cublas", g, true}, variant{"gpu", g, false})
	}
	// The factor comes from the last backend, through the host, where
	// every variant reads it; it is not timed.
	factorOn := variants[len(variants)-1].be
	if sw, ok := factorOn.(compute.Sweeper); ok {
		factorOn = hostFactoring{factorOn, sw}
	}
	for _, sh := range []struct{ out, in int }{{4096, 4096}, {11008, 4096}, {4096, 11008}} {
		w := randn(newRand(4), sh.out*sh.in)
		x := correlatedInputs(newRand(5), 256, sh.in)
		h := NewHessianOn(factorOn, sh.in)
		h.Add(x, 256)
		o, err := Options{Scheme: scheme4(128), Backend: factorOn}.resolved()
		if err != nil {
			b.Fatal(err)
		}
		if err := checkInputs(w, sh.out, sh.in, h, o); err != nil {
			b.Fatal(err)
		}
		p, err := newPlan(h, o)
		if err != nil {
			b.Fatal(err)
		}
		h.Release()
		for _, v := range variants {
			b.Run(fmt.Sprintf("%s/%dx%d", v.name, sh.out, sh.in), func(b *testing.B) {
				o.Backend = v.be
				sweepOnce := func() {
					grid := newSchemeGrid(sh.out, sh.in, groupIndex(p.perm, o), o)
					s := newSweep(w, sh.out, sh.in, p, grid, o)
					run := s.run
					if v.cpuLoop {
						run = s.runCPU
					}
					if _, err := run(); err != nil {
						b.Fatal(err)
					}
				}
				if v.be != compute.CPU {
					sweepOnce() // the device's libraries start on first use
				}
				for b.Loop() {
					sweepOnce()
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/matrix")
			})
		}
	}
}

// BenchmarkFactorOnGPU times the factorization of a Hessian accumulated
// on the GPU, of Llama-2-7B's input widths (4096, and 11008 for
// down_proj), from H to the U the sweep reads: on the device ("device"),
// and with H read to the host, gathered there and U made from the
// downloaded inverse ("host", U's float32 copy and upload not included).
// Skipped without a GPU and with -short.
func BenchmarkFactorOnGPU(b *testing.B) {
	if testing.Short() {
		b.Skip("7B shapes skipped in short mode")
	}
	gpu := openGPU(b)
	for _, in := range []int{4096, 11008} {
		h := NewHessianOn(gpu, in)
		h.Add(correlatedInputs(newRand(6), 256, in), 256)
		for _, v := range []struct {
			name string
			be   compute.Backend
		}{{"device", gpu}, {"host", hostFactoring{gpu, gpu.(compute.Sweeper)}}} {
			b.Run(fmt.Sprintf("%s/%d", v.name, in), func(b *testing.B) {
				o, err := Options{Scheme: scheme4(128), Backend: v.be}.resolved()
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					h.stale()
					if _, err := h.factored(o); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/factor")
			})
		}
		h.Release()
	}
}
