package gguf

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// decoder reads little-endian values from a byte slice, checking every
// read against the bytes left. The first failure is kept in err; reads
// after it return zero values, so callers check err once per item and never
// act on a value read after a failure.
type decoder struct {
	buf []byte
	off int
	err error
}

// fail records a format error at offset off, if none is recorded yet.
func (d *decoder) fail(off int, format string, args ...any) {
	if d.err == nil {
		d.err = errFormatAt(off, format, args...)
	}
}

// remaining returns the number of unread bytes.
func (d *decoder) remaining() int { return len(d.buf) - d.off }

// take returns the next n bytes, or nil after recording an error that
// names what was being read.
func (d *decoder) take(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(d.remaining()) {
		d.fail(d.off, "truncated: %s needs %d bytes, %d remain", what, n, d.remaining())
		return nil
	}
	b := d.buf[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *decoder) u8(what string) uint8 {
	if b := d.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if b := d.take(2, what); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if b := d.take(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if b := d.take(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// str reads a length-prefixed string of at most limit bytes.
func (d *decoder) str(what string, limit uint64) string {
	start := d.off
	n := d.u64(what + " length")
	if d.err != nil {
		return ""
	}
	if n > limit {
		d.fail(start, "%s length %d exceeds the limit of %d bytes", what, n, limit)
		return ""
	}
	return string(d.take(n, what))
}

// name reads a key or tensor name: non-empty UTF-8 of at most limit bytes.
func (d *decoder) name(what string, limit uint64) string {
	start := d.off
	s := d.str(what, limit)
	switch {
	case d.err != nil:
	case s == "":
		d.fail(start, "empty %s", what)
	case !utf8.ValidString(s):
		d.fail(start, "%s %q is not valid UTF-8", what, s)
	}
	return s
}

// count checks that n elements of at least minSize bytes each can still
// follow, so that n is safe to allocate for.
func (d *decoder) count(off int, n uint64, minSize int, limit uint64, what string) bool {
	if d.err != nil {
		return false
	}
	if n > limit {
		d.fail(off, "%d %s exceed the limit of %d", n, what, limit)
		return false
	}
	if n > uint64(d.remaining()/minSize) {
		d.fail(off, "%d %s need at least %d bytes each, %d remain", n, what, minSize, d.remaining())
		return false
	}
	return true
}

// value reads one metadata value of type t; depth counts the arrays that
// enclose it.
func (d *decoder) value(t ValueType, depth int) Value {
	start := d.off
	var v any
	switch t {
	case ValueUint8:
		v = d.u8("u8 value")
	case ValueInt8:
		v = int8(d.u8("i8 value"))
	case ValueUint16:
		v = d.u16("u16 value")
	case ValueInt16:
		v = int16(d.u16("i16 value"))
	case ValueUint32:
		v = d.u32("u32 value")
	case ValueInt32:
		v = int32(d.u32("i32 value"))
	case ValueFloat32:
		v = math.Float32frombits(d.u32("f32 value"))
	case ValueBool:
		b := d.u8("bool value")
		if b > 1 {
			d.fail(start, "bool value %d is neither 0 nor 1", b)
		}
		v = b == 1
	case ValueString:
		v = d.str("string value", MaxStringLen)
	case ValueUint64:
		v = d.u64("u64 value")
	case ValueInt64:
		v = int64(d.u64("i64 value"))
	case ValueFloat64:
		v = math.Float64frombits(d.u64("f64 value"))
	case ValueArray:
		return d.array(depth + 1)
	default:
		d.fail(start, "unknown value type %d", uint32(t))
	}
	if d.err != nil {
		return Value{}
	}
	return Value{v}
}

// array reads an array's element type, count and elements; depth counts
// the arrays enclosing its elements, itself included.
func (d *decoder) array(depth int) Value {
	start := d.off
	elem := ValueType(d.u32("array element type"))
	n := d.u64("array length")
	if d.err != nil {
		return Value{}
	}
	if elem.minSize() == 0 {
		d.fail(start, "array of unknown value type %d", uint32(elem))
		return Value{}
	}
	if elem == ValueArray && depth >= MaxArrayDepth {
		d.fail(start, "arrays nest deeper than the limit of %d", MaxArrayDepth)
		return Value{}
	}
	if !d.count(start, n, elem.minSize(), MaxArrayLen, elem.String()+" array elements") {
		return Value{}
	}
	if size := elem.fixedSize(); size > 0 {
		return d.fixedArray(elem, d.take(n*uint64(size), "array"))
	}
	if elem == ValueString {
		xs := make([]string, n)
		for i := range xs {
			if xs[i] = d.str("string element", MaxStringLen); d.err != nil {
				return Value{}
			}
		}
		return Value{xs}
	}
	xs := make([]Value, n)
	for i := range xs {
		if xs[i] = d.array(depth + 1); d.err != nil {
			return Value{}
		}
	}
	return Value{xs}
}

// fixedArray decodes the elements of an array of a fixed-size type from b,
// which holds exactly their bytes.
func (d *decoder) fixedArray(elem ValueType, b []byte) Value {
	if d.err != nil {
		return Value{}
	}
	le := binary.LittleEndian
	switch elem {
	case ValueUint8:
		return Value{append([]uint8{}, b...)}
	case ValueInt8:
		xs := make([]int8, len(b))
		for i := range xs {
			xs[i] = int8(b[i])
		}
		return Value{xs}
	case ValueBool:
		xs := make([]bool, len(b))
		for i, c := range b {
			if c > 1 {
				d.fail(d.off-len(b)+i, "bool value %d is neither 0 nor 1", c)
				return Value{}
			}
			xs[i] = c == 1
		}
		return Value{xs}
	case ValueUint16:
		xs := make([]uint16, len(b)/2)
		for i := range xs {
			xs[i] = le.Uint16(b[2*i:])
		}
		return Value{xs}
	case ValueInt16:
		xs := make([]int16, len(b)/2)
		for i := range xs {
			xs[i] = int16(le.Uint16(b[2*i:]))
		}
		return Value{xs}
	case ValueUint32:
		xs := make([]uint32, len(b)/4)
		for i := range xs {
			xs[i] = le.Uint32(b[4*i:])
		}
		return Value{xs}
	case ValueInt32:
		xs := make([]int32, len(b)/4)
		for i := range xs {
			xs[i] = int32(le.Uint32(b[4*i:]))
		}
		return Value{xs}
	case ValueFloat32:
		xs := make([]float32, len(b)/4)
		for i := range xs {
			xs[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return Value{xs}
	case ValueUint64:
		xs := make([]uint64, len(b)/8)
		for i := range xs {
			xs[i] = le.Uint64(b[8*i:])
		}
		return Value{xs}
	case ValueInt64:
		xs := make([]int64, len(b)/8)
		for i := range xs {
			xs[i] = int64(le.Uint64(b[8*i:]))
		}
		return Value{xs}
	case ValueFloat64:
		xs := make([]float64, len(b)/8)
		for i := range xs {
			xs[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return Value{xs}
	}
	d.fail(d.off, "array of %s is not of a fixed-size type", elem) // unreachable: callers pass fixed-size types
	return Value{}
}
