package gguf

import "math"

// Q4_0 block (18 bytes, 32 values): f16 d, then 16 bytes of 4-bit quants,
// byte j holding value j in its low nibble and value j+16 in its high
// nibble. A value is (q-8)·d.
//
// Q4_1 block (20 bytes, 32 values): f16 d, f16 m, then the nibbles as in
// Q4_0. A value is q·d + m.

// encodeQ4_0 reproduces llama.cpp's quantize_row_q4_0_ref: d is the
// largest-magnitude value (the first, on ties) divided by -8, and
// q = min(15, trunc(x/d + 8.5)).
func encodeQ4_0(dst []byte, src []float32) {
	for b := range len(src) / 32 {
		x := src[32*b : 32*b+32]
		y := dst[18*b : 18*b+18]
		var amax, maxv float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, maxv = a, v
			}
		}
		d := maxv / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(y, d)
		var q [32]uint8
		for j, v := range x {
			q[j] = uint8(min(15, int8(float32(v*id)+8.5)))
		}
		packNibbles(y[2:18], &q)
	}
}

// packNibbles stores 32 4-bit values in 16 bytes as Q4_0, Q4_1 and Q5_0
// do: byte j holds value j in its low nibble and value j+16 in its high
// one.
func packNibbles(dst []byte, q *[32]uint8) {
	for j := range 16 {
		dst[j] = q[j]&0xf | q[j+16]<<4
	}
}

// decodeQ4_0 reproduces llama.cpp's dequantize_row_q4_0.
func decodeQ4_0(dst []float32, src []byte) {
	for b := range len(dst) / 32 {
		y := src[18*b : 18*b+18]
		out := dst[32*b : 32*b+32]
		d := getF16(y)
		for j, q := range y[2:18] {
			out[j] = float32(int(q&0xf)-8) * d
			out[j+16] = float32(int(q>>4)-8) * d
		}
	}
}

// encodeQ4_1 reproduces llama.cpp's quantize_row_q4_1_ref: m is the
// block's minimum, d = (max-min)/15, and q = min(15, trunc((x-m)/d + 0.5)),
// computed from the float32 minimum, not its F16 rounding.
func encodeQ4_1(dst []byte, src []float32) {
	for b := range len(src) / 32 {
		x := src[32*b : 32*b+32]
		y := dst[20*b : 20*b+20]
		minv, maxv := float32(math.MaxFloat32), float32(-math.MaxFloat32)
		for _, v := range x {
			if v < minv {
				minv = v
			}
			if v > maxv {
				maxv = v
			}
		}
		d := (maxv - minv) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(y, d)
		putF16(y[2:], minv)
		var q [32]uint8
		for j, v := range x {
			q[j] = uint8(min(15, int8(float32((v-minv)*id)+0.5)))
		}
		packNibbles(y[4:20], &q)
	}
}

// decodeQ4_1 reproduces llama.cpp's dequantize_row_q4_1.
func decodeQ4_1(dst []float32, src []byte) {
	for b := range len(dst) / 32 {
		y := src[20*b : 20*b+20]
		out := dst[32*b : 32*b+32]
		d, m := getF16(y), getF16(y[2:])
		for j, q := range y[4:20] {
			out[j] = float32(float32(q&0xf)*d) + m
			out[j+16] = float32(float32(q>>4)*d) + m
		}
	}
}
