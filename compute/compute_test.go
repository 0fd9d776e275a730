package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func randn(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// backends returns the CPU and, where one is usable, the first GPU.
func backends(t *testing.T) []Backend {
	t.Helper()
	bs := []Backend{CPU}
	g, err := OpenCUDA(0)
	if err != nil {
		t.Logf("no GPU backend: %v", err)
		return bs
	}
	t.Cleanup(g.Close)
	return append(bs, g)
}

// relErr is ‖got-want‖/‖want‖.
func relErr[T float32 | float64](got, want []T) float64 {
	var d, w float64
	for i := range want {
		d += (float64(got[i]) - float64(want[i])) * (float64(got[i]) - float64(want[i]))
		w += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d / w)
}

func TestProducts(t *testing.T) {
	for _, be := range backends(t) {
		for _, sh := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {64, 130, 33}, {257, 96, 512}} {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", be.Name(), sh.m, sh.n, sh.k), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(sh.m), uint64(sh.n)))
				a, b := randn(rng, sh.m*sh.k), randn(rng, sh.n*sh.k)
				want := make([]float32, sh.m*sh.n)
				for i := range sh.m {
					for j := range sh.n {
						var s float64
						for t := range sh.k {
							s += float64(a[i*sh.k+t]) * float64(b[j*sh.k+t])
						}
						want[i*sh.n+j] = float32(s)
					}
				}
				got := make([]float32, sh.m*sh.n)
				if err := be.MatMulT(got, a, b, sh.m, sh.n, sh.k); err != nil {
					t.Fatal(err)
				}
				if e := relErr(got, want); !(e < 1e-5) {
					t.Errorf("MatMulT: relative error %g", e)
				}
				// b as [k×n]: the transpose of the [n×k] above.
				bt := make([]float32, sh.k*sh.n)
				for j := range sh.n {
					for t := range sh.k {
						bt[t*sh.n+j] = b[j*sh.k+t]
					}
				}
				got = make([]float32, sh.m*sh.n)
				if err := be.MatMul(got, a, bt, sh.m, sh.n, sh.k); err != nil {
					t.Fatal(err)
				}
				if e := relErr(got, want); !(e < 1e-5) {
					t.Errorf("MatMul: relative error %g", e)
				}
				l, err := be.NewLinear(b, sh.n, sh.k)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Release()
				got = make([]float32, sh.m*sh.n)
				l.MatMul(got, a, sh.m)
				if err := l.Err(); err != nil {
					t.Fatal(err)
				}
				if e := relErr(got, want); !(e < 1e-5) {
					t.Errorf("Linear: relative error %g", e)
				}
			})
		}
	}
}

func TestGram(t *testing.T) {
	for _, be := range backends(t) {
		const n = 300 // more than one of the CPU's row chunks
		t.Run(be.Name(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			g, err := be.NewGram(n)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Release()
			want := make([]float64, n*n)
			for _, rows := range []int{7, 1, 40} {
				x := randn(rng, rows*n)
				keep, scale := 0.75, 0.5
				for i := range want {
					want[i] *= keep
				}
				for r := range rows {
					for i := range n {
						for j := range n {
							want[i*n+j] += scale * float64(x[r*n+i]) * float64(x[r*n+j])
						}
					}
				}
				if err := g.Add(x, rows, keep, scale); err != nil {
					t.Fatal(err)
				}
			}
			h, err := g.Matrix()
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				for j := i; j < n; j++ {
					if w := want[i*n+j]; math.Abs(h[i*n+j]-w) > 1e-5*(1+math.Abs(w)) {
						t.Fatalf("H[%d][%d] = %v, want %v", i, j, h[i*n+j], w)
					}
				}
			}
		})
	}
}

func TestCholeskyInverse(t *testing.T) {
	for _, be := range backends(t) {
		for _, n := range []int{1, 5, 130} {
			t.Run(fmt.Sprintf("%s/%d", be.Name(), n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 3))
				k := n + 3
				x := make([]float64, n*k)
				for i := range x {
					x[i] = rng.NormFloat64()
				}
				a := make([]float64, n*n)
				for i := range n {
					for j := range n {
						for t := range k {
							a[i*n+j] += x[i*k+t] * x[j*k+t]
						}
					}
				}
				m := append([]float64(nil), a...)
				ok, err := be.CholeskyInverse(m, n)
				if err != nil || !ok {
					t.Fatalf("CholeskyInverse: %v, %v", ok, err)
				}
				// m = L⁻¹, so mᵀm = A⁻¹ and mᵀm·A = I; m is lower triangular.
				for i := range n {
					for j := i + 1; j < n; j++ {
						if m[i*n+j] != 0 {
							t.Fatalf("L⁻¹[%d][%d] = %v above the diagonal", i, j, m[i*n+j])
						}
					}
				}
				inv := make([]float64, n*n)
				for i := range n {
					for j := range n {
						for t := range n {
							inv[i*n+j] += m[t*n+i] * m[t*n+j]
						}
					}
				}
				for i := range n {
					for j := range n {
						var s float64
						for t := range n {
							s += inv[i*n+t] * a[t*n+j]
						}
						if want := float64(boolInt(i == j)); math.Abs(s-want) > 1e-8 {
							t.Fatalf("(A⁻¹A)[%d][%d] = %v", i, j, s)
						}
					}
				}
				notPD := []float64{1, 2, 2, 1}
				if ok, err := be.CholeskyInverse(notPD, 2); ok || err != nil {
					t.Errorf("indefinite matrix: %v, %v; want false, nil", ok, err)
				}
			})
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestOpen(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"gpu", "want auto, cpu"},
		{"cuda:x", "cuda:N"},
		{"cuda:-1", "cuda:N"},
		{"cuda:99", "device cuda:99"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			if _, _, err := Open(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	b, _, err := Open("cpu")
	if err != nil || b.Name() != "cpu" {
		t.Errorf("cpu: %v, %v", b, err)
	}
	b, note, err := Open("auto")
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	defer b.Close()
	if (b.Name() == "cpu") != (note != "") {
		t.Errorf("auto chose %s with note %q: the note must say why exactly when the CPU is used", b.Name(), note)
	}
}
