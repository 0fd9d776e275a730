package compute

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkQuantLinearCPU times decode-sized products with small-llama's
// 4-bit projections (group 128, act-order) on the CPU, from the codes and,
// for comparison, with the float32 weight they dequantize to.
func BenchmarkQuantLinearCPU(b *testing.B) {
	for _, shape := range []struct{ out, in int }{{1024, 384}, {384, 1024}, {384, 384}} {
		rng := rand.New(rand.NewPCG(uint64(shape.out), uint64(shape.in)))
		q := randQuant(rng, shape.out, shape.in, 4, 128, true)
		int4, err := CPU.NewQuantLinear(q)
		if err != nil {
			b.Fatal(err)
		}
		f32, err := CPU.NewLinear(q.Dequantize(), q.Out, q.In)
		if err != nil {
			b.Fatal(err)
		}
		for _, rows := range []int{1, 4} {
			x := randn(rng, rows*q.In)
			dst := make([]float32, rows*q.Out)
			for name, l := range map[string]Linear{"int4": int4, "float32": f32} {
				b.Run(fmt.Sprintf("%dx%d/rows=%d/%s", q.Out, q.In, rows, name), func(b *testing.B) {
					for b.Loop() {
						l.MatMul(dst, x, rows)
					}
					b.ReportMetric(float64(rows*q.Out*q.In)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
				})
			}
		}
	}
}
