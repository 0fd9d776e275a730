package gguf

import (
	"encoding/binary"
	"math"
)

// Q5_0 block (22 bytes, 32 values): f16 d, a little-endian u32 qh holding
// the fifth bit of value j at bit j, then 16 bytes of low nibbles laid out
// as in Q4_0. A value is (q-16)·d.
//
// Q5_1 block (24 bytes, 32 values): f16 d, f16 m, qh, then the nibbles. A
// value is q·d + m. llama.cpp falls back to Q5_0 for the Q4_K tensors of a
// Q4_K_M file whose rows are not a multiple of 256 long.

// encodeQ5_0 reproduces llama.cpp's quantize_row_q5_0_ref: d is the
// largest-magnitude value divided by -16, q = min(31, trunc(x/d + 16.5)).
func encodeQ5_0(dst []byte, src []float32) {
	for b := range len(src) / 32 {
		x := src[32*b : 32*b+32]
		y := dst[22*b : 22*b+22]
		var amax, maxv float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, maxv = a, v
			}
		}
		d := maxv / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(y, d)
		var q [32]uint8
		for j, v := range x {
			q[j] = uint8(min(31, int8(float32(v*id)+16.5)))
		}
		packQ5(y[2:22], &q)
	}
}

// packQ5 stores 32 5-bit values as Q5_0 and Q5_1 blocks do after their
// scales: a little-endian u32 with the fifth bit of value j at bit j, then
// the low nibbles as packNibbles lays them out.
func packQ5(dst []byte, q *[32]uint8) {
	var qh uint32
	for j, v := range q {
		qh |= uint32(v>>4) << j
	}
	binary.LittleEndian.PutUint32(dst, qh)
	packNibbles(dst[4:20], q)
}

// decodeQ5_0 reproduces llama.cpp's dequantize_row_q5_0.
func decodeQ5_0(dst []float32, src []byte) {
	for b := range len(dst) / 32 {
		y := src[22*b : 22*b+22]
		out := dst[32*b : 32*b+32]
		d := getF16(y)
		qh := binary.LittleEndian.Uint32(y[2:])
		for j, q := range y[6:22] {
			h0 := uint8(qh>>j) & 1 << 4
			h1 := uint8(qh>>(j+16)) & 1 << 4
			out[j] = float32(int(q&0xf|h0)-16) * d
			out[j+16] = float32(int(q>>4|h1)-16) * d
		}
	}
}

// encodeQ5_1 reproduces llama.cpp's quantize_row_q5_1_ref: m is the
// minimum, d = (max-min)/31, q = trunc((x-m)/d + 0.5).
func encodeQ5_1(dst []byte, src []float32) {
	for b := range len(src) / 32 {
		x := src[32*b : 32*b+32]
		y := dst[24*b : 24*b+24]
		minv, maxv := float32(math.MaxFloat32), float32(-math.MaxFloat32)
		for _, v := range x {
			if v < minv {
				minv = v
			}
			if v > maxv {
				maxv = v
			}
		}
		d := (maxv - minv) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(y, d)
		putF16(y[2:], minv)
		var q [32]uint8
		for j, v := range x {
			q[j] = uint8(float32((v-minv)*id)+0.5) & 31 // bits above the fifth are dropped, as in C
		}
		packQ5(y[4:24], &q)
	}
}

// decodeQ5_1 reproduces llama.cpp's dequantize_row_q5_1.
func decodeQ5_1(dst []float32, src []byte) {
	for b := range len(dst) / 32 {
		y := src[24*b : 24*b+24]
		out := dst[32*b : 32*b+32]
		d, m := getF16(y), getF16(y[2:])
		qh := binary.LittleEndian.Uint32(y[4:])
		for j, q := range y[8:24] {
			h0 := uint8(qh>>j) & 1 << 4
			h1 := uint8(qh>>(j+16)) & 1 << 4
			out[j] = float32(float32(q&0xf|h0)*d) + m
			out[j+16] = float32(float32(q>>4|h1)*d) + m
		}
	}
}
