package runtime

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/quant"
)

// randTensor returns a random 4-bit tensor in groups of 32, with act-order
// group indices.
func randTensor(rng *rand.Rand, out, in int) *quant.Tensor {
	t := &quant.Tensor{Out: out, In: in, Scheme: quant.Scheme{Bits: 4, GroupSize: 32}, Q: make([]uint8, out*in), GIdx: make([]int32, in)}
	groups := t.Scheme.Groups(in)
	for i, c := range rng.Perm(in) {
		t.GIdx[c] = int32(i / 32)
	}
	for i := range t.Q {
		t.Q[i] = uint8(rng.IntN(16))
	}
	t.Scale, t.Zero = make([]float32, out*groups), make([]uint8, out*groups)
	for i := range t.Scale {
		t.Scale[i] = float32(rng.NormFloat64())
		t.Zero[i] = uint8(rng.IntN(16))
	}
	return t
}

// TestQuantWeightDequantizesAsQuant: the backends' dequantization is
// quant's, bit for bit, so that the CPU's products do not change when a
// checkpoint's weights are held quantized.
func TestQuantWeightDequantizesAsQuant(t *testing.T) {
	q := randTensor(rand.New(rand.NewPCG(1, 2)), 7, 96)
	if got, want := quantWeight(q).Dequantize(), q.Dequantize(); !slices.Equal(got, want) {
		t.Error("compute.QuantWeight.Dequantize differs from quant.Tensor.Dequantize")
	}
}

func TestStackQuantized(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := randTensor(rng, 5, 64), randTensor(rng, 3, 64)
	b.GIdx = a.GIdx
	s, ok := stackQuantized([]projection{{q: quantWeight(a)}, {q: quantWeight(b)}})
	if !ok {
		t.Fatal("parts grouped alike were not stacked")
	}
	if want := append(a.Dequantize(), b.Dequantize()...); !slices.Equal(s.Dequantize(), want) {
		t.Error("the stacked weight is not the parts' rows one after the other")
	}
	for name, parts := range map[string][]projection{
		"other groups":  {{q: quantWeight(a)}, {q: quantWeight(randTensor(rng, 3, 64))}},
		"not quantized": {{q: quantWeight(a)}, {w: make([]float32, 3*64)}},
	} {
		if _, ok := stackQuantized(parts); ok {
			t.Errorf("%s: stacked", name)
		}
	}
	// A part without act-order groups its columns otherwise: float32.
	c := randTensor(rng, 2, 64)
	for i := range c.GIdx {
		c.GIdx[i] = int32(i / 32)
	}
	l, err := newFusedLinear(compute.CPU, []projection{{q: quantWeight(a)}, {q: quantWeight(c)}}, 7, 64)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 64)
	x[0] = 1
	got := make([]float32, 7)
	l.MatMul(got, x, 1)
	wa, wc := a.Dequantize(), c.Dequantize()
	for r := range 7 {
		want := wa[min(r, 4)*64]
		if r >= 5 {
			want = wc[(r-5)*64]
		}
		if got[r] != want {
			t.Fatalf("row %d: %v, want %v", r, got[r], want)
		}
	}
}
