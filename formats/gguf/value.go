package gguf

import (
	"fmt"
	"slices"
)

// ValueType is the type of a metadata value, numbered as in the GGUF
// specification.
type ValueType uint32

// The metadata value types.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7 // one byte, 0 or 1
	ValueString  ValueType = 8 // u64 length, then UTF-8 bytes without a NUL
	ValueArray   ValueType = 9 // u32 element type, u64 count, then the elements
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"}

// String returns the type's short name, such as "u32", or "ValueType(N)"
// for an unknown one.
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// fixedSize returns the encoded size of a value of a fixed-size type, 0 for
// strings, arrays and unknown types.
func (t ValueType) fixedSize() int {
	switch t {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// minSize returns the fewest bytes a value of type t takes in a file: a
// lower bound used to check element counts before allocating.
func (t ValueType) minSize() int {
	switch t {
	case ValueString:
		return 8 // the length
	case ValueArray:
		return 12 // element type and count
	}
	return t.fixedSize()
}

// ScalarType is the set of Go types that hold a metadata scalar.
type ScalarType interface {
	uint8 | int8 | uint16 | int16 | uint32 | int32 | float32 | bool | string | uint64 | int64 | float64
}

// Value is one metadata value: a scalar, an array of scalars, or an array
// of arrays. The zero Value is invalid. Values are immutable: constructors
// and accessors copy slices.
type Value struct {
	v any // a ScalarType, a slice of one, or []Value
}

// Scalar returns the metadata value x; its type follows from x's Go type,
// so write Scalar(uint32(4096)) for a u32.
func Scalar[T ScalarType](x T) Value { return Value{x} }

// Array returns an array of scalars of the Go type T.
func Array[T ScalarType](xs []T) Value {
	if xs == nil {
		xs = []T{}
	}
	return Value{slices.Clone(xs)}
}

// Arrays returns an array whose elements are themselves arrays (of any
// element types). The GGUF specification allows such nesting, but
// llama.cpp's reader rejects it; no llama.cpp metadata key uses it.
func Arrays(elems ...Value) (Value, error) {
	for i, e := range elems {
		if e.Type() != ValueArray {
			return Value{}, fmt.Errorf("gguf: element %d of an array of arrays is a %s", i, e.Type())
		}
	}
	if elems == nil {
		elems = []Value{}
	}
	return Value{slices.Clone(elems)}, nil
}

// Type returns the value's type: the scalar's, or ValueArray. It returns
// ValueType(255) for the zero Value.
func (v Value) Type() ValueType {
	t, _ := typesOf(v.v)
	return t
}

// ElemType returns the type of an array's elements (ValueArray for an
// array of arrays), or ValueType(255) if v is not an array.
func (v Value) ElemType() ValueType {
	_, e := typesOf(v.v)
	return e
}

// invalidType is what Type and ElemType return when there is no type.
const invalidType ValueType = 255

// typesOf returns the value type of x and, for an array, its element type.
func typesOf(x any) (t, elem ValueType) {
	switch x.(type) {
	case uint8:
		return ValueUint8, invalidType
	case int8:
		return ValueInt8, invalidType
	case uint16:
		return ValueUint16, invalidType
	case int16:
		return ValueInt16, invalidType
	case uint32:
		return ValueUint32, invalidType
	case int32:
		return ValueInt32, invalidType
	case float32:
		return ValueFloat32, invalidType
	case bool:
		return ValueBool, invalidType
	case string:
		return ValueString, invalidType
	case uint64:
		return ValueUint64, invalidType
	case int64:
		return ValueInt64, invalidType
	case float64:
		return ValueFloat64, invalidType
	case []uint8:
		return ValueArray, ValueUint8
	case []int8:
		return ValueArray, ValueInt8
	case []uint16:
		return ValueArray, ValueUint16
	case []int16:
		return ValueArray, ValueInt16
	case []uint32:
		return ValueArray, ValueUint32
	case []int32:
		return ValueArray, ValueInt32
	case []float32:
		return ValueArray, ValueFloat32
	case []bool:
		return ValueArray, ValueBool
	case []string:
		return ValueArray, ValueString
	case []uint64:
		return ValueArray, ValueUint64
	case []int64:
		return ValueArray, ValueInt64
	case []float64:
		return ValueArray, ValueFloat64
	case []Value:
		return ValueArray, ValueArray
	}
	return invalidType, invalidType
}

// Len returns the number of elements of an array, 0 for a scalar.
func (v Value) Len() int {
	switch x := v.v.(type) {
	case []uint8:
		return len(x)
	case []int8:
		return len(x)
	case []uint16:
		return len(x)
	case []int16:
		return len(x)
	case []uint32:
		return len(x)
	case []int32:
		return len(x)
	case []float32:
		return len(x)
	case []bool:
		return len(x)
	case []string:
		return len(x)
	case []uint64:
		return len(x)
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	case []Value:
		return len(x)
	}
	return 0
}

// As returns the scalar held by v if it has the Go type T.
func As[T ScalarType](v Value) (T, bool) {
	x, ok := v.v.(T)
	return x, ok
}

// AsArray returns a copy of the elements of an array of T.
func AsArray[T ScalarType](v Value) ([]T, bool) {
	xs, ok := v.v.([]T)
	return slices.Clone(xs), ok
}

// Elems returns a copy of the elements of an array of arrays.
func (v Value) Elems() ([]Value, bool) {
	xs, ok := v.v.([]Value)
	return slices.Clone(xs), ok
}

// Any returns the Go value held by v: a scalar, a slice of scalars, or
// []Value for an array of arrays. Slices are shared: do not modify them.
func (v Value) Any() any { return v.v }

// String formats the value for people, arrays of more than 8 elements
// abridged.
func (v Value) String() string {
	const most = 8
	switch x := v.v.(type) {
	case nil:
		return "<invalid>"
	case string:
		return fmt.Sprintf("%q", x)
	case []Value:
		s := "["
		for i, e := range x {
			if i == most {
				return s + fmt.Sprintf(" ... (%d)]", len(x))
			}
			if i > 0 {
				s += " "
			}
			s += e.String()
		}
		return s + "]"
	}
	if n := v.Len(); n > most {
		return fmt.Sprintf("%s[%d]", v.ElemType(), n)
	}
	return fmt.Sprint(v.v)
}

// KV is one metadata key and its value.
type KV struct {
	Key   string
	Value Value
}
