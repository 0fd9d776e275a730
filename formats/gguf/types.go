package gguf

import (
	"fmt"
	"math"
	"math/bits"
)

// Type is a ggml tensor type: how a tensor's values are stored. Quantized
// types store a row as consecutive blocks of BlockSize values, each block
// taking TypeSize bytes.
type Type uint32

// The ggml tensor types, numbered as in ggml's enum ggml_type. The gaps are
// types ggml has removed; files that use them are rejected. qtk encodes
// and decodes F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K and Q6_K
// (see [Type.HasCodec]); the others are known so that files holding them
// can be read and their tensors passed through as bytes.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39
	TypeNVFP4   Type = 40
	TypeQ1_0    Type = 41
)

// typeInfo is the storage layout of one type, from the block structs of
// ggml's ggml-common.h.
type typeInfo struct {
	name      string
	blockSize int // values per block
	typeSize  int // bytes per block
}

var typeInfos = map[Type]typeInfo{
	TypeF32:     {"F32", 1, 4},
	TypeF16:     {"F16", 1, 2},
	TypeQ4_0:    {"Q4_0", 32, 18},
	TypeQ4_1:    {"Q4_1", 32, 20},
	TypeQ5_0:    {"Q5_0", 32, 22},
	TypeQ5_1:    {"Q5_1", 32, 24},
	TypeQ8_0:    {"Q8_0", 32, 34},
	TypeQ8_1:    {"Q8_1", 32, 36},
	TypeQ2_K:    {"Q2_K", 256, 84},
	TypeQ3_K:    {"Q3_K", 256, 110},
	TypeQ4_K:    {"Q4_K", 256, 144},
	TypeQ5_K:    {"Q5_K", 256, 176},
	TypeQ6_K:    {"Q6_K", 256, 210},
	TypeQ8_K:    {"Q8_K", 256, 292},
	TypeIQ2_XXS: {"IQ2_XXS", 256, 66},
	TypeIQ2_XS:  {"IQ2_XS", 256, 74},
	TypeIQ3_XXS: {"IQ3_XXS", 256, 98},
	TypeIQ1_S:   {"IQ1_S", 256, 50},
	TypeIQ4_NL:  {"IQ4_NL", 32, 18},
	TypeIQ3_S:   {"IQ3_S", 256, 110},
	TypeIQ2_S:   {"IQ2_S", 256, 82},
	TypeIQ4_XS:  {"IQ4_XS", 256, 136},
	TypeI8:      {"I8", 1, 1},
	TypeI16:     {"I16", 1, 2},
	TypeI32:     {"I32", 1, 4},
	TypeI64:     {"I64", 1, 8},
	TypeF64:     {"F64", 1, 8},
	TypeIQ1_M:   {"IQ1_M", 256, 56},
	TypeBF16:    {"BF16", 1, 2},
	TypeTQ1_0:   {"TQ1_0", 256, 54},
	TypeTQ2_0:   {"TQ2_0", 256, 66},
	TypeMXFP4:   {"MXFP4", 32, 17},
	TypeNVFP4:   {"NVFP4", 64, 36},
	TypeQ1_0:    {"Q1_0", 128, 18},
}

// Known reports whether t is a ggml type this package knows the layout of.
func (t Type) Known() bool {
	_, ok := typeInfos[t]
	return ok
}

// String returns ggml's name for the type, such as "Q4_K", or "Type(N)"
// for an unknown one.
func (t Type) String() string {
	if info, ok := typeInfos[t]; ok {
		return info.name
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// BlockSize returns the number of values in one block, 1 for unquantized
// types and 0 for an unknown type. A row's length must be a multiple of it.
func (t Type) BlockSize() int { return typeInfos[t].blockSize }

// TypeSize returns the size in bytes of one block, 0 for an unknown type.
func (t Type) TypeSize() int { return typeInfos[t].typeSize }

// RowSize returns the size in bytes of n values of type t. It fails for an
// unknown type, for n that is not a multiple of the block size, and for a
// size that overflows an int64.
func (t Type) RowSize(n int64) (int64, error) {
	size, err := t.dataSize(uint64(max(n, 0)))
	if err == nil && n < 0 {
		err = fmt.Errorf("%s: negative value count %d", t, n)
	}
	return int64(size), err
}

// dataSize returns the size in bytes of n values of type t, at most
// math.MaxInt64.
func (t Type) dataSize(n uint64) (uint64, error) {
	info, ok := typeInfos[t]
	if !ok {
		return 0, fmt.Errorf("unknown ggml type %d", uint32(t))
	}
	if n%uint64(info.blockSize) != 0 {
		return 0, fmt.Errorf("%s: %d values is not a multiple of the block size %d", t, n, info.blockSize)
	}
	hi, size := bits.Mul64(n/uint64(info.blockSize), uint64(info.typeSize))
	if hi != 0 || size > math.MaxInt64 {
		return 0, fmt.Errorf("%s: %d values take more than %d bytes", t, n, int64(math.MaxInt64))
	}
	return size, nil
}
