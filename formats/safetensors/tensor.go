package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/qtk-dev/qtk/internal/half"
	"github.com/qtk-dev/qtk/internal/linalg"
)

// Tensor is one tensor of a file. Data holds its elements in little-endian
// byte order, row-major; for a tensor from [Open] it aliases the read-only
// file mapping and is valid until the File is closed.
type Tensor struct {
	Name  string
	DType DType
	Shape []int // empty for a scalar
	Data  []byte

	file string // the file's path, for error messages
}

// NumElements returns the number of elements: the product of Shape, 1 for
// a scalar. It returns 0 for a shape that has a negative dimension or
// overflows int, which a parsed file never has.
func (t Tensor) NumElements() int {
	n, err := numElements(t.Shape)
	if err != nil {
		return 0
	}
	return n
}

// Float32 returns the tensor's elements converted to float32 in a new
// slice. See [Tensor.Float32Into] for the conversions.
func (t Tensor) Float32() ([]float32, error) {
	n, err := numElements(t.Shape)
	if err != nil {
		return nil, t.errorf("%v", err)
	}
	dst := make([]float32, n)
	if err := t.Float32Into(dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// Float32Into converts the tensor's elements to float32 into dst, which
// must hold exactly NumElements values.
//
// F32, F16 and BF16 convert exactly. F64 and the integer types convert to
// the nearest float32 (integers beyond ±2²⁴ may lose low bits); BOOL gives
// 0 or 1. Any other dtype (the float8, float6 and float4 formats, C64)
// fails with an error wrapping [ErrUnsupportedDType] that names the tensor
// and the dtype.
func (t Tensor) Float32Into(dst []float32) error {
	widen, ok := wideners[t.DType]
	if !ok {
		return fmt.Errorf("%s: tensor %q: %w %s", t.label(), t.Name, ErrUnsupportedDType, t.DType)
	}
	size, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return t.errorf("%v", err)
	}
	n := t.NumElements()
	switch {
	case int64(len(t.Data)) != size:
		return t.errorf("shape %v of %s needs %d bytes of data, have %d", t.Shape, t.DType, size, len(t.Data))
	case len(dst) != n:
		return t.errorf("destination holds %d values, tensor has %d", len(dst), n)
	}
	// In pieces over the cores: embeddings and heads are hundreds of
	// millions of values, read from a mapped file.
	width := int(size) / max(n, 1)
	linalg.ParallelFor(n, widenPiece, func(lo, hi int) { widen(dst[lo:hi], t.Data[lo*width:hi*width]) })
	return nil
}

// widenPiece is the values one core widens at a time.
const widenPiece = 1 << 20

func (t Tensor) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: tensor %q: %s", t.label(), t.Name, fmt.Sprintf(format, args...))
}

func (t Tensor) label() string {
	if t.file == "" {
		return "safetensors"
	}
	return t.file
}

// wideners convert little-endian src into dst; len(src) is len(dst) times
// the element size.
var wideners = map[DType]func(dst []float32, src []byte){
	F32:  widenF32,
	F16:  func(dst []float32, src []byte) { half.F16ToF32Slice(dst, src) },
	BF16: func(dst []float32, src []byte) { half.BF16ToF32Slice(dst, src) },
	F64:  func(dst []float32, src []byte) { each(dst, src, 8, f64) },
	I64:  func(dst []float32, src []byte) { each(dst, src, 8, i64) },
	I32:  func(dst []float32, src []byte) { each(dst, src, 4, i32) },
	I16:  func(dst []float32, src []byte) { each(dst, src, 2, i16) },
	I8:   func(dst []float32, src []byte) { each(dst, src, 1, i8) },
	U64:  func(dst []float32, src []byte) { each(dst, src, 8, u64) },
	U32:  func(dst []float32, src []byte) { each(dst, src, 4, u32) },
	U16:  func(dst []float32, src []byte) { each(dst, src, 2, u16) },
	U8:   func(dst []float32, src []byte) { each(dst, src, 1, u8) },
	BOOL: func(dst []float32, src []byte) { each(dst, src, 1, boolean) },
}

func widenF32(dst []float32, src []byte) {
	src = src[:4*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// each converts element i of src, size bytes wide, with conv into dst[i].
func each(dst []float32, src []byte, size int, conv func([]byte) float32) {
	src = src[:len(dst)*size]
	for i := range dst {
		dst[i] = conv(src[i*size:])
	}
}

func f64(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }
func i64(b []byte) float32 { return float32(int64(binary.LittleEndian.Uint64(b))) }
func i32(b []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(b))) }
func i16(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) }
func i8(b []byte) float32  { return float32(int8(b[0])) }
func u64(b []byte) float32 { return float32(binary.LittleEndian.Uint64(b)) }
func u32(b []byte) float32 { return float32(binary.LittleEndian.Uint32(b)) }
func u16(b []byte) float32 { return float32(binary.LittleEndian.Uint16(b)) }
func u8(b []byte) float32  { return float32(b[0]) }

func boolean(b []byte) float32 {
	if b[0] != 0 {
		return 1
	}
	return 0
}
