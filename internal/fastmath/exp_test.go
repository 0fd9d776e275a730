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
