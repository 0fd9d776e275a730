package compute

import "math"

// toHalf rounds f to the nearest IEEE float16, ties to even, and returns
// its bits: values past float16's range become infinities, those below
// its smallest subnormal zeros.
func toHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	if b&0x7fffffff > 0x7f800000 { // NaN
		return sign | 0x7e00
	}
	exp := int(b>>23&0xff) - 127 + 15 // float16's biased exponent
	mant := b & 0x7fffff
	if exp >= 31 {
		return sign | 0x7c00
	}
	if exp <= 0 { // a subnormal float16, or zero
		if exp < -10 {
			return sign
		}
		full := mant | 0x800000
		shift := uint(14 - exp)
		return sign | uint16(roundShift(full, shift))
	}
	// A carry out of the mantissa moves into the exponent, up to infinity.
	return sign | uint16(roundShift(uint32(exp)<<23|mant, 13))
}

// roundShift returns v >> shift rounded to nearest, ties to even.
func roundShift(v uint32, shift uint) uint32 {
	r, rem, half := v>>shift, v&(1<<shift-1), uint32(1)<<(shift-1)
	if rem > half || rem == half && r&1 == 1 {
		r++
	}
	return r
}

// fromHalf widens float16 bits to float32.
func fromHalf(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp, mant := uint32(h>>10&0x1f), uint32(h&0x3ff)
	switch {
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// HalfRounded returns w rounded to float16 and widened back: the weight
// whose products a float16 Linear (HalfLinears) computes, for references.
func HalfRounded(w []float32) []float32 {
	r := make([]float32, len(w))
	for i, v := range w {
		r[i] = fromHalf(toHalf(v))
	}
	return r
}
