package awq

import (
	"math"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/quant"
)

// naiveClipErrors returns, in float64, the output error of every clip
// candidate of row r, group [lo, lo+gs) of w [· × in] on inputs x [n × in]
// (llm-awq's auto_clip_layer, written out).
func naiveClipErrors(w []float32, in, r, lo, gs int, x []float32, s quant.Scheme) []float64 {
	n := len(x) / in
	row := w[r*in+lo : r*in+lo+gs]
	var absmax float32
	for _, v := range row {
		absmax = max(absmax, v, -v)
	}
	errs := make([]float64, clipCandidates)
	clamped := make([]float32, gs)
	for i := range errs {
		m := absmax * float32(1-float64(i)/clipSteps)
		for j, v := range row {
			clamped[j] = min(max(v, -m), m)
		}
		errs[i] = naiveGroupError(row, clamped, x, in, lo, n, s)
	}
	return errs
}

// naiveGroupError is the mean over tokens of the squared output error of
// quantizing clamped in place of the weights row.
func naiveGroupError(row, clamped, x []float32, in, lo, n int, s quant.Scheme) float64 {
	scale, zero := s.Params(clamped)
	var sum float64
	for t := range n {
		var e float64
		for j, v := range clamped {
			q := quant.Dequantize(quant.Quantize(v, scale, zero, s.MaxQ()), scale, zero)
			e += float64(x[t*in+lo+j]) * (float64(q) - float64(row[j]))
		}
		sum += e * e
	}
	return sum / float64(n)
}

// TestClipLinear checks the clip search against a float64 transcription
// of the reference: every group's chosen range has the least output error
// of the candidates (up to float32 rounding of the error), and the report
// adds up.
func TestClipLinear(t *testing.T) {
	tests := []struct {
		name   string
		scheme quant.Scheme
		clips  bool // some group is clipped
	}{
		{"asymmetric g16", quant.Scheme{Bits: 4, GroupSize: 16}, true},
		{"symmetric g32", quant.Scheme{Bits: 4, GroupSize: 32, Symmetric: true}, true},
		{"asymmetric per row", quant.Scheme{Bits: 4, GroupSize: -1}, true},
		{"8-bit g16: the grid is fine enough", quant.Scheme{Bits: 8, GroupSize: 16}, false},
	}
	const out, in, n = 12, 64, 40
	rng := newRand(3)
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
		if rng.IntN(20) == 0 {
			w[i] *= 6 // outliers, which clipping helps with
		}
	}
	for c := range 16 {
		w[3*in+c] = 0 // one all-zero group
	}
	x := make([]float32, n*in)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * float32(1+i%in%5)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs := tt.scheme.GroupSize
			if gs < 0 {
				gs = in
			}
			clipped := slices.Clone(w)
			rep := clipLinear(clipped, out, in, x, tt.scheme)
			if rep.Groups != out*in/gs || rep.Tokens != n {
				t.Fatalf("report counts %d groups of %d tokens, want %d of %d", rep.Groups, rep.Tokens, out*in/gs, n)
			}
			var before, after float64
			clippedGroups := 0
			for r := range out {
				for lo := 0; lo < in; lo += gs {
					errs := naiveClipErrors(w, in, r, lo, gs, x, tt.scheme)
					got := naiveGroupError(w[r*in+lo:r*in+lo+gs], clipped[r*in+lo:r*in+lo+gs], x, in, lo, n, tt.scheme)
					least := slices.Min(errs)
					if got > least*(1+1e-4)+1e-12 {
						t.Errorf("row %d, group at %d: chosen error %.6g, least candidate %.6g (%v)", r, lo, got, least, errs)
					}
					if !slices.Equal(clipped[r*in+lo:r*in+lo+gs], w[r*in+lo:r*in+lo+gs]) {
						clippedGroups++
					}
					before += errs[0]
					after += got
				}
			}
			if rep.Clipped != clippedGroups || (rep.Clipped > 0) != tt.clips {
				t.Errorf("report says %d groups clipped, %d were (want some: %v)", rep.Clipped, clippedGroups, tt.clips)
			}
			for _, c := range []struct {
				what      string
				got, want float64
			}{{"before", rep.ErrBefore, before}, {"after", rep.ErrAfter, after}} {
				if math.Abs(c.got-c.want) > 1e-4*c.want {
					t.Errorf("error %s clipping: reported %.6g, want %.6g", c.what, c.got, c.want)
				}
			}
			for i, v := range clipped {
				if v != v || math.IsInf(float64(v), 0) {
					t.Fatalf("weight %d is %v after clipping", i, v)
				}
			}
		})
	}
}

// TestApplyClipChoosesLeast checks the choice and the clamp of every
// (row, group) from given losses, ties going to the wider range, on
// weights of one and of several of the parallel loop's chunks.
func TestApplyClipChoosesLeast(t *testing.T) {
	tests := []struct {
		name    string
		out, in int
	}{
		{"one chunk", 8, 256},
		{"several chunks", 3*parallelGrain/256 + 5, 256},
	}
	scheme := quant.Scheme{Bits: 4, GroupSize: 128}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := newRand(7)
			groups := tt.in / 128
			w := make([]float32, tt.out*tt.in)
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			losses := make([]float64, groups*clipCandidates*tt.out)
			for i := range losses {
				losses[i] = float64(rng.IntN(4)) // ties are common
			}
			clipped := slices.Clone(w)
			rep := applyClip(clipped, tt.out, tt.in, losses, 5, scheme)
			wantClipped := 0
			for g := range groups {
				for r := range tt.out {
					step := 0
					for i := 1; i < clipCandidates; i++ {
						if losses[(g*clipCandidates+i)*tt.out+r] < losses[(g*clipCandidates+step)*tt.out+r] {
							step = i
						}
					}
					row, got := w[r*tt.in+g*128:][:128], clipped[r*tt.in+g*128:][:128]
					m := groupAbsMax(row) * clipFactor(step)
					if step > 0 {
						wantClipped++
					}
					for j, v := range row {
						if want := min(max(v, -m), m); got[j] != want {
							t.Fatalf("row %d, group %d (candidate %d): weight %d is %v, want %v", r, g, step, j, got[j], want)
						}
					}
				}
			}
			if rep.Clipped != wantClipped || rep.Groups != groups*tt.out {
				t.Errorf("report: %d of %d groups clipped, want %d of %d", rep.Clipped, rep.Groups, wantClipped, groups*tt.out)
			}
		})
	}
}
