package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// BenchmarkDecodeStep times one decode token through layers of
// Llama-2-7B's shape with 4-bit weights (group 128, each layer its own
// copy, so that they come from memory) and a float16 head of 32000 rows:
// launched from the host kernel by kernel (launch), and as a recorded
// step (step; step-nopdl without programmatic dependent launch;
// step/plain with the weights in the plain 4-bit layout instead of the
// tensor cores', step/plain/<layout> with every product in that GEMV
// layout instead of the one by shape). Each token starts with the host writing
// the embedding and ends with it reading the hidden row and the logits, as
// a decode does. It reports the milliseconds per token and the bytes read
// per second (weights and the KV cache up to the position) against the
// device-to-device copy bandwidth.
func BenchmarkDecodeStep(b *testing.B) {
	r := resident(b)
	g := r.(*gpu)
	const layers, vocab, maxLen, pos = 4, 32000, 256, 192
	s := LayerShape{Hidden: 4096, Heads: 32, KVHeads: 32, HeadDim: 128, FFN: 11008, NormEps: 1e-5}
	for i := range s.HeadDim / 2 {
		s.InvFreq = append(s.InvFreq, float32(math.Pow(10000, -2*float64(i)/float64(s.HeadDim))))
	}
	rng := rand.New(rand.NewPCG(8, 8))
	shapes := [4]struct{ out, in int }{{s.qkvRows(), s.Hidden}, {s.Hidden, s.qDim()}, {2 * s.FFN, s.Hidden}, {s.Hidden, s.FFN}}
	var weights [4]QuantWeight
	bytes := 0
	for i, sh := range shapes {
		weights[i] = randQuant(rng, sh.out, sh.in, 4, 128, false)
		bytes += layers * (sh.out*sh.in/2 + sh.out*sh.in/128*8)
	}
	norm := make([]float32, s.Hidden)
	for i := range norm {
		norm[i] = 1
	}
	// newLayers builds the layers with their weights held by newLinear.
	newLayers := func(newLinear func(QuantWeight) (Linear, error)) []ResidentLayer {
		var lys []ResidentLayer
		for range layers {
			var ls [4]Linear
			for i := range ls {
				l, err := newLinear(weights[i])
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(l.Release)
				ls[i] = l
			}
			ly, err := r.NewLayer(s, ResidentWeights{QKV: ls[0], O: ls[1], GateUp: ls[2], Down: ls[3], InputNorm: norm, PostNorm: norm})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(ly.Release)
			lys = append(lys, ly)
		}
		return lys
	}
	lys := newLayers(r.NewQuantLinear)
	plain := newLayers(func(q QuantWeight) (Linear, error) { return newPlainQuantLinear(g, q) })
	head, err := r.(HalfLinears).NewHalfLinear(randn(rng, vocab*s.Hidden), vocab, s.Hidden)
	if err != nil {
		b.Fatal(err)
	}
	defer head.Release()
	bytes += 2*vocab*s.Hidden + layers*(pos+1)*2*s.kvDim()*4
	tensor := func(n int) Tensor {
		t, err := r.NewTensor(n)
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	x, logits := tensor(s.Hidden), tensor(vocab)
	defer x.Release()
	defer logits.Release()
	var kv []Tensor
	for range layers {
		t := tensor(maxLen * 2 * s.kvDim())
		defer t.Release()
		kv = append(kv, t)
	}
	copyRate, err := copyBandwidth(g, 1<<30, 20)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("device-to-device copy: %.0f GB/s (bytes read + written); %.0f MB read per token", copyRate/1e9, float64(bytes)/1e6)
	embedding, hidden, out := randn(rng, s.Hidden), make([]float32, s.Hidden), make([]float32, vocab)
	report := func(b *testing.B) {
		perToken := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(perToken*1e3, "ms/token")
		b.ReportMetric(float64(bytes)/perToken/1e9, "GB/s")
		b.ReportMetric(float64(bytes)/perToken/copyRate, "of-copy-bw")
	}
	b.Run("launch", func(b *testing.B) {
		for b.Loop() {
			if err := x.Upload(embedding); err != nil {
				b.Fatal(err)
			}
			for l, ly := range lys {
				if err := ly.Forward(x, 1, 1, pos, kv[l], maxLen, nil); err != nil {
					b.Fatal(err)
				}
			}
			if err := r.MatMulLinear(head, logits, x, 1); err != nil {
				b.Fatal(err)
			}
			if err := x.Download(hidden); err != nil {
				b.Fatal(err)
			}
			if err := logits.Download(out); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	// step runs the recorded step, launched with programmatic dependent
	// launch or not, its products in the named GEMV layout ("": by shape).
	step := func(pdl bool, lys []ResidentLayer, layout string) func(b *testing.B) {
		return func(b *testing.B) {
			defer setPDL(g, setPDL(g, pdl))
			defer setInt4Decode(b, g, setInt4Decode(b, g, layout))
			st, err := r.(StepRecorder).NewDecodeStep(DecodeStep{X: x, Logits: logits, Layers: lys, KV: kv, MaxLen: maxLen, Head: head})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Release()
			for b.Loop() {
				if err := st.Run(pos, embedding, hidden, out); err != nil {
					b.Fatal(err)
				}
			}
			if !st.(*gpuStep).recorded {
				b.Error("the step was not recorded as a graph")
			}
			report(b)
		}
	}
	b.Logf("programmatic dependent launch: %v", pdlOn(g))
	b.Run("step", step(true, lys, ""))
	b.Run("step-nopdl", step(false, lys, ""))
	b.Run("step/plain", step(true, plain, ""))
	for _, layout := range cuda.Int4GEMVVariants {
		b.Run("step/plain/"+layout, step(true, plain, layout))
	}
}

// newPlainQuantLinear holds q in the plain 4-bit layout even where the
// tensor-core one takes it, for benchmarks comparing the two.
func newPlainQuantLinear(g *gpu, q QuantWeight) (Linear, error) {
	p, ok := packInt4(&q)
	if !ok {
		return nil, fmt.Errorf("the 4-bit kernels do not take [%d×%d]", q.Out, q.In)
	}
	l := &gpuQuantLinear{g: g, w: cuda.Int4{Out: q.Out, In: q.In, Groups: q.Groups(), GroupLen: p.groupLen}}
	if err := l.hold(p); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// setInt4Decode makes the device's one-row 4-bit products run the named
// GEMV layout ("": the layout by shape) and returns the setting before.
func setInt4Decode(b *testing.B, g *gpu, layout string) (was string) {
	err := g.dev.Do(func(c *cuda.Ctx) error {
		var err error
		was, err = c.SetInt4Decode(layout)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return was
}
