package compute

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/internal/cuda"
	"github.com/qtk-dev/qtk/quant"
)

// BenchmarkAWQLayer times the parts of AWQ on one Llama-2-7B-shaped
// layer on the device, with the reference's 128 windows of 512 tokens
// and TF32 searches (qtk quantize awq --tf32): the pass that captures the
// inputs, one grid point of each scale search (a search tries 20), the
// attention over one step of a pass (a pass makes four) by the layer's
// kernel and as TF32 products (the TF32 searches'), the clip losses of down_proj on 512 sampled tokens, and the fold and the
// rounding of the scaled linears. Random weights and inputs: only the
// times mean something. Run with -test.benchtime 3x.
func BenchmarkAWQLayer(b *testing.B) {
	g := resident(b).(*gpu)
	const windows, n, step = 128, 512, 128
	s := LayerShape{Hidden: 4096, Heads: 32, KVHeads: 32, HeadDim: 128, FFN: 11008, NormEps: 1e-5, InvFreq: make([]float32, 64)}
	for i := range s.InvFreq {
		s.InvFreq[i] = float32(1 / math.Pow(10000, float64(2*i)/128))
	}
	rng := rand.New(rand.NewPCG(21, 22))
	linear := func(out, in int) Linear {
		w := randn(rng, out*in)
		for i := range w {
			w[i] /= float32(math.Sqrt(float64(in)))
		}
		l, err := g.NewLinear(w, out, in)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(l.Release)
		return l
	}
	norm := slices.Repeat([]float32{1}, s.Hidden)
	w := ResidentWeights{
		QKV: linear(s.qkvRows(), s.Hidden), O: linear(s.Hidden, s.qDim()),
		GateUp: linear(2*s.FFN, s.Hidden), Down: linear(s.Hidden, s.FFN),
		InputNorm: norm, PostNorm: norm,
	}
	l, err := g.NewAWQLayer(s, w, true)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Release()
	al := l.(*gpuAWQLayer)
	// Scales of one grid point: random, within a factor e of 1.
	scales := func(input string) []float32 {
		sc := make([]float32, al.width(input))
		for c := range sc {
			sc[c] = float32(math.Exp(rng.Float64()*2 - 1))
		}
		return sc
	}
	x, err := g.NewTensor(windows * n * s.Hidden)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Release()
	if err := x.Upload(randn(rng, windows*n*s.Hidden)); err != nil {
		b.Fatal(err)
	}
	scheme := quant.Scheme{Bits: 4, GroupSize: 128}
	var captured AWQCapture
	b.Run("capture", func(b *testing.B) {
		for b.Loop() {
			if captured, err = l.Capture(x, windows, n, AWQCaptureOptions{Keep: []string{InputO, InputDown}, Step: step}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if captured.Tokens == 0 {
		b.Skip("nothing captured")
	}
	for _, input := range []string{InputQKV, InputO, InputGateUp, InputDown} {
		b.Run("scale grid point/"+input, func(b *testing.B) {
			sc := [][]float32{scales(input)}
			for b.Loop() {
				if _, err := l.ScaleLosses(input, sc, scheme); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("attention, one step", func(b *testing.B) {
		seqs := al.chunk()
		rows := seqs * n
		var bufs [3]*deviceMem // q, k, v; the output; the scores
		for i, floats := range []int{rows * s.qkvRows(), rows * s.qDim(), rows * n} {
			if bufs[i], err = alloc(g.dev, al, 4*floats); err != nil {
				b.Fatal(err)
			}
			defer bufs[i].free()
		}
		qkv, out, scores := bufs[0].buf, bufs[1].buf, bufs[2].buf
		if err := g.dev.Do(func(c *cuda.Ctx) error { return c.Zero(qkv, rows*s.qkvRows()) }); err != nil {
			b.Fatal(err)
		}
		at := cuda.Attention{
			Heads: s.Heads, KVHeads: s.KVHeads, HeadDim: s.HeadDim, Seqs: seqs, N: n, QStride: s.qkvRows(),
			KeySeqStride: n * s.qkvRows(), KeyPosStride: s.qkvRows(), ValueOffset: s.kvDim(), MaxKeys: n,
		}
		for _, kernel := range []struct {
			name string
			run  func(c *cuda.Ctx) error
		}{
			{"kernel", func(c *cuda.Ctx) error { return c.Attention(out, qkv, qkv.Offset(4*s.qDim()), at) }},
			{"tf32 products", func(c *cuda.Ctx) error {
				return c.WindowAttention(out, qkv, scores, seqs, n, s.Heads, s.KVHeads, s.HeadDim, true)
			}},
		} {
			b.Run(kernel.name, func(b *testing.B) {
				for b.Loop() {
					err := g.dev.Do(func(c *cuda.Ctx) error {
						if err := kernel.run(c); err != nil {
							return err
						}
						return c.Synchronize()
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
	b.Run("clip losses/down", func(b *testing.B) {
		sample := captured.Sample[InputDown]
		for b.Loop() {
			if _, err := l.ScaledClipLosses(InputDown, 0, s.Hidden, sample, len(sample)/s.FFN, scheme, 10, 20); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fold and round", func(b *testing.B) {
		for b.Loop() {
			for _, input := range []string{InputQKV, InputGateUp, InputDown} {
				if err := l.FoldScales(input, scales(input)); err != nil {
					b.Fatal(err)
				}
			}
			for _, p := range []struct {
				input string
				rows  int
			}{{InputQKV, s.qkvRows()}, {InputO, s.Hidden}, {InputGateUp, 2 * s.FFN}, {InputDown, s.Hidden}} {
				if _, err := l.RoundScaled(p.input, 0, p.rows, scheme); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
