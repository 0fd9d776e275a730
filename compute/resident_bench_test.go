package compute

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// BenchmarkResidentLayer times one Llama-2-7B decoder layer on the device
// over a calibration chunk (32 windows of 512 tokens; a GPTQ run makes
// four of them per pass over 128 windows), and its q, k, v projection with the attention alone.
func BenchmarkResidentLayer(b *testing.B) {
	r := resident(b)
	const seqs, n = 32, 512
	s := LayerShape{Hidden: 4096, Heads: 32, KVHeads: 32, HeadDim: 128, FFN: 11008, NormEps: 1e-5, InvFreq: make([]float32, 64)}
	for i := range s.InvFreq {
		s.InvFreq[i] = float32(1 / math.Pow(10000, float64(2*i)/128))
	}
	rng := rand.New(rand.NewPCG(6, 6))
	linear := func(out, in int) Linear {
		w := randn(rng, out*in)
		for i := range w {
			w[i] /= float32(math.Sqrt(float64(in)))
		}
		l, err := r.NewLinear(w, out, in)
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	norm := make([]float32, s.Hidden)
	for i := range norm {
		norm[i] = 1
	}
	ly, err := r.NewLayer(s, ResidentWeights{
		QKV: linear(3*4096, 4096), O: linear(4096, 4096), GateUp: linear(2*11008, 4096), Down: linear(4096, 11008),
		InputNorm: norm, PostNorm: norm,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer ly.Release()
	x, err := r.NewTensor(seqs * n * s.Hidden)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Release()
	if err := x.Upload(randn(rng, seqs*n*s.Hidden)); err != nil {
		b.Fatal(err)
	}
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			if err := ly.Forward(x, seqs, n, 0, nil, 0, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(seqs*n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	b.Run("qkv+attention", func(b *testing.B) {
		g := r.(*gpu)
		gl := ly.(*gpuLayer)
		for b.Loop() {
			err := g.dev.Do(func(c *cuda.Ctx) error {
				if err := g.layer.ensure(c, s, seqs*n); err != nil {
					return err
				}
				if err := gl.attention(c, &g.layer, seqs, n, cuda.Position{}, nil, 0); err != nil {
					return err
				}
				return c.Synchronize()
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(seqs*n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
}
