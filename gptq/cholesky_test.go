package gptq

import (
	"fmt"
	"math"
	"testing"
)

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
			if !cholesky(l, n) {
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
			invertLower(m, n)
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
			if cholesky(append([]float64(nil), tc.h...), 2) {
				t.Error("cholesky succeeded")
			}
		})
	}
}

// TestInvFactor checks U against its definition: upper triangular and
// UᵀU·Hp = I, Hp being the damped H in processing order.
func TestInvFactor(t *testing.T) {
	const n = 100
	h := randomSPD(7, n)
	perm := newRand(8).Perm(n)
	diag := make([]float64, n)
	for c := range diag {
		diag[c] = h[c*n+c]
	}
	const add = 0.5
	u := invFactor{n: n, m: make([]float64, n*n)}
	if !u.factorize(hessianOf(h, n), perm, diag, add) {
		t.Fatal("factorize failed")
	}
	up := make([]float64, n*n)
	row := make([]float32, n)
	for p := range n {
		u.row(row[:n-p], p, p)
		for k, v := range row[:n-p] {
			up[p*n+p+k] = float64(v)
		}
	}
	for i := range n {
		for j := range n {
			// (UᵀU·Hp)[i][j] = Σ_k (UᵀU)[i][k]·Hp[k][j]
			s := 0.0
			for k := range n {
				uu := 0.0
				for t := range min(i, k) + 1 {
					uu += up[t*n+i] * up[t*n+k]
				}
				hp := h[perm[k]*n+perm[j]]
				if k == j {
					hp += add
				}
				s += uu * hp
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-4 { // U is rounded to float32
				t.Fatalf("(UᵀU·H)[%d][%d] = %v, want %v", i, j, s, want)
			}
		}
	}
}
