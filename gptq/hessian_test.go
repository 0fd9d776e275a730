package gptq

import (
	"math"
	"strings"
	"testing"
)

// full returns H [in×in] with both triangles.
func (h *Hessian) full() []float64 {
	if err := h.load(); err != nil {
		panic(err)
	}
	n := h.in
	f := make([]float64, n*n)
	for i := range n {
		for j := range n {
			f[i*n+j] = h.at(i, j)
		}
	}
	return f
}

func TestHessianAdd(t *testing.T) {
	// in = 300 spans two of Add's row chunks.
	for _, tc := range []struct {
		name    string
		in      int
		batches []int
	}{
		{"one batch", 5, []int{9}},
		{"uneven batches", 300, []int{7, 1, 20, 0, 3}},
		{"one row at a time", 4, []int{1, 1, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := newRand(1)
			h := NewHessian(tc.in)
			want := make([]float64, tc.in*tc.in)
			n := 0
			for _, rows := range tc.batches {
				x := randn(rng, rows*tc.in)
				for r := range rows {
					xr := x[r*tc.in : (r+1)*tc.in]
					for i, a := range xr {
						for j, b := range xr {
							want[i*tc.in+j] += float64(a) * float64(b)
						}
					}
				}
				n += rows
				h.Add(x, rows)
			}
			if h.Err() != nil || h.N() != n || h.In() != tc.in {
				t.Fatalf("Err %v, N %d, In %d; want nil, %d, %d", h.Err(), h.N(), h.In(), n, tc.in)
			}
			got := h.full()
			for i := range want {
				w := 2 * want[i] / float64(n)
				if math.Abs(got[i]-w) > 1e-5*(1+math.Abs(w)) {
					t.Fatalf("H[%d][%d] = %v, want 2/n Σ xxᵀ = %v", i/tc.in, i%tc.in, got[i], w)
				}
			}
		})
	}
}

func TestHessianErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    func() *Hessian
		want string
	}{
		{"zero channels", func() *Hessian { return NewHessian(0) }, "input channels"},
		{"too many channels", func() *Hessian { return NewHessian(MaxChannels + 1) }, "input channels"},
		{"short batch", func() *Hessian {
			h := NewHessian(4)
			h.Add(make([]float32, 7), 2)
			return h
		}, "7 values for 2 rows"},
		{"negative rows", func() *Hessian {
			h := NewHessian(4)
			h.Add(make([]float32, 4), -1)
			return h
		}, "-1 rows"},
		{"values without rows", func() *Hessian {
			h := NewHessian(4)
			h.Add(make([]float32, 4), 0)
			return h
		}, "0 rows"},
		{"error sticks", func() *Hessian {
			h := NewHessian(2)
			h.Add(make([]float32, 3), 1)
			h.Add(make([]float32, 2), 1)
			return h
		}, "3 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h()
			err := h.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Err() = %v, want one mentioning %q", err, tc.want)
			}
			if h.N() != 0 {
				t.Errorf("N() = %d after a failed Add", h.N())
			}
			_, qerr := Quantize(make([]float32, 2*max(h.In(), 1)), 2, max(h.In(), 1), h, Options{Scheme: scheme4(-1)})
			if qerr == nil {
				t.Error("Quantize accepted a failed Hessian")
			}
		})
	}
}
