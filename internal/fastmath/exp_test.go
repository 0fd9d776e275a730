package fastmath

import (
	"math"
	"testing"
)

func TestExpRelativeError(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x < 88.7; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(Exp(x))
		rel := math.Abs(got-want) / want
		if rel > worst {
			worst = rel
		}
	}
	if worst > 3e-7 {
		t.Fatalf("worst relative error %g, want below 3e-7", worst)
	}
}

func TestExpEdges(t *testing.T) {
	tests := []struct {
		x    float32
		want float32
	}{
		{0, 1},
		{-100, 0},
		{float32(math.Inf(-1)), 0},
		{100, float32(math.Inf(1))},
		{float32(math.Inf(1)), float32(math.Inf(1))},
	}
	for _, tt := range tests {
		if got := Exp(tt.x); got != tt.want {
			t.Errorf("Exp(%v) = %v, want %v", tt.x, got, tt.want)
		}
	}
	if got := Exp(float32(math.NaN())); got == got {
		t.Errorf("Exp(NaN) = %v, want NaN", got)
	}
	if got := Exp(88.7); math.IsInf(float64(got), 0) || got < 3e38 {
		t.Errorf("Exp(88.7) = %v, want finite near 3.3e38", got)
	}
}

func TestLogSumExp(t *testing.T) {
	x := make([]float32, 32000)
	for i := range x {
		x[i] = float32(math.Sin(float64(i))*10 - 3)
	}
	var want float64
	for _, v := range x {
		want += math.Exp(float64(v))
	}
	want = math.Log(want)
	if got := LogSumExp(x); math.Abs(got-want) > 1e-6 {
		t.Fatalf("LogSumExp = %.9f, want %.9f", got, want)
	}
	if got := LogSumExp(nil); !math.IsInf(got, -1) {
		t.Fatalf("LogSumExp(nil) = %v, want -Inf", got)
	}
}

func BenchmarkExp(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200) * -0.1
	}
	b.SetBytes(int64(4 * len(x)))
	var sink float32
	for b.Loop() {
		for _, v := range x {
			sink += Exp(v)
		}
	}
	_ = sink
}

func TestExpShifted(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 64, 1001} {
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(math.Sin(float64(i)*1.7))*50 - 30 // includes values below -87 after the shift
		}
		const shift = 20
		dst := make([]float32, n)
		got := ExpShifted(dst, src, shift)
		var want float64
		for i, v := range src {
			e := math.Exp(float64(v - shift))
			want += e
			if tol := 3e-7*e + 2e-38; math.Abs(float64(dst[i])-e) > tol {
				t.Fatalf("n %d: exp(%g) = %g, want %g", n, v-shift, dst[i], e)
			}
		}
		if math.Abs(float64(got)-want) > 1e-5*want+1e-37 {
			t.Fatalf("n %d: sum %g, want %g", n, got, want)
		}
	}
}

func BenchmarkExpShifted(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200) * -0.1
	}
	dst := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		ExpShifted(dst, x, 0)
	}
}
