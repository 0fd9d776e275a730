package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// shape is a product C[m×n] = A[m×k]·B.
type shape struct{ m, n, k int }

func (s shape) String() string { return fmt.Sprintf("m=%d,n=%d,k=%d", s.m, s.n, s.k) }

var testShapes = []shape{
	{1, 1, 1},
	{1, 1, 7},
	{1, 35, 13},         // dot tails in rows and k
	{1, 130, 64},        // row-major GEMV column tails
	{1, 1000, 384},      // GEMV over several threads
	{1, 3000, 1024},     // GEMV, k > kcMax
	{2, 3, 5},           // everything smaller than a tile
	{3, 16, 1},          // k = 1
	{6, 16, 8},          // exactly one tile
	{7, 33, 31},         // one past the tile in m and n
	{5, 17, 9},          // tails in every dimension
	{13, 50, 300},       // k split into two blocks
	{16, 100, 257},      // small m, k just past kcMax
	{12, 48, 1030},      // small m, k past kcSmallM
	{64, 64, 64},        // smallest parallel product
	{100, 200, 1024},    // several k blocks
	{150, 40, 520},      // m past mcMax, few columns: rows split
	{33, 7, 385},        // n below one panel
	{200, 2100, 32},     // n past ncMax
	{512, 1024, 384},    // the calibration shape
	{20, 32000 / 8, 64}, // a slice of a vocabulary projection
}

func randMatrix(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

func transpose(b []float32, rows, cols int) []float32 {
	t := make([]float32, len(b))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			t[j*rows+i] = b[i*cols+j]
		}
	}
	return t
}

// reference returns A·Bᵀ for B[n×k] summed in float64, and for each element
// the sum of the magnitudes of its terms, which bounds the rounding error.
func reference(a, b []float32, s shape) (want, mag []float64) {
	want = make([]float64, s.m*s.n)
	mag = make([]float64, s.m*s.n)
	for i := 0; i < s.m; i++ {
		for j := 0; j < s.n; j++ {
			var sum, abs float64
			for p := 0; p < s.k; p++ {
				t := float64(a[i*s.k+p]) * float64(b[j*s.k+p])
				sum += t
				abs += math.Abs(t)
			}
			want[i*s.n+j], mag[i*s.n+j] = sum, abs
		}
	}
	return want, mag
}

// guard is how many elements past m*n each output slice has; they must stay
// untouched.
const guard = 17

// check compares got with the reference. Float32 sums in a different order
// differ by about sqrt(k) roundings of the magnitude of their terms.
func check(t *testing.T, what string, got []float32, want, mag []float64, s shape) {
	t.Helper()
	tol := 1e-6 * math.Sqrt(float64(s.k))
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= tol*mag[i]+1e-30) {
			t.Fatalf("%s: C[%d][%d] = %g, want %g (|Δ| = %g > %g)", what, i/s.n, i%s.n, got[i], w, d, tol*mag[i])
		}
	}
	for i, v := range got[len(want):] {
		if v != 42 {
			t.Fatalf("%s: wrote past C: element m*n+%d = %g", what, i, v)
		}
	}
}

// output returns a C full of NaN, which a product must overwrite, followed by
// the guard.
func output(s shape) []float32 {
	c := make([]float32, s.m*s.n+guard)
	for i := range c {
		c[i] = float32(math.NaN())
		if i >= s.m*s.n {
			c[i] = 42
		}
	}
	return c
}

// withKernels runs f once for every implementation this CPU supports.
func withKernels(t *testing.T, f func(t *testing.T, ks *kernels)) {
	for _, ks := range allKernels() {
		t.Run(ks.name, func(t *testing.T) {
			saved := active
			active = ks
			defer func() { active = saved }()
			f(t, ks)
		})
	}
}

func TestProducts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range testShapes {
		a := randMatrix(r, s.m*s.k)
		b := randMatrix(r, s.n*s.k)
		bt := transpose(b, s.n, s.k)
		want, mag := reference(a, b, s)
		t.Run(s.String(), func(t *testing.T) {
			withKernels(t, func(t *testing.T, ks *kernels) {
				c := output(s)
				MatMulT(c, a, b, s.m, s.n, s.k)
				check(t, "MatMulT", c, want, mag, s)

				c = output(s)
				MatMul(c, a, bt, s.m, s.n, s.k)
				check(t, "MatMul", c, want, mag, s)

				p := PackT(b, s.n, s.k)
				if p.Rows() != s.n || p.Cols() != s.k {
					t.Fatalf("Packed dims = %d×%d, want %d×%d", p.Rows(), p.Cols(), s.n, s.k)
				}
				c = output(s)
				p.MatMul(c, a, s.m)
				check(t, "Packed.MatMul", c, want, mag, s)
			})
		})
	}
}

// TestThreadCounts splits products over thread counts other than this
// machine's, including ones that do not divide the work evenly, and checks
// that the split does not change a single bit of the result.
func TestThreadCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range []shape{{1, 999, 300}, {9, 500, 70}, {40, 70, 129}, {97, 300, 64}} {
		a := randMatrix(r, s.m*s.k)
		b := randMatrix(r, s.n*s.k)
		want, mag := reference(a, b, s)
		t.Run(s.String(), func(t *testing.T) {
			withKernels(t, func(t *testing.T, ks *kernels) {
				p := PackT(b, s.n, s.k)
				products := map[string]func(c []float32){
					"MatMulT": func(c []float32) { MatMulT(c, a, b, s.m, s.n, s.k) },
					"Packed":  func(c []float32) { p.MatMul(c, a, s.m) },
				}
				for name, mul := range products {
					var first []float32
					for _, procs := range []int{1, 2, 3, 5} {
						c := output(s)
						old := runtime.GOMAXPROCS(procs)
						mul(c)
						runtime.GOMAXPROCS(old)
						check(t, name, c, want, mag, s)
						if first == nil {
							first = c
						} else if !slices.Equal(c, first) {
							t.Errorf("%s with GOMAXPROCS=%d differs from GOMAXPROCS=1", name, procs)
						}
					}
				}
			})
		})
	}
}

func TestEmpty(t *testing.T) {
	for _, s := range []shape{{0, 5, 3}, {4, 0, 3}, {4, 5, 0}, {1, 5, 0}} {
		t.Run(s.String(), func(t *testing.T) {
			a, b := make([]float32, s.m*s.k), make([]float32, s.n*s.k)
			want, mag := make([]float64, s.m*s.n), make([]float64, s.m*s.n)
			for name, mul := range map[string]func(c []float32){
				"MatMulT": func(c []float32) { MatMulT(c, a, b, s.m, s.n, s.k) },
				"MatMul":  func(c []float32) { MatMul(c, a, b, s.m, s.n, s.k) },
				"Packed":  func(c []float32) { PackT(b, s.n, s.k).MatMul(c, a, s.m) },
			} {
				c := output(s)
				mul(c)
				check(t, name, c, want, mag, s)
			}
		})
	}
}

func TestPanicsOnShortSlices(t *testing.T) {
	const m, n, k = 3, 4, 5
	ok := func() (c, a, b []float32) {
		return make([]float32, m*n), make([]float32, m*k), make([]float32, n*k)
	}
	tests := []struct {
		name string
		f    func()
	}{
		{"MatMulT short c", func() { c, a, b := ok(); MatMulT(c[1:], a, b, m, n, k) }},
		{"MatMulT short a", func() { c, a, b := ok(); MatMulT(c, a[1:], b, m, n, k) }},
		{"MatMulT short b", func() { c, a, b := ok(); MatMulT(c, a, b[1:], m, n, k) }},
		{"MatMul short b", func() { c, a, b := ok(); MatMul(c, a, b[1:], m, n, k) }},
		{"MatMul negative", func() { c, a, b := ok(); MatMul(c, a, b, -1, n, k) }},
		{"PackT short b", func() { _, _, b := ok(); PackT(b[1:], n, k) }},
		{"Packed short a", func() { c, a, b := ok(); PackT(b, n, k).MatMul(c, a[1:], m) }},
		{"Packed short c", func() { c, a, b := ok(); PackT(b, n, k).MatMul(c[1:], a, m) }},
		{"Packed m=1 short c", func() { c, a, b := ok(); PackT(b, n, k).MatMul(c[:n-1], a, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f()
		})
	}
}
