package gptq

import (
	"math"
	"testing"

	"github.com/qtk-dev/qtk/compute"
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
	if ok, err := u.factorize(compute.CPU, hessianOf(h, n), perm, diag, add); !ok || err != nil {
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
