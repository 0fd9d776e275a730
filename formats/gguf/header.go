package gguf

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// TensorInfo describes one tensor as the file declares it.
type TensorInfo struct {
	Name string
	Type Type
	// Dims are ggml's ne, innermost first: Dims[0] is the length of a row,
	// the contiguous dimension along which quantization blocks run. A
	// PyTorch weight of shape [out, in] has Dims [in, out]; see Shape.
	Dims []int64
	// Offset is where the tensor's data starts, relative to the start of
	// the data section; a multiple of the file's alignment.
	Offset int64
	// Size is the tensor's data size in bytes.
	Size int64
}

// NumElements returns the number of values in the tensor.
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Shape returns the dimensions outermost first, the order of PyTorch and
// safetensors: the reverse of Dims.
func (t TensorInfo) Shape() []int64 {
	s := slices.Clone(t.Dims)
	slices.Reverse(s)
	return s
}

// header is a parsed and validated file header.
type header struct {
	version   uint32
	kvs       []KV
	tensors   []TensorInfo // in file order
	alignment int64
	dataStart int // offset of the data section in the file
}

// parseHeader reads and validates the header of the file held in buf and
// every tensor's byte range; every error wraps ErrFormat.
func parseHeader(buf []byte) (*header, error) {
	if len(buf) < 4 || string(buf[:4]) != Magic {
		if len(buf) < 4 {
			return nil, errFormat("file is %d bytes, too short for the magic number", len(buf))
		}
		return nil, errFormat("magic number %q is not %q", buf[:4], Magic)
	}
	d := &decoder{buf: buf, off: 4}
	h := &header{alignment: DefaultAlignment}
	h.version = d.u32("version")
	if d.err == nil {
		if err := checkVersion(h.version); err != nil {
			return nil, err
		}
	}
	nTensors := d.u64("tensor count")
	nKV := d.u64("metadata count")
	if d.err != nil {
		return nil, d.err
	}
	// Both counts are bounded by the bytes left before either is used.
	d.count(16, nKV, minKVSize, math.MaxInt64, "metadata key-value pairs")
	d.count(8, nTensors, minTensorInfoSize, math.MaxInt64, "tensor infos")
	if d.err == nil && nKV*minKVSize+nTensors*minTensorInfoSize > uint64(d.remaining()) {
		d.fail(8, "%d tensor infos and %d key-value pairs need at least %d bytes, %d remain",
			nTensors, nKV, nKV*minKVSize+nTensors*minTensorInfoSize, d.remaining())
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := h.readMetadata(d, int(nKV)); err != nil {
		return nil, err
	}
	if err := h.readTensorInfos(d, int(nTensors)); err != nil {
		return nil, err
	}
	return h, h.checkLayout(d.off, len(buf))
}

// checkVersion accepts versions 2 and 3 of little-endian files.
func checkVersion(v uint32) error {
	switch {
	case v == 2 || v == Version:
		return nil
	case v != 0 && v&0xffff == 0 && bits.ReverseBytes32(v) <= Version:
		return errFormatAt(4, "version %#x is byte-swapped: big-endian files are not supported", v)
	case v == 1:
		return errFormatAt(4, "GGUF version 1 is not supported")
	}
	return errFormatAt(4, "unsupported GGUF version %d", v)
}

// readMetadata reads n key-value pairs and sets the alignment.
func (h *header) readMetadata(d *decoder, n int) error {
	h.kvs = make([]KV, 0, n)
	seen := make(map[string]bool, n)
	for range n {
		start := d.off
		key := d.name("key", MaxKeyLen)
		t := ValueType(d.u32("value type"))
		v := d.value(t, 0)
		if d.err != nil {
			return d.err
		}
		if seen[key] {
			return errFormatAt(start, "duplicate key %q", key)
		}
		seen[key] = true
		h.kvs = append(h.kvs, KV{key, v})
		if key == AlignmentKey {
			a, ok := As[uint32](v)
			if !ok {
				return errFormatAt(start, "%s is a %s, want u32", AlignmentKey, v.Type())
			}
			if a == 0 || a&(a-1) != 0 {
				return errFormatAt(start, "%s %d is not a power of two", AlignmentKey, a)
			}
			h.alignment = int64(a)
		}
	}
	return nil
}

// readTensorInfos reads n tensor infos and checks each on its own.
func (h *header) readTensorInfos(d *decoder, n int) error {
	h.tensors = make([]TensorInfo, 0, n)
	seen := make(map[string]bool, n)
	for range n {
		start := d.off
		t := TensorInfo{Name: d.name("tensor name", MaxTensorNameLen)}
		nDims := d.u32("dimension count")
		if d.err == nil && (nDims == 0 || nDims > MaxDims) {
			d.fail(start, "tensor %q has %d dimensions, want 1 to %d", t.Name, nDims, MaxDims)
		}
		if d.err != nil {
			return d.err
		}
		t.Dims = make([]int64, nDims)
		for i := range t.Dims {
			dim := d.u64("dimension")
			if d.err == nil && dim > math.MaxInt64 {
				d.fail(start, "tensor %q: dimension %d is %d, beyond int64", t.Name, i, dim)
			}
			t.Dims[i] = int64(dim)
		}
		t.Type = Type(d.u32("tensor type"))
		offset := d.u64("tensor offset")
		if d.err != nil {
			return d.err
		}
		if seen[t.Name] {
			return errFormatAt(start, "duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		if !t.Type.Known() {
			return errFormatAt(start, "tensor %q has unknown ggml type %d", t.Name, uint32(t.Type))
		}
		size, err := tensorSize(t.Type, t.Dims)
		if err != nil {
			return errFormatAt(start, "tensor %q: %v", t.Name, err)
		}
		if offset > math.MaxInt64 {
			return errFormatAt(start, "tensor %q: offset %d is beyond int64", t.Name, offset)
		}
		t.Offset, t.Size = int64(offset), size
		h.tensors = append(h.tensors, t)
	}
	return nil
}

// tensorSize returns the data size of a tensor of type t and dimensions
// dims, checking that rows hold whole blocks and that nothing overflows.
func tensorSize(t Type, dims []int64) (int64, error) {
	n := uint64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, errFormat("negative dimension %d", d)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, errFormat("dimensions %v hold more than %d values", dims, int64(math.MaxInt64))
		}
		n = lo
	}
	if bs := int64(t.BlockSize()); bs > 0 && dims[0]%bs != 0 {
		return 0, errFormat("row length %d is not a multiple of %s's block size %d", dims[0], t, bs)
	}
	size, err := t.dataSize(n)
	return int64(size), err
}

// checkLayout places the data section after the header, which ends at
// headerEnd, and checks that every tensor lies aligned within the file and
// overlaps no other.
func (h *header) checkLayout(headerEnd, fileSize int) error {
	start := alignUp(int64(headerEnd), h.alignment)
	if start > int64(fileSize) {
		if len(h.tensors) > 0 {
			return errFormat("data section would start at %d, past the end of the %d-byte file", start, fileSize)
		}
		start = int64(fileSize) // nothing lives there
	}
	h.dataStart = int(start)
	dataSize := int64(fileSize) - start
	for _, t := range h.tensors {
		switch {
		case t.Offset%h.alignment != 0:
			return errFormat("tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, h.alignment)
		case t.Offset > dataSize || t.Size > dataSize-t.Offset:
			return errFormat("tensor %q: data [%d, %d) runs past the end of the %d-byte data section",
				t.Name, t.Offset, uint64(t.Offset)+uint64(t.Size), dataSize)
		}
	}
	byOffset := slices.Clone(h.tensors)
	slices.SortFunc(byOffset, func(a, b TensorInfo) int { return cmp.Compare(a.Offset, b.Offset) })
	for i := 1; i < len(byOffset); i++ {
		if prev, t := byOffset[i-1], byOffset[i]; prev.Offset+prev.Size > t.Offset {
			return errFormat("tensors %q and %q overlap", prev.Name, t.Name)
		}
	}
	return nil
}

// alignUp rounds n up to a multiple of align, a power of two; n is far
// below the largest int64.
func alignUp(n, align int64) int64 {
	return (n + align - 1) &^ (align - 1)
}
