// Package half converts between float32 and the two 16-bit floating-point
// formats found in model checkpoints: IEEE 754 binary16 (F16) and bfloat16
// (BF16). Values of both formats are held as their bit patterns in a uint16.
//
// Narrowing rounds to nearest, ties to even. Widening is exact. A NaN stays a
// NaN in both directions and keeps its sign and the high bits of its payload,
// so F16→F32→F16 and BF16→F32→BF16 return every bit pattern unchanged.
package half

import "math"

const (
	f16SignMask = 0x8000
	f16ExpMask  = 0x7c00
	f16FracMask = 0x03ff
	f16Quiet    = 0x0200

	bf16ExpMask  = 0x7f80
	bf16FracMask = 0x007f
	bf16Quiet    = 0x0040
)

// F16ToF32 widens an IEEE binary16 value to float32. The result is exact.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&f16SignMask) << 16
	exp := uint32(h&f16ExpMask) >> 10
	frac := uint32(h & f16FracMask)
	switch exp {
	case 0: // zero or subnormal: frac × 2⁻²⁴, exact in float32
		v := float32(frac) * 0x1p-24
		return math.Float32frombits(sign | math.Float32bits(v))
	case 0x1f: // Inf or NaN; the payload moves to the high fraction bits
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// F32ToF16 narrows a float32 to IEEE binary16, rounding to nearest with ties
// to even. Values too large for F16 become ±Inf, values too small become
// subnormals or ±0.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & f16SignMask
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff

	if exp == 0xff { // Inf or NaN
		if frac == 0 {
			return sign | f16ExpMask
		}
		payload := uint16(frac >> 13)
		if payload == 0 {
			payload = f16Quiet // the payload was in bits F16 drops
		}
		return sign | f16ExpMask | payload
	}

	e := exp - 127 + 15 // the biased F16 exponent
	switch {
	case e >= 0x1f:
		return sign | f16ExpMask
	case e <= 0:
		// Subnormal result: the value is m × 2^(exp-150) with the implicit
		// bit restored, and an F16 subnormal counts units of 2⁻²⁴.
		if e < -10 {
			return sign // below half the smallest subnormal
		}
		return sign | uint16(roundShift(frac|0x800000, uint32(14-e)))
	}
	// A carry out of the fraction bumps the exponent, up to Inf if need be.
	return sign | uint16(roundShift(uint32(e)<<23|frac, 13))
}

// roundShift returns v >> s rounded to nearest, ties to even; 0 < s < 32.
func roundShift(v, s uint32) uint32 {
	q := v >> s
	rem := v & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	return q
}

// BF16ToF32 widens a bfloat16 value to float32. The result is exact.
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 narrows a float32 to bfloat16, rounding to nearest with ties to
// even. Values beyond the largest finite BF16 become ±Inf.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN: truncate, but never to Inf
		h := uint16(b >> 16)
		if h&bf16FracMask == 0 {
			h |= bf16Quiet
		}
		return h
	}
	return uint16(roundShift(b, 16))
}
