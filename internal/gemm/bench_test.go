package gemm

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

var kernelsFlag = flag.String("gemm.kernels", "", "benchmark these kernels (avx512, avx2 or go) instead of the fastest")

func TestMain(m *testing.M) {
	flag.Parse()
	if *kernelsFlag != "" {
		found := false
		for _, ks := range allKernels() {
			if ks.name == *kernelsFlag {
				active, found = ks, true
			}
		}
		if !found {
			fmt.Fprintf(os.Stderr, "gemm: kernels %q not available on this CPU\n", *kernelsFlag)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// benchShapes are the products the runtime and calibration spend their time
// in, as (m, k, n).
var benchShapes = []struct{ m, k, n int }{
	{512, 256, 256},
	{512, 384, 1024},
	{512, 1024, 384},
	{512, 384, 32000},
	{1024, 1024, 1024},
	{1, 384, 32000},
	{8, 384, 1024},
}

func benchName(m, k, n int) string { return fmt.Sprintf("m=%d,k=%d,n=%d", m, k, n) }

// benchMul times f, which computes one m×k·k×n product, in GFLOP/s.
func benchMul(b *testing.B, m, k, n int, f func()) {
	b.ReportAllocs()
	f() // warm the pools and the caches
	b.ResetTimer()
	for b.Loop() {
		f()
	}
	flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func benchOperands(m, k, n int) (c, a, b []float32) {
	r := rand.New(rand.NewPCG(5, 6))
	return make([]float32, m*n), randMatrix(r, m*k), randMatrix(r, n*k)
}

func BenchmarkMatMulT(b *testing.B) {
	for _, s := range benchShapes {
		c, x, w := benchOperands(s.m, s.k, s.n)
		b.Run(benchName(s.m, s.k, s.n), func(b *testing.B) {
			benchMul(b, s.m, s.k, s.n, func() { MatMulT(c, x, w, s.m, s.n, s.k) })
		})
	}
}

func BenchmarkPackedMatMul(b *testing.B) {
	for _, s := range benchShapes {
		c, x, w := benchOperands(s.m, s.k, s.n)
		p := PackT(w, s.n, s.k)
		b.Run(benchName(s.m, s.k, s.n), func(b *testing.B) {
			benchMul(b, s.m, s.k, s.n, func() { p.MatMul(c, x, s.m) })
		})
	}
}

func BenchmarkMatMul(b *testing.B) {
	for _, s := range benchShapes {
		c, x, w := benchOperands(s.m, s.k, s.n)
		b.Run(benchName(s.m, s.k, s.n), func(b *testing.B) {
			benchMul(b, s.m, s.k, s.n, func() { MatMul(c, x, w, s.m, s.n, s.k) })
		})
	}
}

// BenchmarkDotLoop is the baseline for m = 1: one plain dot product per
// weight row.
func BenchmarkDotLoop(b *testing.B) {
	const k, n = 384, 32000
	c, x, w := benchOperands(1, k, n)
	b.Run(benchName(1, k, n), func(b *testing.B) {
		benchMul(b, 1, k, n, func() {
			for j := range c {
				var s float32
				for p, v := range x {
					s += v * w[j*k+p]
				}
				c[j] = s
			}
		})
	})
}
