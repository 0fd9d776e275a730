package linalg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// randomSPD returns a random symmetric positive definite n×n matrix with
// condition number in the thousands.
func randomSPD(seed uint64, n int) []float64 {
	rng := newRand(seed)
	k := n + 3
	a := make([]float64, n*k)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	h := make([]float64, n*n)
	for i := range n {
		for j := range n {
			s := 0.0
			for t := range k {
				s += a[i*k+t] * a[j*k+t]
			}
			h[i*n+j] = s
		}
		h[i*n+i] += 1e-2 * float64(n)
	}
	return h
}

func TestCholeskyAndInverse(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 63, 64, 65, 130, 257} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := randomSPD(uint64(n), n)
			l := append([]float64(nil), h...)
			if !Cholesky(l, n) {
				t.Fatal("cholesky failed on a positive definite matrix")
			}
			for i := range n {
				for j := range n {
					if j > i && l[i*n+j] != 0 {
						t.Fatalf("L[%d][%d] = %v above the diagonal", i, j, l[i*n+j])
					}
					s := 0.0
					for k := range n {
						s += l[i*n+k] * l[j*n+k]
					}
					if d := math.Abs(s - h[i*n+j]); d > 1e-10*math.Sqrt(h[i*n+i]*h[j*n+j]) {
						t.Fatalf("(L·Lᵀ)[%d][%d] = %v, want %v", i, j, s, h[i*n+j])
					}
				}
			}
			m := append([]float64(nil), l...)
			InvertLower(m, n)
			for i := range n {
				for j := range n {
					if j > i && m[i*n+j] != 0 {
						t.Fatalf("L⁻¹[%d][%d] = %v above the diagonal", i, j, m[i*n+j])
					}
					s := 0.0
					for k := range n {
						s += m[i*n+k] * l[k*n+j]
					}
					want := 0.0
					if i == j {
						want = 1
					}
					if math.Abs(s-want) > 1e-9 {
						t.Fatalf("(L⁻¹·L)[%d][%d] = %v, want %v", i, j, s, want)
					}
				}
			}
		})
	}
}

func TestCholeskyRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    []float64
	}{
		{"negative pivot", []float64{1, 2, 2, 1}},
		{"zero", []float64{0, 0, 0, 0}},
		{"NaN", []float64{1, 0, 0, math.NaN()}},
		{"singular", []float64{1, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if Cholesky(append([]float64(nil), tc.h...), 2) {
				t.Error("cholesky succeeded")
			}
		})
	}
}
