package quant

import (
	"fmt"
	"math"

	"github.com/qtk-dev/qtk/internal/half"
)

// minScale keeps a constant group from getting a zero scale (the reference
// AWQ quantizer clamps the range at the same value).
const minScale = 1e-5

// Largest finite values of the two scale dtypes; larger scales are clamped
// to them rather than becoming infinite.
const (
	maxF16  = 65504
	maxBF16 = 0x1.fep127
)

// Validate checks the scheme against a row length of in channels.
func (s Scheme) Validate(in int) error {
	if s.Bits != 4 && s.Bits != 8 {
		return fmt.Errorf("unsupported bits %d (4 or 8)", s.Bits)
	}
	if s.GroupSize == 0 || s.GroupSize < -1 {
		return fmt.Errorf("group size %d: use a positive size or -1 for one group per row", s.GroupSize)
	}
	if s.GroupSize > 0 && in%s.GroupSize != 0 {
		return fmt.Errorf("group size %d does not divide the %d input channels", s.GroupSize, in)
	}
	if half := 1 << (s.Bits - 1); int(s.MinZero) > half {
		return fmt.Errorf("minimum zero point %d is above %d, the middle of the %d-bit grid", s.MinZero, half, s.Bits)
	}
	return nil
}

// Params returns the min-max scale and zero point of one group of weights.
func (s Scheme) Params(w []float32) (scale float32, zero uint8) {
	lo, hi := w[0], w[0]
	for _, v := range w[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	return s.RangeParams(lo, hi)
}

// RangeParams returns the scale and zero point that map [lo, hi] onto the
// integer grid; clip searches pass a shrunk range.
//
// Asymmetric: scale = max(hi-lo, 1e-5)/maxq and zero = round(-lo/scale),
// as the reference AWQ quantizer does; the range is not forced to include
// 0. Where that zero point falls off the grid [MinZero, maxq] (a group
// whose weights all lie on one side of 0, or, with MinZero set, a group
// barely reaching below 0) the reference clamps it and silently clips the
// far end of the range, by up to the whole group's offset from 0. Here the
// zero point is clamped too but the scale grows just enough to keep that
// end on the grid: the grid then spans [lo, 0] or [-MinZero·scale, hi],
// as GPTQ's quantizer (which always includes 0) would choose.
//
// Symmetric: scale = max(|lo|,|hi|)/(2^(bits-1)-1) around the fixed zero
// 2^(bits-1), so the largest magnitude is representable on both sides.
//
// The scale is rounded to float16 (bfloat16 with BF16Scales) before the
// zero point is derived, so that what formats store is exactly what the
// quantizer used.
func (s Scheme) RangeParams(lo, hi float32) (scale float32, zero uint8) {
	maxq := float32(s.MaxQ())
	if s.Symmetric {
		absmax := max(-lo, hi)
		half := float32(int(1) << (s.Bits - 1))
		scale = s.roundScale(max(absmax/(half-1), minScale))
		return scale, uint8(half)
	}
	scale = s.roundScale(max(hi-lo, minScale) / maxq)
	z := float32(math.RoundToEven(float64(-lo / scale)))
	switch minZ := float32(s.MinZero); {
	case z < minZ:
		z = minZ
		scale = max(scale, s.roundScale(hi/(maxq-minZ)))
	case z > maxq:
		z = maxq
		scale = max(scale, s.roundScale(-lo/maxq))
	}
	return scale, uint8(z)
}

// RoundScale rounds a scale to the nearest value of the scheme's scale
// dtype (what formats store), keeping it positive and finite.
func (s Scheme) RoundScale(scale float32) float32 { return s.roundScale(scale) }

// roundScale rounds a scale to the nearest value of the scheme's scale
// dtype, keeping it positive and finite.
func (s Scheme) roundScale(scale float32) float32 {
	if s.BF16Scales {
		r := half.BF16ToF32(half.F32ToBF16(min(scale, maxBF16)))
		if r <= 0 {
			return half.BF16ToF32(1) // smallest positive bfloat16 subnormal
		}
		return r
	}
	r := half.F16ToF32(half.F32ToF16(min(scale, maxF16)))
	if r <= 0 {
		return half.F16ToF32(1) // smallest positive float16 subnormal
	}
	return r
}

// Quantize returns the integer of x on the grid of (scale, zero):
// clamp(round(x/scale) + zero, 0, maxq).
func Quantize(x, scale float32, zero uint8, maxq int) uint8 {
	q := float32(math.RoundToEven(float64(x/scale))) + float32(zero)
	return uint8(min(max(q, 0), float32(maxq)))
}
