package compute

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkLinear times one calibration window (512 tokens) through a
// Llama-2-7B up_proj [11008×4096] on each backend, reporting the host
// traffic rate: the activations in and the products out.
func BenchmarkLinear(b *testing.B) {
	const rows, out, in = 512, 11008, 4096
	rng := rand.New(rand.NewPCG(1, 1))
	w, x := randn(rng, out*in), randn(rng, rows*in)
	dst := make([]float32, rows*out)
	bs := []Backend{CPU}
	if g, err := OpenCUDA(0); err == nil {
		defer g.Close()
		bs = append(bs, g)
	}
	for _, be := range bs {
		b.Run(be.Name(), func(b *testing.B) {
			l, err := be.NewLinear(w, out, in)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Release()
			for b.Loop() {
				l.MatMul(dst, x, rows)
			}
			if err := l.Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(4*rows*(in+out))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
