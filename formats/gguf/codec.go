package gguf

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// A codec converts between float32 values and one type's blocks. encode
// and decode work on whole blocks: len(src) or len(dst) is a multiple of
// the block size and the byte slice holds exactly those blocks.
type codec struct {
	encode func(dst []byte, src []float32)
	decode func(dst []float32, src []byte)
	// finiteOnly types refuse NaN and ±Inf: their scale search has no
	// meaning for them (llama.cpp writes garbage), so Encode fails instead.
	finiteOnly bool
}

var codecs = map[Type]codec{
	TypeF32:  {encode: encodeF32, decode: decodeF32},
	TypeF16:  {encode: encodeF16, decode: decodeF16},
	TypeBF16: {encode: encodeBF16, decode: decodeBF16},
	TypeQ4_0: {encode: encodeQ4_0, decode: decodeQ4_0, finiteOnly: true},
	TypeQ4_1: {encode: encodeQ4_1, decode: decodeQ4_1, finiteOnly: true},
	TypeQ5_0: {encode: encodeQ5_0, decode: decodeQ5_0, finiteOnly: true},
	TypeQ5_1: {encode: encodeQ5_1, decode: decodeQ5_1, finiteOnly: true},
	TypeQ8_0: {encode: encodeQ8_0, decode: decodeQ8_0, finiteOnly: true},
	TypeQ4_K: {encode: encodeQ4_K, decode: decodeQ4_K, finiteOnly: true},
	TypeQ6_K: {encode: encodeQ6_K, decode: decodeQ6_K, finiteOnly: true},
}

// HasCodec reports whether [Encode] and [Decode] support type t.
func (t Type) HasCodec() bool {
	_, ok := codecs[t]
	return ok
}

// CodecTypes lists the types [Encode] and [Decode] support, in ggml's
// numbering order.
func CodecTypes() []Type { return slices.Sorted(maps.Keys(codecs)) }

// Encode stores the values of src as type t in dst, which must be exactly
// t.RowSize(len(src)) bytes. len(src) must be a multiple of t's block
// size; a tensor is encoded row after row, or all at once, with the same
// result. Quantized types reproduce llama.cpp's reference quantizers
// (quantize_row_*_ref, without an importance matrix) bit for bit, and
// refuse NaN and infinite values.
func Encode(t Type, dst []byte, src []float32) error {
	c, err := codecFor(t, len(src), len(dst))
	if err != nil {
		return err
	}
	if c.finiteOnly {
		for i, x := range src {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("gguf: %s: value %d is %v, which cannot be quantized", t, i, x)
			}
		}
	}
	c.encode(dst, src)
	return nil
}

// Decode converts the blocks of type t in src into float32 values in dst;
// src must be exactly t.RowSize(len(dst)) bytes. It reproduces llama.cpp's
// dequantize_row_* functions bit for bit.
func Decode(t Type, dst []float32, src []byte) error {
	c, err := codecFor(t, len(dst), len(src))
	if err != nil {
		return err
	}
	c.decode(dst, src)
	return nil
}

// codecFor returns t's codec after checking that n values fill whole
// blocks taking exactly size bytes.
func codecFor(t Type, n, size int) (codec, error) {
	c, ok := codecs[t]
	if !ok {
		return codec{}, fmt.Errorf("gguf: %s: %w", t, ErrUnsupportedType)
	}
	want, err := t.RowSize(int64(n))
	if err != nil {
		return codec{}, fmt.Errorf("gguf: %w", err)
	}
	if int64(size) != want {
		return codec{}, fmt.Errorf("gguf: %s: %d values take %d bytes, not %d", t, n, want, size)
	}
	return c, nil
}
