package quant

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Every expected scale below is a float16 value, so the quantizer keeps it
// as is and each q can be checked by hand: q = round(w/scale) + zero, ties
// to even, clamped to [0, maxq].
func TestRTNKnownValues(t *testing.T) {
	asym4 := Scheme{Bits: 4, GroupSize: 4}
	tests := []struct {
		name      string
		s         Scheme
		w         []float32 // one row
		wantScale []float32
		wantZero  []uint8
		wantQ     []uint8
	}{
		{
			// range 3.75 = 15 × 0.25; zero = round(1/0.25) = 4
			name: "asymmetric", s: asym4,
			w:         []float32{-1, 0, 0.5, 2.75},
			wantScale: []float32{0.25}, wantZero: []uint8{4},
			wantQ: []uint8{0, 4, 6, 15},
		},
		{
			// 0.125/0.25 = 0.5 rounds to 0, 0.375/0.25 = 1.5 rounds to 2
			name: "ties to even", s: asym4,
			w:         []float32{-0.5, 0.125, 0.375, 3.25},
			wantScale: []float32{0.25}, wantZero: []uint8{2},
			wantQ: []uint8{0, 2, 4, 15},
		},
		{
			// min-max gives scale 2.75/15 and zero round(-5.45) = -5: off
			// the grid, so zero 0 and the scale grows to 3.75/15 = 0.25
			name: "all positive", s: asym4,
			w:         []float32{1, 1.5, 2, 3.75},
			wantScale: []float32{0.25}, wantZero: []uint8{0},
			wantQ: []uint8{4, 6, 8, 15},
		},
		{
			// zero round(3.75/(2.75/15)) = 20 > 15: zero 15, scale 3.75/15
			name: "all negative", s: asym4,
			w:         []float32{-3.75, -2, -1.5, -1},
			wantScale: []float32{0.25}, wantZero: []uint8{15},
			wantQ: []uint8{0, 7, 9, 11},
		},
		{
			// zero round(0.05/(3.55/15)) = 0 < MinZero: zero 1, scale 3.5/14
			name: "minimum zero point", s: Scheme{Bits: 4, GroupSize: 4, MinZero: 1},
			w:         []float32{-0.05, 0, 1, 3.5},
			wantScale: []float32{0.25}, wantZero: []uint8{1},
			wantQ: []uint8{1, 1, 5, 15},
		},
		{
			// a zero point already above MinZero is left alone
			name: "minimum zero point unused", s: Scheme{Bits: 4, GroupSize: 4, MinZero: 1},
			w:         []float32{-1, 0, 0.5, 2.75},
			wantScale: []float32{0.25}, wantZero: []uint8{4},
			wantQ: []uint8{0, 4, 6, 15},
		},
		{
			// absmax 3.5 = 7 × 0.5 around zero 8; 0.25/0.5 = 0.5 rounds to 0
			name: "symmetric", s: Scheme{Bits: 4, GroupSize: 4, Symmetric: true},
			w:         []float32{-3.5, -1, 0.25, 2},
			wantScale: []float32{0.5}, wantZero: []uint8{8},
			wantQ: []uint8{1, 6, 8, 12},
		},
		{
			name: "two groups", s: asym4,
			w:         []float32{-1, 0, 0.5, 2.75, -3.5, -1, 0.25, 4},
			wantScale: []float32{0.25, 0.5}, wantZero: []uint8{4, 7},
			wantQ: []uint8{0, 4, 6, 15, 0, 5, 7, 15},
		},
		{
			name: "one group per row", s: Scheme{Bits: 4, GroupSize: -1},
			w:         []float32{-1, 0, 0.5, 2.75, 1, 1.25, 2, -0.75},
			wantScale: []float32{0.25}, wantZero: []uint8{4},
			wantQ: []uint8{0, 4, 6, 15, 8, 9, 12, 1},
		},
		{
			// range 63.75 = 255 × 0.25
			name: "8-bit", s: Scheme{Bits: 8, GroupSize: 4},
			w:         []float32{-1, 0, 0.5, 62.75},
			wantScale: []float32{0.25}, wantZero: []uint8{4},
			wantQ: []uint8{0, 4, 6, 255},
		},
		{
			// absmax 31.75 = 127 × 0.25 around zero 128
			name: "8-bit symmetric", s: Scheme{Bits: 8, GroupSize: 4, Symmetric: true},
			w:         []float32{-31.75, 0, 1, 10},
			wantScale: []float32{0.25}, wantZero: []uint8{128},
			wantQ: []uint8{1, 128, 132, 168},
		},
		{
			// 0.1/15 rounds to the float16 1748·2⁻¹⁸ = 0.0066680908203125
			name: "scale rounded to float16", s: asym4,
			w:         []float32{0, 0.025, 0.05, 0.1},
			wantScale: []float32{0.0066680908203125}, wantZero: []uint8{0},
			wantQ: []uint8{0, 4, 7, 15},
		},
		{
			// 0.1/15 rounds to the bfloat16 218·2⁻¹⁵ = 0.00665283203125
			name: "scale rounded to bfloat16", s: Scheme{Bits: 4, GroupSize: 4, BF16Scales: true},
			w:         []float32{0, 0.025, 0.05, 0.1},
			wantScale: []float32{0.00665283203125}, wantZero: []uint8{0},
			wantQ: []uint8{0, 4, 8, 15},
		},
		{
			// a constant group gets scale 1e-5/15, not zero: 11 float16
			// subnormal steps of 2⁻²⁴
			name: "constant group", s: asym4,
			w:         []float32{0, 0, 0, 0},
			wantScale: []float32{11 * 0x1p-24}, wantZero: []uint8{0},
			wantQ: []uint8{0, 0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RTN(tt.w, 1, len(tt.w), tt.s, RTNOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Scale, tt.wantScale) || !slices.Equal(got.Zero, tt.wantZero) || !slices.Equal(got.Q, tt.wantQ) {
				t.Errorf("scale %v zero %v q %v, want %v %v %v", got.Scale, got.Zero, got.Q, tt.wantScale, tt.wantZero, tt.wantQ)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if want := tt.s.DefaultGIdx(len(tt.w)); !slices.Equal(got.GIdx, want) {
				t.Errorf("GIdx %v, want %v", got.GIdx, want)
			}
		})
	}
}

// TestRTNErrorBound checks that every dequantized weight lies within half
// a step of the weight wherever the weight is inside its group's grid, and
// within half a step plus the scale's rounding at the ends of the range.
func TestRTNErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	schemes := []Scheme{
		{Bits: 4, GroupSize: 16},
		{Bits: 4, GroupSize: -1},
		{Bits: 4, GroupSize: 16, Symmetric: true},
		{Bits: 4, GroupSize: 16, MinZero: 1},
		{Bits: 8, GroupSize: 32},
		{Bits: 8, GroupSize: 32, Symmetric: true},
		{Bits: 4, GroupSize: 16, BF16Scales: true},
	}
	const out, in = 24, 64
	for _, s := range schemes {
		w := make([]float32, out*in)
		for i := range w {
			w[i] = float32(rng.NormFloat64()) * 0.02
			if i%97 == 0 {
				w[i] += 0.3 // a positive outlier now and then
			}
			if i/in == 3 {
				w[i] = float32(math.Abs(float64(w[i]))) + 0.1 // a row of positive weights
			}
		}
		q, err := RTN(w, out, in, s, RTNOptions{})
		if err != nil {
			t.Fatal(err)
		}
		deq := q.Dequantize()
		maxq := float64(s.MaxQ())
		rel := 0x1p-11 // float16 rounding
		if s.BF16Scales {
			rel = 0x1p-8
		}
		groups := s.Groups(in)
		for i, x := range w {
			r, c := i/in, i%in
			at := r*groups + int(q.GIdx[c])
			sc, z := float64(q.Scale[at]), float64(q.Zero[at])
			e := math.Abs(float64(x) - float64(deq[i]))
			bound := sc/2 + maxq*sc*rel
			if lo, hi := -z*sc, (maxq-z)*sc; float64(x) >= lo && float64(x) <= hi {
				bound = sc / 2 * (1 + 1e-6)
			}
			if e > bound {
				t.Errorf("%+v: [%d, %d] = %v dequantizes to %v (scale %v zero %v): error %v > %v", s, r, c, x, deq[i], sc, z, e, bound)
			}
		}
	}
}

func TestRTNRowsIndependent(t *testing.T) {
	// Large enough to be split across goroutines; each row must match a
	// one-row quantization of itself.
	rng := rand.New(rand.NewPCG(3, 4))
	const out, in = 64, 2048
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	s := Scheme{Bits: 4, GroupSize: 128}
	opts := RTNOptions{Clip: &ClipSearch{}}
	all, err := RTN(w, out, in, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	groups := s.Groups(in)
	for r := range out {
		one, err := RTN(w[r*in:(r+1)*in], 1, in, s, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one.Q, all.Q[r*in:(r+1)*in]) || !slices.Equal(one.Scale, all.Scale[r*groups:(r+1)*groups]) || !slices.Equal(one.Zero, all.Zero[r*groups:(r+1)*groups]) {
			t.Fatalf("row %d differs when quantized alone", r)
		}
	}
}

func TestRTNErrors(t *testing.T) {
	ok := []float32{1, 2, 3, 4}
	s := Scheme{Bits: 4, GroupSize: 2}
	tests := []struct {
		name    string
		w       []float32
		out, in int
		s       Scheme
		opts    RTNOptions
		want    string
	}{
		{"NaN", []float32{1, 2, 3, float32(math.NaN())}, 2, 2, s, RTNOptions{}, "row 1, column 1: weight is NaN"},
		{"Inf", []float32{1, float32(math.Inf(-1)), 3, 4}, 2, 2, s, RTNOptions{}, "row 0, column 1: weight is -Inf"},
		{"length", ok, 3, 2, s, RTNOptions{}, "4 weights for shape [3, 2]"},
		{"empty", nil, 0, 4, s, RTNOptions{}, "shape [0, 4] is not positive"},
		{"bits", ok, 1, 4, Scheme{Bits: 3, GroupSize: 2}, RTNOptions{}, "unsupported bits 3"},
		{"group", ok, 1, 4, Scheme{Bits: 4, GroupSize: 3}, RTNOptions{}, "group size 3 does not divide the 4 input channels"},
		{"min zero", ok, 1, 4, Scheme{Bits: 4, GroupSize: 2, MinZero: 9}, RTNOptions{}, "minimum zero point 9 is above 8"},
		{"importance without clip", ok, 1, 4, s, RTNOptions{Importance: []float32{1, 1, 1, 1}}, "importance weights need a clip search"},
		{"importance length", ok, 1, 4, s, RTNOptions{Clip: &ClipSearch{}, Importance: []float32{1}}, "1 importance weights for 4 input channels"},
		{"negative importance", ok, 1, 4, s, RTNOptions{Clip: &ClipSearch{}, Importance: []float32{1, -1, 1, 1}}, "importance of input channel 1 is -1"},
		{"max shrink", ok, 1, 4, s, RTNOptions{Clip: &ClipSearch{MaxShrink: 1}}, "max shrink 1 is outside [0, 1)"},
		{"steps", ok, 1, 4, s, RTNOptions{Clip: &ClipSearch{Steps: -2}}, "-2 steps is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RTN(tt.w, tt.out, tt.in, tt.s, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RTN error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
