package gguf

import "math"

// Float arithmetic in the codecs follows llama.cpp's C exactly: float32
// operations in the same order, each rounded on its own. Go may fuse a
// multiplication and an addition into one FMA instruction (it does on
// arm64, and on amd64 with GOAMD64=v3), which rounds once and changes
// results; an explicit float32(...) conversion of a product forbids that,
// so every product that feeds an addition or subtraction is wrapped in one.

// abs32 returns |x|, exactly like C's fabsf.
func abs32(x float32) float32 {
	return math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
}

// sqrt32 returns the float32 square root of x, correctly rounded like C's
// sqrtf: a float64 square root rounded to float32 is (53 ≥ 2·24+2 bits).
func sqrt32(x float32) float32 {
	return float32(math.Sqrt(float64(x)))
}

// nearestInt rounds f to the nearest integer, ties to even, the way
// llama.cpp's nearest_int does: adding 1.5·2^23 leaves the rounded integer
// in the low mantissa bits. It is exact for |f| < 2^22; beyond that it
// wraps as llama.cpp's does.
func nearestInt(f float32) int32 {
	v := float32(f) + 12582912 // float32(f) keeps a caller's product from fusing with the add
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}
