package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// int4Weight is a random 4-bit weight in PackInt4's terms.
type int4Weight struct {
	n, k, groupLen int
	codes          []uint8
	scale, zero    []float32
	perm           []int32
}

func randInt4(r *rand.Rand, n, k, groupLen int, permuted bool) int4Weight {
	groups := (k + groupLen - 1) / groupLen
	w := int4Weight{n: n, k: k, groupLen: groupLen, codes: make([]uint8, n*k),
		scale: make([]float32, n*groups), zero: make([]float32, n*groups)}
	for i := range w.codes {
		w.codes[i] = uint8(r.IntN(16))
	}
	for i := range w.scale {
		w.scale[i] = 0.01 + 0.1*r.Float32()
		w.zero[i] = float32(r.IntN(16))
	}
	if permuted {
		w.perm = make([]int32, k)
		for j, c := range r.Perm(k) {
			w.perm[j] = int32(c)
		}
	}
	return w
}

// column is the column of A that column j of the codes multiplies.
func (w int4Weight) column(j int) int {
	if w.perm == nil {
		return j
	}
	return int(w.perm[j])
}

// dequantize returns B[n×k] in float32, each element rounded once as
// (code - zero)·scale.
func (w int4Weight) dequantize() []float32 {
	groups := (w.k + w.groupLen - 1) / w.groupLen
	b := make([]float32, w.n*w.k)
	for r := range w.n {
		for j := range w.k {
			c, g := w.column(j), r*groups+j/w.groupLen
			b[r*w.k+c] = float32(int(w.codes[r*w.k+c])-int(w.zero[g])) * w.scale[g]
		}
	}
	return b
}

type int4Case struct {
	m, n, k, groupLen int
	permuted          bool
}

func (c int4Case) String() string {
	return fmt.Sprintf("m=%d,n=%d,k=%d,g=%d,perm=%v", c.m, c.n, c.k, c.groupLen, c.permuted)
}

var int4Cases = []int4Case{
	{1, 1, 8, 8, false},      // one code
	{1, 16, 128, 128, false}, // one panel, one group
	{1, 17, 40, 16, true},    // a padded panel, a short last group
	{2, 100, 44, 32, true},   // k not a multiple of 8
	{3, 64, 256, 64, false},  // whole blocks of panels
	{4, 77, 96, 32, true},    // four rows, a panel past the blocks
	{5, 200, 384, 128, true}, // rows split 4+1
	{7, 33, 64, 8, false},    // 4+3, groups of one chunk
	{8, 1024, 384, 128, true},
	{1, 384, 1024, 128, true},
	{9, 50, 136, 32, true}, // the dequantized product from here
	{20, 70, 384, 128, false},
	{40, 130, 264, 64, true},
}

// TestInt4Products checks every implementation against the product with
// the dequantized weight summed in float64.
func TestInt4Products(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range int4Cases {
		w := randInt4(r, tc.n, tc.k, tc.groupLen, tc.permuted)
		s := shape{tc.m, tc.n, tc.k}
		a := randMatrix(r, s.m*s.k)
		want, mag := reference(a, w.dequantize(), s)
		t.Run(tc.String(), func(t *testing.T) {
			withKernels(t, func(t *testing.T, ks *kernels) {
				p := PackInt4(w.codes, w.scale, w.zero, w.perm, w.n, w.k, w.groupLen)
				if p.Rows() != s.n || p.Cols() != s.k {
					t.Fatalf("Int4 dims = %d×%d, want %d×%d", p.Rows(), p.Cols(), s.n, s.k)
				}
				c := output(s)
				p.MatMul(c, a, s.m)
				check(t, "Int4.MatMul", c, want, mag, s)
			})
		})
	}
}

// TestInt4Kernels: the assembly kernels sum as the portable ones do, up to
// the rounding of the multiply-adds the compiler does not fuse.
func TestInt4Kernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range int4Cases {
		if tc.m > int4MaxRows {
			continue
		}
		w := randInt4(r, tc.n, tc.k, tc.groupLen, tc.permuted)
		a := randMatrix(r, tc.m*tc.k)
		product := func(ks *kernels) []float32 {
			saved := active
			active = ks
			defer func() { active = saved }()
			c := make([]float32, tc.m*tc.n)
			PackInt4(w.codes, w.scale, w.zero, w.perm, w.n, w.k, w.groupLen).MatMul(c, a, tc.m)
			return c
		}
		want := product(&goKernels)
		_, mag := reference(a, w.dequantize(), shape{tc.m, tc.n, tc.k})
		for _, ks := range asmKernels() {
			t.Run(tc.String()+"/"+ks.name, func(t *testing.T) {
				got := product(ks)
				for i, v := range got {
					// One rounding per multiply-add apart, on sums
					// bounded by the magnitude of their terms.
					if d := math.Abs(float64(v - want[i])); d > 1e-7*float64(2*tc.k)*mag[i] {
						t.Fatalf("C[%d][%d] = %g, portable kernels %g", i/tc.n, i%tc.n, v, want[i])
					}
				}
			})
		}
	}
}

// TestInt4Dequantized: longer products equal those of PackT with the
// dequantized weight bit for bit, whatever the thread count.
func TestInt4Dequantized(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range int4Cases {
		if tc.m <= int4MaxRows {
			tc.m += int4MaxRows
		}
		w := randInt4(r, tc.n, tc.k, tc.groupLen, tc.permuted)
		a := randMatrix(r, tc.m*tc.k)
		t.Run(tc.String(), func(t *testing.T) {
			withKernels(t, func(t *testing.T, ks *kernels) {
				want := make([]float32, tc.m*tc.n)
				PackT(w.dequantize(), tc.n, tc.k).MatMul(want, a, tc.m)
				p := PackInt4(w.codes, w.scale, w.zero, w.perm, w.n, w.k, w.groupLen)
				for _, procs := range []int{1, 2, 3} {
					got := make([]float32, tc.m*tc.n)
					old := runtime.GOMAXPROCS(procs)
					p.MatMul(got, a, tc.m)
					runtime.GOMAXPROCS(old)
					if !slices.Equal(got, want) {
						t.Fatalf("GOMAXPROCS=%d: differs from PackT(dequantized).MatMul", procs)
					}
				}
			})
		})
	}
}

// TestInt4ThreadCounts: products from the codes do not depend on how the
// panels are split over threads.
func TestInt4ThreadCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	w := randInt4(r, 1000, 384, 128, true)
	p := PackInt4(w.codes, w.scale, w.zero, w.perm, w.n, w.k, w.groupLen)
	for _, m := range []int{1, 3, 8} {
		a := randMatrix(r, m*w.k)
		var first []float32
		for _, procs := range []int{1, 2, 3, 5} {
			c := make([]float32, m*w.n)
			old := runtime.GOMAXPROCS(procs)
			p.MatMul(c, a, m)
			runtime.GOMAXPROCS(old)
			if first == nil {
				first = c
			} else if !slices.Equal(c, first) {
				t.Errorf("m=%d: GOMAXPROCS=%d differs from GOMAXPROCS=1", m, procs)
			}
		}
	}
}

func TestPackInt4Panics(t *testing.T) {
	w := randInt4(rand.New(rand.NewPCG(1, 1)), 4, 32, 16, false)
	for name, f := range map[string]func(){
		"group not of whole words": func() { PackInt4(w.codes, w.scale, w.zero, nil, 4, 32, 12) },
		"short codes":              func() { PackInt4(w.codes[1:], w.scale, w.zero, nil, 4, 32, 16) },
		"short scales":             func() { PackInt4(w.codes, w.scale[1:], w.zero, nil, 4, 32, 16) },
		"short permutation":        func() { PackInt4(w.codes, w.scale, w.zero, make([]int32, 31), 4, 32, 16) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

// BenchmarkInt4 times products with a 4-bit weight against the float32
// packing of the same weight, in GMAC/s.
func BenchmarkInt4(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct{ m, n, k int }{{1, 1024, 384}, {2, 1024, 384}, {4, 1024, 384}, {8, 1024, 384}, {16, 1024, 384}, {65, 1024, 384}, {512, 1024, 384}} {
		w := randInt4(r, s.n, s.k, 128, true)
		q := PackInt4(w.codes, w.scale, w.zero, w.perm, s.n, s.k, 128)
		p := PackT(w.dequantize(), s.n, s.k)
		a, c := randMatrix(r, s.m*s.k), make([]float32, s.m*s.n)
		for name, mul := range map[string]func(){
			"int4":    func() { q.MatMul(c, a, s.m) },
			"float32": func() { p.MatMul(c, a, s.m) },
		} {
			b.Run(fmt.Sprintf("%s/%s", benchName(s.m, s.k, s.n), name), func(b *testing.B) {
				for b.Loop() {
					mul()
				}
				b.ReportMetric(float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}
