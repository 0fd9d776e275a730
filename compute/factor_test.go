package compute

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// hostInverseFactor is what Factorizer.InverseFactor makes, the way gptq
// makes it on the host: H gathered in reversed processing order and
// damped, L⁻¹ by be.CholeskyInverse, U its reversal in float32.
func hostInverseFactor(t *testing.T, be Backend, h []float64, n int, perm []int, add float64) []float32 {
	t.Helper()
	at := func(i, j int) float64 { return h[min(i, j)*n+max(i, j)] }
	m := make([]float64, n*n)
	for r := range n {
		c := perm[n-1-r]
		for s := range r {
			m[r*n+s] = at(c, perm[n-1-s])
		}
		d := at(c, c)
		if d == 0 {
			d = 1
		}
		m[r*n+r] = d + add
	}
	if ok, err := be.CholeskyInverse(m, n); !ok || err != nil {
		t.Fatalf("%s: CholeskyInverse: %v, %v", be.Name(), ok, err)
	}
	u := make([]float32, n*n)
	for p := range n {
		for q := p; q < n; q++ {
			u[p*n+q] = float32(m[(n-1-p)*n+n-1-q])
		}
	}
	return u
}

// TestInverseFactorOnGPU: the device's factor of a device Gram is the
// factor gptq makes on the host, from the same H, within float32
// rounding (exactly so against the host path through the same cuSOLVER).
func TestInverseFactorOnGPU(t *testing.T) {
	be, err := OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	g := be.(*gpu)
	for _, n := range []int{1, 7, 130, 515} {
		rng := rand.New(rand.NewPCG(uint64(n), 9))
		rows := n + 9
		x := randn(rng, rows*n)
		if n > 3 {
			for r := range rows {
				x[r*n+2] = 0 // a dead input
			}
		}
		gr, err := g.NewGram(n)
		if err != nil {
			t.Fatal(err)
		}
		defer gr.Release()
		if err := gr.Add(x, rows, 0, 2/float64(rows)); err != nil {
			t.Fatal(err)
		}
		h, err := gr.Matrix()
		if err != nil {
			t.Fatal(err)
		}
		diag, finite, err := g.GramDiagonal(gr)
		if err != nil || !finite {
			t.Fatalf("n %d: GramDiagonal: finite %v, %v", n, finite, err)
		}
		mean := 0.0
		for c, d := range diag {
			if d != h[c*n+c] {
				t.Fatalf("n %d: diagonal %d is %v, want %v", n, c, d, h[c*n+c])
			}
			mean += d / float64(n)
		}
		perm := rng.Perm(n)
		add := 0.01 * mean
		f, ok, err := g.InverseFactor(gr, perm, add)
		if err != nil || !ok {
			t.Fatalf("n %d: InverseFactor: %v, %v", n, ok, err)
		}
		got := make([]float32, n*n)
		if err := g.dev.Do(func(c *cuda.Ctx) error { return download(g, c, got, f.(*gpuFactor).u.buf) }); err != nil {
			t.Fatal(err)
		}
		f.Release()
		viaHost := hostInverseFactor(t, g, h, n, perm, add)
		onCPU := hostInverseFactor(t, CPU, h, n, perm, add)
		scale, differing := 0.0, 0
		for i, v := range onCPU {
			scale = max(scale, math.Abs(float64(v)))
			if got[i] != viaHost[i] {
				differing++
			}
		}
		t.Logf("n %d: %d entries differ from the host path through cuSOLVER", n, differing)
		for i, v := range onCPU {
			if p, q := i/n, i%n; q < p && got[i] != 0 {
				t.Fatalf("n %d: U[%d][%d] = %v below the diagonal", n, p, q, got[i])
			}
			if math.Abs(float64(got[i]-v)) > 1e-5*scale || math.Abs(float64(got[i]-viaHost[i])) > 1e-5*scale {
				t.Fatalf("n %d: U[%d][%d] = %v, on the host %v (CPU), %v (cuSOLVER)", n, i/n, i%n, got[i], v, viaHost[i])
			}
		}
		// Far too little damping for an H made singular: refused.
		if f, ok, err := g.InverseFactor(gr, perm, -2*mean*float64(n)); ok || err != nil || f != nil {
			t.Errorf("n %d: indefinite: %v, %v, %v; want nil, false, nil", n, f, ok, err)
		}
	}
}

// TestFactorizerRefuses: a Gram that is not the GPU's own, a bad
// permutation and a non-finite H.
func TestFactorizerRefuses(t *testing.T) {
	be, err := OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	g := be.(*gpu)
	cpuGram, err := CPU.NewGram(4)
	if err != nil {
		t.Fatal(err)
	}
	if g.HoldsGram(cpuGram) {
		t.Error("the GPU claims the CPU's Gram")
	}
	if _, _, err := g.InverseFactor(cpuGram, []int{0, 1, 2, 3}, 1); err == nil {
		t.Error("factor of the CPU's Gram")
	}
	gr, err := g.NewGram(4)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Release()
	if !g.HoldsGram(gr) {
		t.Error("the GPU disowns its Gram")
	}
	if _, _, err := g.InverseFactor(gr, []int{0, 1, 4, 3}, 1); err == nil || !strings.Contains(err.Error(), "permutation") {
		t.Errorf("permutation out of range: %v", err)
	}
	x := []float32{1, 2, 3, float32(math.Inf(1))}
	if err := gr.Add(x, 1, 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, finite, err := g.GramDiagonal(gr); finite || err != nil {
		t.Errorf("infinite input: finite %v, %v", finite, err)
	}
}
