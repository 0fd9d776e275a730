package quant

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/internal/half"
)

// awqParams is llm-awq's pseudo_quantize_tensor for one group with the
// scale rounded to float16 first: scale = max(hi-lo, 1e-5)/maxq,
// zero = clamp(-round(lo/scale), 0, maxq).
func awqParams(lo, hi float32, maxq int) (float32, float32) {
	scale := half.F16ToF32(half.F32ToF16(max(hi-lo, 1e-5) / float32(maxq)))
	zero := -float32(math.RoundToEven(float64(lo / scale)))
	return scale, zero
}

// TestRangeParamsMatchesAWQ checks that RangeParams is the reference
// quantizer wherever the reference's zero point lies on the grid, and
// widens the scale only where it would have been clamped.
func TestRangeParamsMatchesAWQ(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, bits := range []int{4, 8} {
		s := Scheme{Bits: bits, GroupSize: -1}
		maxq := s.MaxQ()
		clamped := 0
		for range 20000 {
			lo := float32(rng.NormFloat64())
			hi := lo + float32(rng.ExpFloat64())
			scale, zero := s.RangeParams(lo, hi)
			refScale, refZero := awqParams(lo, hi, maxq)
			if refZero >= 0 && refZero <= float32(maxq) {
				if scale != refScale || float32(zero) != refZero {
					t.Fatalf("%d-bit [%v, %v]: (%v, %d), reference (%v, %v)", bits, lo, hi, scale, zero, refScale, refZero)
				}
				continue
			}
			clamped++
			// Off the grid: the zero point is clamped and the grid still
			// reaches the far end of the range, to float16 rounding.
			if scale < refScale {
				t.Fatalf("%d-bit [%v, %v]: scale %v below the reference %v", bits, lo, hi, scale, refScale)
			}
			top, bottom := float32(maxq-int(zero))*scale, -float32(zero)*scale
			if tol := scale * float32(maxq) * 0x1p-11; hi > top+tol || lo < bottom-tol {
				t.Fatalf("%d-bit [%v, %v]: grid [%v, %v] with zero %d misses the range", bits, lo, hi, bottom, top, zero)
			}
		}
		if clamped == 0 {
			t.Errorf("%d-bit: no range had its zero point clamped", bits)
		}
	}
}

func TestRangeParamsLimits(t *testing.T) {
	s := Scheme{Bits: 4, GroupSize: -1}
	// A range too wide for float16 gets the largest finite scale, not Inf.
	if scale, _ := s.RangeParams(-1e7, 1e7); scale != 65504 {
		t.Errorf("huge range: scale %v, want 65504", scale)
	}
	bf := Scheme{Bits: 4, GroupSize: -1, BF16Scales: true}
	if scale, _ := bf.RangeParams(-1e7, 1e7); scale != half.BF16ToF32(half.F32ToBF16(2e7/15)) {
		t.Errorf("huge range with bfloat16 scales: scale %v", scale)
	}
	// MinZero with a range entirely below 0 keeps the scale positive.
	m := Scheme{Bits: 4, GroupSize: -1, MinZero: 1}
	if scale, zero := m.RangeParams(-1e-7, -1e-8); scale <= 0 || zero < 1 {
		t.Errorf("tiny negative range with MinZero: (%v, %d)", scale, zero)
	}
}

func TestSchemeValidate(t *testing.T) {
	tests := []struct {
		s    Scheme
		in   int
		want string // "" for valid
	}{
		{Scheme{Bits: 4, GroupSize: 128}, 4096, ""},
		{Scheme{Bits: 8, GroupSize: -1, Symmetric: true}, 7, ""},
		{Scheme{Bits: 4, GroupSize: 128, MinZero: 8}, 128, ""},
		{Scheme{Bits: 2, GroupSize: 128}, 128, "unsupported bits 2"},
		{Scheme{Bits: 4}, 128, "group size 0"},
		{Scheme{Bits: 4, GroupSize: -2}, 128, "group size -2"},
		{Scheme{Bits: 4, GroupSize: 64}, 96, "group size 64 does not divide the 96 input channels"},
		{Scheme{Bits: 4, GroupSize: 32, MinZero: 9}, 64, "minimum zero point 9 is above 8"},
	}
	for _, tt := range tests {
		err := tt.s.Validate(tt.in)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v.Validate(%d) = %v, want %q", tt.s, tt.in, err, tt.want)
		}
	}
}
