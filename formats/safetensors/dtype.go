package safetensors

import (
	"fmt"
	"math/bits"
)

// DType is a tensor element type, spelled as in the header ("BF16").
type DType string

// The element types qtk converts to float32 (see [Tensor.Float32]).
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U64  DType = "U64"
	U32  DType = "U32"
	U16  DType = "U16"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Element types the format defines but qtk does not convert. Files holding
// them open and their raw bytes can be read or written; [Tensor.Float32]
// fails with [ErrUnsupportedDType].
const (
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	F8E8M0 DType = "F8_E8M0"
	F6E2M3 DType = "F6_E2M3"
	F6E3M2 DType = "F6_E3M2"
	F4     DType = "F4"
	C64    DType = "C64"
)

// dtypeBits is the width of each element type the format defines.
var dtypeBits = map[DType]int{
	F64: 64, I64: 64, U64: 64, C64: 64,
	F32: 32, I32: 32, U32: 32,
	F16: 16, BF16: 16, I16: 16, U16: 16,
	I8: 8, U8: 8, BOOL: 8, F8E4M3: 8, F8E5M2: 8, F8E8M0: 8,
	F6E2M3: 6, F6E3M2: 6, F4: 4,
}

// Bits returns the width of one element in bits, or 0 if the format does
// not define d.
func (d DType) Bits() int { return dtypeBits[d] }

// numElements returns the product of shape's dimensions, failing on a
// negative dimension or a product that overflows int.
func numElements(shape []int) (int, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d == 0 {
			return 0, nil
		}
	}
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > maxInt {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n = lo
	}
	return int(n), nil
}

const maxInt = uint64(^uint(0) >> 1)

// byteSize returns the number of data bytes a tensor of dtype d and the
// given shape occupies.
func byteSize(d DType, shape []int) (int64, error) {
	width := d.Bits()
	if width == 0 {
		return 0, fmt.Errorf("unknown dtype %q", string(d))
	}
	n, err := numElements(shape)
	if err != nil {
		return 0, err
	}
	hi, nbits := bits.Mul64(uint64(n), uint64(width))
	if hi != 0 || nbits/8 > maxInt {
		return 0, fmt.Errorf("shape %v of %s is too large", shape, d)
	}
	if nbits%8 != 0 {
		return 0, fmt.Errorf("shape %v of %s does not fill whole bytes", shape, d)
	}
	return int64(nbits / 8), nil
}
