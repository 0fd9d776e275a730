package gguf

import (
	"encoding/binary"
	"math"

	"github.com/qtk-dev/qtk/internal/half"
)

// Unquantized types: little-endian F32, F16 and BF16 values.

func encodeF32(dst []byte, src []float32) {
	for i, x := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(x))
	}
}

func decodeF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// encodeF16 rounds to nearest even like ggml's scalar conversion
// (ggml_compute_fp32_to_fp16), which also turns every NaN into the quiet
// NaN 0x7e00 with the input's sign.
func encodeF16(dst []byte, src []float32) {
	for i, x := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], toF16(x))
	}
}

// toF16 narrows x to F16 as ggml's scalar conversion does.
func toF16(x float32) uint16 {
	h := half.F32ToF16(x)
	if x != x {
		h = h&0x8000 | 0x7e00
	}
	return h
}

func decodeF16(dst []float32, src []byte) { half.F16ToF32Slice(dst, src) }

// encodeBF16 rounds to nearest even like ggml's ggml_compute_fp32_to_bf16,
// which keeps subnormals and quiets a NaN by setting its top fraction bit,
// keeping the rest of the truncated payload.
func encodeBF16(dst []byte, src []float32) {
	for i, x := range src {
		h := half.F32ToBF16(x)
		if x != x {
			h = uint16(math.Float32bits(x)>>16) | 0x40
		}
		binary.LittleEndian.PutUint16(dst[2*i:], h)
	}
}

func decodeBF16(dst []float32, src []byte) { half.BF16ToF32Slice(dst, src) }

// putF16 stores x as an F16 scale, rounded as ggml's GGML_FP32_TO_FP16.
func putF16(dst []byte, x float32) {
	binary.LittleEndian.PutUint16(dst, toF16(x))
}

// getF16 reads an F16 scale.
func getF16(src []byte) float32 {
	return half.F16ToF32(binary.LittleEndian.Uint16(src))
}
