package awq

import (
	"math"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/quant"
)

func TestCandidateScales(t *testing.T) {
	tests := []struct {
		name  string
		xMean []float32
		ratio float64
		want  []float32
	}{
		{"ratio 0 is no scaling", []float32{0.1, 2, 30}, 0, []float32{1, 1, 1}},
		{"ratio 1 normalized", []float32{1, 4}, 1, []float32{0.5, 2}},
		{"square root", []float32{1, 16, 4}, 0.5, []float32{0.5, 2, 1}},
		{"dead channel clamped to 1e-4", []float32{0, 1}, 0.5, []float32{0.01, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := candidateScales(tt.xMean, tt.ratio)
			for c := range got {
				if math.Abs(float64(got[c]-tt.want[c])) > 1e-6*float64(tt.want[c]) {
					t.Fatalf("scales %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestFakeQuant checks Q(W·s)/s against RTN: equal with unit scales, and
// with other scales equal to RTN of the scaled weights divided back.
func TestFakeQuant(t *testing.T) {
	rng := newRand(2)
	const out, in = 8, 64
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	scheme := quant.Scheme{Bits: 4, GroupSize: 32}
	rtn := func(w []float32) []float32 {
		q, err := quant.RTN(w, out, in, scheme, quant.RTNOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return q.Dequantize()
	}

	ones := slices.Repeat([]float32{1}, in)
	got, err := fakeQuant(w, out, in, ones, scheme)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, rtn(w)) {
		t.Error("with unit scales, fake quantization differs from RTN")
	}

	s := candidateScales(slices.Repeat([]float32{0.5, 3}, in/2), 1)
	got, err = fakeQuant(w, out, in, s, scheme)
	if err != nil {
		t.Fatal(err)
	}
	scaled := slices.Clone(w)
	for i := range scaled {
		scaled[i] *= s[i%in]
	}
	want := rtn(scaled)
	divideColumns(want, s)
	if !slices.Equal(got, want) {
		t.Error("fake quantization is not RTN of W·s divided by s")
	}

	w[5] = float32(math.NaN())
	if _, err := fakeQuant(w, out, in, ones, scheme); err == nil {
		t.Error("no error for a NaN weight")
	}
}
