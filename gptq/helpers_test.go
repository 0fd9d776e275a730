package gptq

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qtk-dev/qtk/quant"
)

// newRand returns a deterministic generator for a test.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// randn returns n standard normal float32 values.
func randn(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// hessianOf returns a Hessian holding the symmetric matrix h [n×n] as if
// it had been accumulated from one calibration row.
func hessianOf(h []float64, n int) *Hessian {
	return &Hessian{in: n, n: 1, h: append([]float64(nil), h...)}
}

// correlatedInputs returns rows calibration inputs [rows×in] with a strong
// low-rank component (rank 8), uneven channel scales and a little noise,
// like the activations entering an LLM's linear layers.
func correlatedInputs(rng *rand.Rand, rows, in int) []float32 {
	const rank = 8
	basis := randn(rng, rank*in)
	scale := make([]float32, in)
	for c := range scale {
		scale[c] = float32(math.Exp(rng.NormFloat64()))
	}
	x := make([]float32, rows*in)
	for r := range rows {
		z := randn(rng, rank)
		for c := range in {
			v := 0.2 * float32(rng.NormFloat64())
			for k, zk := range z {
				v += zk * basis[k*in+c]
			}
			x[r*in+c] = v * scale[c]
		}
	}
	return x
}

// rtn is round-to-nearest with min-max group parameters, no error
// feedback, groups taken in the order of channel permutation perm (nil:
// the identity), the result mapped back to the original order.
func rtn(w []float32, out, in int, s quant.Scheme, perm []int) *quant.Tensor {
	if perm == nil {
		perm = make([]int, in)
		for c := range perm {
			perm[c] = c
		}
	}
	gs := s.GroupSize
	if gs <= 0 {
		gs = in
	}
	groups := in / gs
	t := &quant.Tensor{
		Out: out, In: in, Scheme: s,
		Q:     make([]uint8, out*in),
		Scale: make([]float32, out*groups),
		Zero:  make([]uint8, out*groups),
		GIdx:  make([]int32, in),
	}
	for j, c := range perm {
		t.GIdx[c] = int32(j / gs)
	}
	row := make([]float32, in)
	for r := range out {
		for j, c := range perm {
			row[j] = w[r*in+c]
		}
		for g := range groups {
			scale, zero := s.Params(row[g*gs : (g+1)*gs])
			t.Scale[r*groups+g], t.Zero[r*groups+g] = scale, zero
			for j := g * gs; j < (g+1)*gs; j++ {
				t.Q[r*in+perm[j]] = quant.Quantize(row[j], scale, zero, s.MaxQ())
			}
		}
	}
	return t
}

// outputError returns ‖(W-Ŵ)·Xᵀ‖², the squared change of the layer's
// outputs on the inputs x [rows×in].
func outputError(w, wq []float32, out, in int, x []float32, rows int) float64 {
	sum := 0.0
	d := make([]float64, in)
	for o := range out {
		for c := range in {
			d[c] = float64(w[o*in+c]) - float64(wq[o*in+c])
		}
		for r := range rows {
			y := 0.0
			for c, v := range x[r*in : (r+1)*in] {
				y += d[c] * float64(v)
			}
			sum += y * y
		}
	}
	return sum
}

// checkTensor checks that t is a well-formed tensor of the given shape.
func checkTensor(t *testing.T, q *quant.Tensor, out, in int, s quant.Scheme) {
	t.Helper()
	if err := q.Validate(); err != nil {
		t.Fatalf("invalid tensor: %v", err)
	}
	groups := s.Groups(in)
	if q.Out != out || q.In != in || q.Scheme != s {
		t.Fatalf("tensor header %d×%d %+v, want %d×%d %+v", q.Out, q.In, q.Scheme, out, in, s)
	}
	if len(q.Q) != out*in || len(q.Scale) != out*groups || len(q.Zero) != out*groups || len(q.GIdx) != in {
		t.Fatalf("tensor lengths Q %d, Scale %d, Zero %d, GIdx %d", len(q.Q), len(q.Scale), len(q.Zero), len(q.GIdx))
	}
	for i, v := range q.Q {
		if int(v) > s.MaxQ() {
			t.Fatalf("Q[%d] = %d above %d", i, v, s.MaxQ())
		}
	}
	count := make([]int, groups)
	for c, g := range q.GIdx {
		if g < 0 || int(g) >= groups {
			t.Fatalf("GIdx[%d] = %d out of %d groups", c, g, groups)
		}
		count[g]++
	}
	for g, n := range count {
		if n != in/groups {
			t.Fatalf("group %d has %d channels, want %d", g, n, in/groups)
		}
	}
	for i, v := range q.Scale {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			t.Fatalf("Scale[%d] = %v", i, v)
		}
	}
	for i, v := range q.Dequantize() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("dequantized[%d] = %v", i, v)
		}
	}
}
