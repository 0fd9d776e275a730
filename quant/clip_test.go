package quant

import (
	"math/rand/v2"
	"testing"
)

func TestClipCandidates(t *testing.T) {
	tests := []struct {
		c         ClipSearch
		steps, n  int
		lastShift float64 // 1 - the smallest factor tried
	}{
		{ClipSearch{}, 20, 10, 0.45},
		{ClipSearch{Steps: 100, MaxShrink: 0.8}, 100, 80, 0.79},
		{ClipSearch{Steps: 10, MaxShrink: 0.7}, 10, 7, 0.6},
		{ClipSearch{Steps: 1}, 1, 1, 0},
	}
	for _, tt := range tests {
		steps, n, err := tt.c.candidates()
		if err != nil {
			t.Fatal(err)
		}
		if steps != tt.steps || n != tt.n {
			t.Errorf("%+v: %d steps, %d factors; want %d, %d", tt.c, steps, n, tt.steps, tt.n)
		}
		if last := float64(n-1) / float64(steps); last < tt.lastShift-1e-9 || last > tt.lastShift+1e-9 {
			t.Errorf("%+v: smallest factor 1-%v, want 1-%v", tt.c, last, tt.lastShift)
		}
	}
}

// TestClipNeverWorse checks the property the search is built on: for
// every group, the weighted squared error it minimizes is no larger than
// plain min-max's.
func TestClipNeverWorse(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	schemes := []Scheme{
		{Bits: 4, GroupSize: 32},
		{Bits: 4, GroupSize: 32, Symmetric: true},
		{Bits: 4, GroupSize: 32, MinZero: 1},
		{Bits: 8, GroupSize: 32},
	}
	searches := []ClipSearch{{}, {Steps: 100, MaxShrink: 0.8}, {Steps: 5, MaxShrink: 0.2}}
	better := 0
	for _, s := range schemes {
		for _, c := range searches {
			for trial := range 200 {
				w := make([]float32, 32)
				imp := make([]float32, 32)
				for j := range w {
					w[j] = float32(rng.NormFloat64())
					imp[j] = float32(rng.ExpFloat64())
				}
				w[rng.IntN(32)] *= 8 // an outlier
				if trial%3 == 0 {
					imp = nil
				}
				sc, z := s.Params(w)
				plain := groupError(w, imp, sc, z, s.MaxQ())
				sc, z = s.ClipParams(w, imp, c)
				clipped := groupError(w, imp, sc, z, s.MaxQ())
				if clipped > plain {
					t.Fatalf("%+v %+v: clip search error %v > min-max %v for %v", s, c, clipped, plain, w)
				}
				if clipped < plain {
					better++
				}
			}
		}
	}
	if better == 0 {
		t.Error("the clip search never improved on min-max")
	}
}

func TestClipImportance(t *testing.T) {
	// 31 small weights and one outlier: weighted uniformly, the search
	// shrinks the range to give the rest a finer grid; weighted heavily on
	// the outlier, it keeps the outlier within half a step.
	w := make([]float32, 32)
	for j := range w {
		w[j] = float32(j%7-3) * 0.01
	}
	const outlier = 5
	w[outlier] = 1
	s := Scheme{Bits: 4, GroupSize: 32}
	plainScale, _ := s.Params(w)
	outlierError := func(scale float32, zero uint8) float32 {
		return w[outlier] - Dequantize(Quantize(w[outlier], scale, zero, s.MaxQ()), scale, zero)
	}

	scale, _ := s.ClipParams(w, nil, ClipSearch{})
	if scale >= plainScale {
		t.Errorf("uniform weighting chose scale %v, want one below min-max's %v", scale, plainScale)
	}
	imp := make([]float32, 32)
	for j := range imp {
		imp[j] = 1
	}
	imp[outlier] = 1e6
	scale, zero := s.ClipParams(w, imp, ClipSearch{})
	if e := outlierError(scale, zero); e > scale/2 {
		t.Errorf("weighting the outlier chose scale %v, outlier error %v: want it on the grid", scale, e)
	}
}

func TestRTNClipMatchesClipParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const out, in = 4, 64
	s := Scheme{Bits: 4, GroupSize: 16}
	w := make([]float32, out*in)
	imp := make([]float32, in)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	for c := range imp {
		imp[c] = float32(rng.Float64())
	}
	c := ClipSearch{Steps: 50, MaxShrink: 0.6}
	q, err := RTN(w, out, in, s, RTNOptions{Clip: &c, Importance: imp})
	if err != nil {
		t.Fatal(err)
	}
	for r := range out {
		for g := range in / 16 {
			at := r*in + g*16
			scale, zero := s.ClipParams(w[at:at+16], imp[g*16:g*16+16], c)
			if q.Scale[r*4+g] != scale || q.Zero[r*4+g] != zero {
				t.Errorf("row %d group %d: RTN chose (%v, %d), ClipParams (%v, %d)", r, g, q.Scale[r*4+g], q.Zero[r*4+g], scale, zero)
			}
		}
	}
}
