package gguf

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// rounderInput returns a rows × cols tensor of heavy-tailed weights and a
// per-column importance spanning three orders of magnitude.
func rounderInput(rows, cols int) (w, importance []float32) {
	rng := rand.New(rand.NewPCG(7, 11))
	w = make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.02)
		if rng.IntN(64) == 0 {
			w[i] *= 6 // outliers
		}
	}
	importance = make([]float32, cols)
	for i := range importance {
		importance[i] = float32(math.Exp(rng.NormFloat64() * 1.5))
	}
	return w, importance
}

// rounded rounds every value of w with r in order, returning what Round
// chose.
func rounded(r *Rounder, w, importance []float32, rows, cols int) []float32 {
	got := make([]float32, len(w))
	for row := range rows {
		for g := range cols / r.GroupSize() {
			lo, hi := g*r.GroupSize(), (g+1)*r.GroupSize()
			var imp []float32
			if importance != nil {
				imp = importance[lo:hi]
			}
			r.Fit(row, g, w[row*cols+lo:row*cols+hi], imp)
			for c := lo; c < hi; c++ {
				got[row*cols+c] = r.Round(row, c, w[row*cols+c])
			}
		}
	}
	return got
}

func weightedError(w, wq, importance []float32, cols int) float64 {
	var e float64
	for i := range w {
		d := float64(w[i] - wq[i])
		imp := 1.0
		if importance != nil {
			imp = float64(importance[i%cols])
		}
		e += imp * d * d
	}
	return e
}

func TestRounderDecodesToRoundedValues(t *testing.T) {
	const rows, cols = 6, 512
	w, importance := rounderInput(rows, cols)
	for _, typ := range []Type{TypeQ4_0, TypeQ5_0, TypeQ8_0, TypeQ4_K, TypeQ6_K} {
		for _, imp := range [][]float32{nil, importance} {
			r, err := NewRounder(typ, rows, cols)
			if err != nil {
				t.Fatal(err)
			}
			got := rounded(r, w, imp, rows, cols)
			dec := make([]float32, rows*cols)
			if err := Decode(typ, dec, r.Bytes()); err != nil {
				t.Fatal(err)
			}
			for i := range dec {
				if math.Float32bits(dec[i]) != math.Float32bits(got[i]) {
					t.Fatalf("%s (importance %v): value %d decodes to %v, Round returned %v", typ, imp != nil, i, dec[i], got[i])
				}
			}
		}
	}
}

// Without importance the K-quant rounders make the reference encoder's
// choices, byte for byte; the others use the F16-rounded scale where the
// reference rounds with the unrounded one, and must do as well.
func TestRounderWithoutImportanceMatchesReference(t *testing.T) {
	const rows, cols = 4, 512
	w, _ := rounderInput(rows, cols)
	for _, typ := range []Type{TypeQ4_0, TypeQ5_0, TypeQ8_0, TypeQ4_K, TypeQ6_K} {
		r, err := NewRounder(typ, rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		r.RoundAll(w, nil)
		got := r.Bytes()
		want := make([]byte, len(got))
		if err := Encode(typ, want, w); err != nil {
			t.Fatal(err)
		}
		if typ == TypeQ4_K || typ == TypeQ6_K {
			if !bytes.Equal(got, want) {
				t.Errorf("%s: rounder bytes differ from the reference encoder's", typ)
			}
			continue
		}
		dGot, dWant := make([]float32, len(w)), make([]float32, len(w))
		Decode(typ, dGot, got)
		Decode(typ, dWant, want)
		eGot, eWant := weightedError(w, dGot, nil, cols), weightedError(w, dWant, nil, cols)
		if eGot > eWant*1.02 {
			t.Errorf("%s: squared error %.4g, reference %.4g", typ, eGot, eWant)
		}
	}
}

// With importance, the error weighted by it must drop below that of the
// plain fit.
func TestRounderImportanceLowersWeightedError(t *testing.T) {
	const rows, cols = 16, 512
	w, importance := rounderInput(rows, cols)
	for _, typ := range []Type{TypeQ4_0, TypeQ5_0, TypeQ4_K, TypeQ6_K} {
		var errs [2]float64
		for k, imp := range [][]float32{nil, importance} {
			r, _ := NewRounder(typ, rows, cols)
			r.RoundAll(w, imp)
			dec := make([]float32, len(w))
			Decode(typ, dec, r.Bytes())
			errs[k] = weightedError(w, dec, importance, cols)
		}
		if errs[1] >= errs[0] {
			t.Errorf("%s: importance-weighted error %.4g with importance, %.4g without", typ, errs[1], errs[0])
		}
		t.Logf("%s: weighted error %.4g → %.4g (%.1f%%)", typ, errs[0], errs[1], 100*(errs[1]/errs[0]-1))
	}
}

func TestNewRounderErrors(t *testing.T) {
	for _, tc := range []struct {
		typ        Type
		rows, cols int
	}{
		{TypeQ4_1, 1, 32},
		{TypeF16, 1, 32},
		{TypeQ4_K, 1, 384},
		{TypeQ4_0, 0, 32},
		{TypeQ4_0, 1, 0},
		{TypeQ8_0, 2, 40},
	} {
		if _, err := NewRounder(tc.typ, tc.rows, tc.cols); err == nil {
			t.Errorf("NewRounder(%s, %d, %d): no error", tc.typ, tc.rows, tc.cols)
		}
	}
}
