package safetensors

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// File is one parsed safetensors file. Its methods are safe for concurrent
// use until Close.
type File struct {
	name    string // the path, for error messages
	buf     []byte // the whole file
	header  *header
	byName  map[string]int // index into header.tensors
	release func([]byte) error
	closed  bool
}

// Parse reads a safetensors file held in memory. The returned tensors' Data
// alias buf. Errors are prefixed "safetensors:" and wrap [ErrFormat].
func Parse(buf []byte) (*File, error) {
	f, err := parse("", buf)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

// parse validates buf as a safetensors file; name labels errors of its
// tensors later on.
func parse(name string, buf []byte) (*File, error) {
	h, err := parseHeader(buf)
	if err != nil {
		return nil, err
	}
	f := &File{name: name, buf: buf, header: h, byName: make(map[string]int, len(h.tensors))}
	for i, t := range h.tensors {
		f.byName[t.Name] = i
	}
	return f, nil
}

// Metadata returns a copy of the header's __metadata__ strings.
func (f *File) Metadata() map[string]string { return maps.Clone(f.header.metadata) }

// Tensors describes every tensor, in the order of their data.
func (f *File) Tensors() []TensorInfo {
	infos := slices.Clone(f.header.tensors)
	for i := range infos {
		infos[i].Shape = slices.Clone(infos[i].Shape)
	}
	return infos
}

// Tensor returns the named tensor, its Data aliasing the file. For a File
// from [Open], Data is read-only and valid only until Close.
func (f *File) Tensor(name string) (Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Tensor{}, false
	}
	info := f.header.tensors[i]
	start := int64(f.header.dataStart)
	return Tensor{
		Name:  info.Name,
		DType: info.DType,
		Shape: slices.Clone(info.Shape),
		Data:  f.buf[start+info.Begin : start+info.End : start+info.End],
		file:  f.name,
	}, true
}

// Close releases the file's memory mapping, after which the Data of its
// tensors must not be touched. Closing twice is an error.
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
		return "safetensors"
	}
	return f.name
}
