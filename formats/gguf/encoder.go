package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// appendHeader appends the encoding of a whole header: magic, version,
// counts, the key-value pairs and tensor infos in the order given, and zero
// padding up to the alignment, where the data section starts.
func appendHeader(b []byte, kvs []KV, tensors []TensorInfo, alignment int64) []byte {
	le := binary.LittleEndian
	b = append(b, Magic...)
	b = le.AppendUint32(b, Version)
	b = le.AppendUint64(b, uint64(len(tensors)))
	b = le.AppendUint64(b, uint64(len(kvs)))
	for _, kv := range kvs {
		b = appendString(b, kv.Key)
		b = le.AppendUint32(b, uint32(kv.Value.Type()))
		b = appendValue(b, kv.Value)
	}
	for _, t := range tensors {
		b = appendString(b, t.Name)
		b = le.AppendUint32(b, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			b = le.AppendUint64(b, uint64(d))
		}
		b = le.AppendUint32(b, uint32(t.Type))
		b = le.AppendUint64(b, uint64(t.Offset))
	}
	for int64(len(b))%alignment != 0 {
		b = append(b, 0)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue appends v's encoding without its type, which precedes it
// only at the top level and is given once for an array's elements.
func appendValue(b []byte, v Value) []byte {
	le := binary.LittleEndian
	switch x := v.v.(type) {
	case uint8:
		return append(b, x)
	case int8:
		return append(b, byte(x))
	case uint16:
		return le.AppendUint16(b, x)
	case int16:
		return le.AppendUint16(b, uint16(x))
	case uint32:
		return le.AppendUint32(b, x)
	case int32:
		return le.AppendUint32(b, uint32(x))
	case float32:
		return le.AppendUint32(b, math.Float32bits(x))
	case bool:
		if x {
			return append(b, 1)
		}
		return append(b, 0)
	case string:
		return appendString(b, x)
	case uint64:
		return le.AppendUint64(b, x)
	case int64:
		return le.AppendUint64(b, uint64(x))
	case float64:
		return le.AppendUint64(b, math.Float64bits(x))
	case []uint8:
		return append(appendArrayHead(b, v), x...)
	case []int8:
		return appendEach(appendArrayHead(b, v), x)
	case []uint16:
		return appendEach(appendArrayHead(b, v), x)
	case []int16:
		return appendEach(appendArrayHead(b, v), x)
	case []uint32:
		return appendEach(appendArrayHead(b, v), x)
	case []int32:
		return appendEach(appendArrayHead(b, v), x)
	case []float32:
		return appendEach(appendArrayHead(b, v), x)
	case []bool:
		return appendEach(appendArrayHead(b, v), x)
	case []string:
		return appendEach(appendArrayHead(b, v), x)
	case []uint64:
		return appendEach(appendArrayHead(b, v), x)
	case []int64:
		return appendEach(appendArrayHead(b, v), x)
	case []float64:
		return appendEach(appendArrayHead(b, v), x)
	case []Value:
		b = appendArrayHead(b, v)
		for _, e := range x {
			b = appendValue(b, e)
		}
		return b
	}
	return b // the zero Value: checkValue refuses it first
}

func appendArrayHead(b []byte, v Value) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(v.ElemType()))
	return binary.LittleEndian.AppendUint64(b, uint64(v.Len()))
}

func appendEach[T ScalarType](b []byte, xs []T) []byte {
	for _, x := range xs {
		b = appendValue(b, Value{x})
	}
	return b
}

// checkValue checks that v is valid and within the reader's limits; depth
// counts the arrays enclosing it.
func checkValue(v Value, depth int) error {
	switch x := v.v.(type) {
	case nil:
		return fmt.Errorf("invalid (zero) Value")
	case string:
		if len(x) > MaxStringLen {
			return fmt.Errorf("string of %d bytes exceeds the limit of %d", len(x), MaxStringLen)
		}
	case []string:
		for _, s := range x {
			if len(s) > MaxStringLen {
				return fmt.Errorf("string of %d bytes exceeds the limit of %d", len(s), MaxStringLen)
			}
		}
	case []Value:
		if depth+1 >= MaxArrayDepth {
			return fmt.Errorf("arrays nest deeper than the limit of %d", MaxArrayDepth)
		}
		for _, e := range x {
			if e.Type() != ValueArray {
				return fmt.Errorf("array of arrays holds a %s", e.Type())
			}
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	}
	if v.Type() == ValueArray && v.Len() > MaxArrayLen {
		return fmt.Errorf("array of %d elements exceeds the limit of %d", v.Len(), MaxArrayLen)
	}
	return nil
}

// checkName checks a key or tensor name.
func checkName(what, s string, limit int) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case len(s) > limit:
		return fmt.Errorf("%s %q is %d bytes, longer than the limit of %d", what, s, len(s), limit)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	return nil
}
