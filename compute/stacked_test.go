package compute

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestStackedLinear checks a linear held from blocks of rows against
// NewLinear of their concatenation: the same products bit for bit, and
// errors for blocks that do not make the shape.
func TestStackedLinear(t *testing.T) {
	g := resident(t).(*gpu)
	rng := rand.New(rand.NewPCG(23, 24))
	const in, rows = 48, 5
	parts := [][]float32{randn(rng, 7*in), randn(rng, 3*in), randn(rng, 3*in)}
	const out = 13
	stacked, err := g.NewStackedLinear(parts, out, in)
	if err != nil {
		t.Fatal(err)
	}
	defer stacked.Release()
	joined, err := g.NewLinear(slices.Concat(parts...), out, in)
	if err != nil {
		t.Fatal(err)
	}
	defer joined.Release()
	x := randn(rng, rows*in)
	got, want := make([]float32, rows*out), make([]float32, rows*out)
	stacked.MatMul(got, x, rows)
	joined.MatMul(want, x, rows)
	if err := stacked.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("output %d: stacked %v, joined %v", i, got[i], want[i])
		}
	}
	for _, bad := range []struct {
		parts   [][]float32
		out, in int
	}{
		{parts, out + 1, in},
		{[][]float32{make([]float32, in+1)}, 1, in},
		{nil, 0, in},
	} {
		if l, err := g.NewStackedLinear(bad.parts, bad.out, bad.in); err == nil {
			l.Release()
			t.Errorf("no error for blocks of %d values as [%d×%d]", len(slices.Concat(bad.parts...)), bad.out, bad.in)
		}
	}
}
