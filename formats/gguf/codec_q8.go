package gguf

import "math"

// Q8_0 block (34 bytes, 32 values): f16 d, then 32 signed bytes q. A value
// is q·d.

// encodeQ8_0 reproduces llama.cpp's quantize_row_q8_0_ref: d = max|x|/127
// and q = roundf(x/d), rounding halves away from zero.
func encodeQ8_0(dst []byte, src []float32) {
	for b := range len(src) / 32 {
		x := src[32*b : 32*b+32]
		y := dst[34*b : 34*b+34]
		var amax float32
		for _, v := range x {
			if a := abs32(v); a > amax {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(y, d)
		for j, v := range x {
			// math.Round of the exact float64 widening is roundf.
			y[2+j] = uint8(int8(math.Round(float64(v * id))))
		}
	}
}

// decodeQ8_0 reproduces llama.cpp's dequantize_row_q8_0.
func decodeQ8_0(dst []float32, src []byte) {
	for b := range len(dst) / 32 {
		y := src[34*b : 34*b+34]
		out := dst[32*b : 32*b+32]
		d := getF16(y)
		for j, q := range y[2:34] {
			out[j] = float32(int8(q)) * d
		}
	}
}
