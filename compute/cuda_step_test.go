package compute

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHalfLinear: the float16 product equals the float32 product of the
// rounded weight, and the unrounded one within float16's rounding, for
// row counts below, at and past one launch's.
func TestHalfLinear(t *testing.T) {
	r := resident(t)
	rng := rand.New(rand.NewPCG(6, 6))
	const out, in = 77, 136
	w := randn(rng, out*in)
	rounded := make([]float32, len(w))
	for i, v := range w {
		rounded[i] = fromHalf(toHalf(v))
	}
	half, err := r.(HalfLinears).NewHalfLinear(w, out, in)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Release()
	for _, rows := range []int{1, 3, 8, 13} {
		x := randn(rng, rows*in)
		got, exact, near := make([]float32, rows*out), make([]float32, rows*out), make([]float32, rows*out)
		half.MatMul(got, x, rows)
		if err := half.Err(); err != nil {
			t.Fatal(err)
		}
		CPU.MatMulT(exact, x, w, rows, out, in)
		CPU.MatMulT(near, x, rounded, rows, out, in)
		if e := relErr(got, near); !(e <= 1e-5) {
			t.Errorf("%d rows: %g off the product of the rounded weight", rows, e)
		}
		if e := relErr(got, exact); !(e <= 2e-3) {
			t.Errorf("%d rows: %g off the float32 product", rows, e)
		} else {
			t.Logf("%d rows: %.2g off the float32 product", rows, e)
		}
	}
}

// TestDecodeStepMatchesForward runs decode steps, launched, recorded and
// replayed, against the layers' Forward and the head's product at the
// same positions; a cache longer than 64 positions splits the attention's
// keys. The step runs the layers' own kernels: it matches exactly.
func TestDecodeStepMatchesForward(t *testing.T) {
	r := resident(t)
	t.Run("half", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 7))
		hl := r.(HalfLinears)
		checkDecodeStep(t, r, rng, func(out, in int) Linear {
			l, err := hl.NewHalfLinear(randn(rng, out*in), out, in)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(l.Release)
			return l
		})
	})
	t.Run("int4", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		checkDecodeStep(t, r, rng, func(out, in int) Linear {
			l, err := r.NewQuantLinear(randQuant(rng, out, in, 4, 32, false))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(l.Release)
			return l
		})
	})
}

// checkDecodeStep is TestDecodeStepMatchesForward over layers of linears
// made by linear.
func checkDecodeStep(t *testing.T, r Resident, rng *rand.Rand, linear func(out, in int) Linear) {
	s := LayerShape{Hidden: 64, Heads: 4, KVHeads: 2, HeadDim: 16, FFN: 96, NormEps: 1e-5}
	for i := range s.HeadDim / 2 {
		s.InvFreq = append(s.InvFreq, float32(math.Pow(10000, -2*float64(i)/float64(s.HeadDim))))
	}
	// 70 tokens of prompt: the new key falls in the last of the 5 splits
	// of the attention, not in the first, which writes it to the cache.
	const layers, vocab, prompt, maxLen = 2, 40, 70, 300
	tensor := func(n int) Tensor {
		x, err := r.NewTensor(n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(x.Release)
		return x
	}
	norm := func() []float32 {
		v := randn(rng, s.Hidden)
		for i := range v {
			v[i] = 1 + v[i]/4
		}
		return v
	}
	var lys []ResidentLayer
	for range layers {
		ly, err := r.NewLayer(s, ResidentWeights{
			QKV: linear(s.qkvRows(), s.Hidden), O: linear(s.Hidden, s.qDim()),
			GateUp: linear(2*s.FFN, s.Hidden), Down: linear(s.Hidden, s.FFN),
			InputNorm: norm(), PostNorm: norm(),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ly.Release)
		lys = append(lys, ly)
	}
	head, err := r.(HalfLinears).NewHalfLinear(randn(rng, vocab*s.Hidden), vocab, s.Hidden)
	if err != nil {
		t.Fatal(err)
	}
	defer head.Release()
	// Two sequences fed the same tokens: one through the step, one
	// through Forward.
	type sequence struct {
		x, logits Tensor
		kv        []Tensor
	}
	var seqs [2]sequence
	for i := range seqs {
		seqs[i] = sequence{x: tensor(prompt * s.Hidden), logits: tensor(vocab)}
		for range layers {
			seqs[i].kv = append(seqs[i].kv, tensor(maxLen*2*s.kvDim()))
		}
	}
	step, err := r.(StepRecorder).NewDecodeStep(DecodeStep{X: seqs[0].x, Logits: seqs[0].logits, Layers: lys, KV: seqs[0].kv, MaxLen: maxLen, Head: head})
	if err != nil {
		t.Fatal(err)
	}
	defer step.Release()
	forward := func(sq sequence, n, start int) {
		for l, ly := range lys {
			if err := ly.Forward(sq.x, 1, n, start, sq.kv[l], maxLen, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	embedded := randn(rng, prompt*s.Hidden)
	for _, sq := range seqs {
		if err := sq.x.Upload(embedded); err != nil {
			t.Fatal(err)
		}
		forward(sq, prompt, 0)
	}
	for pos := prompt; pos < prompt+8; pos++ {
		if pos == prompt+4 {
			// A buffer freed drops the graph: the step runs launched,
			// then is recorded again.
			tensor(1).Release()
		}
		token := randn(rng, s.Hidden)
		got := [2][]float32{make([]float32, s.Hidden), make([]float32, vocab)} // hidden row, logits
		if err := step.Run(pos, token, got[0], got[1]); err != nil {
			t.Fatal(err)
		}
		sq := seqs[1]
		if err := sq.x.Upload(token); err != nil {
			t.Fatal(err)
		}
		forward(sq, 1, pos)
		if err := r.MatMulLinear(head, sq.logits, sq.x, 1); err != nil {
			t.Fatal(err)
		}
		want := [2][]float32{make([]float32, s.Hidden), make([]float32, vocab)}
		if err := sq.x.Download(want[0]); err != nil {
			t.Fatal(err)
		}
		if err := sq.logits.Download(want[1]); err != nil {
			t.Fatal(err)
		}
		for k, what := range []string{"hidden row", "logits"} {
			if !slices.Equal(got[k], want[k]) {
				t.Errorf("position %d: the step's %s differ from Forward's by %g", pos, what, relErr(got[k], want[k]))
			}
		}
	}
	if !step.(*gpuStep).recorded {
		t.Error("the step was not recorded as a graph")
	}
	hidden, logits := make([]float32, s.Hidden), make([]float32, vocab)
	if err := step.Run(maxLen, hidden, hidden, logits); err == nil {
		t.Error("a step past the cache accepted")
	}
	if err := step.Run(0, hidden[1:], hidden, logits); err == nil {
		t.Error("a short embedding accepted")
	}
}
