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
