package gguf

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/qtk-dev/qtk/internal/mmap"
)

// File is one parsed GGUF file. Its methods are safe for concurrent use
// until Close.
type File struct {
	name    string // the path, for error messages; "" for Parse
	buf     []byte // the whole file
	h       *header
	byKey   map[string]int // index into h.kvs
	byName  map[string]int // index into h.tensors
	release func([]byte) error
	closed  bool
}

// Open maps the file at path into memory and parses it, validating the
// whole header and every tensor's byte range. Tensor data is never copied:
// [File.TensorData] returns slices of the read-only mapping, so the File
// must stay open while they are in use, and they must not be written to.
// Errors name the path; malformed files give errors wrapping [ErrFormat].
func Open(path string) (*File, error) {
	buf, err := mmap.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(buf) < 4 {
		mmap.Unmap(buf)
		return nil, fmt.Errorf("%s: %w", path, errFormat("file is %d bytes, too short for the magic number", len(buf)))
	}
	f, err := parse(path, buf)
	if err != nil {
		mmap.Unmap(buf)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.release = mmap.Unmap
	return f, nil
}

// Parse reads a GGUF file held in memory. The File aliases data, which
// must not change while the File is in use. Errors are prefixed "gguf:";
// malformed input gives errors wrapping [ErrFormat].
func Parse(data []byte) (*File, error) {
	f, err := parse("", data)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return f, nil
}

// parse validates buf as a GGUF file; name labels later errors.
func parse(name string, buf []byte) (*File, error) {
	h, err := parseHeader(buf)
	if err != nil {
		return nil, err
	}
	f := &File{
		name:   name,
		buf:    buf,
		h:      h,
		byKey:  make(map[string]int, len(h.kvs)),
		byName: make(map[string]int, len(h.tensors)),
	}
	for i, kv := range h.kvs {
		f.byKey[kv.Key] = i
	}
	for i, t := range h.tensors {
		f.byName[t.Name] = i
	}
	return f, nil
}

// Version returns the file's GGUF version, 2 or 3.
func (f *File) Version() uint32 { return f.h.version }

// Alignment returns the alignment of tensor data in bytes.
func (f *File) Alignment() int64 { return f.h.alignment }

// DataOffset returns the offset in the file of the data section, where
// tensor offsets start from.
func (f *File) DataOffset() int64 { return int64(f.h.dataStart) }

// Metadata returns every key-value pair, in file order.
func (f *File) Metadata() []KV { return slices.Clone(f.h.kvs) }

// Value returns the metadata value of key.
func (f *File) Value(key string) (Value, bool) {
	i, ok := f.byKey[key]
	if !ok {
		return Value{}, false
	}
	return f.h.kvs[i].Value, true
}

// Get returns the scalar metadata value of key, which must have the Go
// type T: Get[uint32](f, "llama.block_count").
func Get[T ScalarType](f *File, key string) (T, error) {
	var zero T
	v, err := f.lookup(key)
	if err != nil {
		return zero, err
	}
	x, ok := As[T](v)
	if !ok {
		return zero, f.typeError(key, v, Scalar(zero).Type().String())
	}
	return x, nil
}

// GetArray returns a copy of the array metadata value of key, whose
// elements must have the Go type T: GetArray[string](f, "tokenizer.ggml.tokens").
func GetArray[T ScalarType](f *File, key string) ([]T, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	xs, ok := AsArray[T](v)
	if !ok {
		var zero T
		return nil, f.typeError(key, v, "array of "+Scalar(zero).Type().String())
	}
	return xs, nil
}

// Int returns the metadata value of key, which may have any integer type,
// as an int64. Converters disagree on the integer types of some keys (u32
// or u64 for lengths, i32 or u32 for token ids); Int accepts them all.
func (f *File) Int(key string) (int64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	switch x := v.Any().(type) {
	case uint8:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
		return 0, fmt.Errorf("%s: metadata %q: %d does not fit an int64: %w", f.label(), key, x, ErrValueType)
	}
	return 0, f.typeError(key, v, "integer")
}

func (f *File) lookup(key string) (Value, error) {
	v, ok := f.Value(key)
	if !ok {
		return Value{}, fmt.Errorf("%s: metadata %q: %w", f.label(), key, ErrNotFound)
	}
	return v, nil
}

func (f *File) typeError(key string, v Value, want string) error {
	got := v.Type().String()
	if v.Type() == ValueArray {
		got = "array of " + v.ElemType().String()
	}
	return fmt.Errorf("%s: metadata %q is a %s, want %s: %w", f.label(), key, got, want, ErrValueType)
}

// Tensors describes every tensor, in file order.
func (f *File) Tensors() []TensorInfo {
	infos := slices.Clone(f.h.tensors)
	for i := range infos {
		infos[i].Dims = slices.Clone(infos[i].Dims)
	}
	return infos
}

// Tensor describes the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.h.tensors[i]
	t.Dims = slices.Clone(t.Dims)
	return t, true
}

// TensorData returns the named tensor's bytes, aliasing the file. For a
// File from [Open] they are read-only and valid only until Close.
func (f *File) TensorData(name string) ([]byte, error) {
	if f.closed {
		return nil, fmt.Errorf("%s: file is closed", f.label())
	}
	i, ok := f.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.label(), name, ErrNotFound)
	}
	t := f.h.tensors[i]
	start := int64(f.h.dataStart) + t.Offset // checked by checkLayout
	return f.buf[start : start+t.Size : start+t.Size], nil
}

// Dequantize decodes the named tensor into a new slice of float32 values,
// in file order (row after row). It fails with an error wrapping
// [ErrUnsupportedType] for a type without a codec (see [Type.HasCodec]).
func (f *File) Dequantize(name string) ([]float32, error) {
	data, err := f.TensorData(name)
	if err != nil {
		return nil, err
	}
	t, _ := f.Tensor(name)
	if !t.Type.HasCodec() {
		return nil, fmt.Errorf("%s: tensor %q: %s: %w", f.label(), name, t.Type, ErrUnsupportedType)
	}
	out := make([]float32, t.NumElements())
	if err := Decode(t.Type, out, data); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.label(), name, err)
	}
	return out, nil
}

// Close releases the file's memory mapping, after which slices from
// TensorData must not be touched. Closing twice is an error.
func (f *File) Close() error {
	if f.closed {
		return errors.New(f.label() + ": already closed")
	}
	f.closed = true
	if f.release == nil {
		return nil
	}
	if err := f.release(f.buf); err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	return nil
}

// label names the file in error messages.
func (f *File) label() string {
	if f.name == "" {
		return "gguf"
	}
	return f.name
}
