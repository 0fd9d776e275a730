package gguf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// Writer writes a GGUF file (version 3) without holding tensor data: set
// the metadata and declare every tensor first, then write each tensor's
// data in declared order, then Close. It is not safe for concurrent use.
//
// Metadata keys and tensors appear in the file in the order they were set
// and declared, so the same calls always give the same bytes. Each
// tensor's data starts at a multiple of the alignment (32 bytes, or
// general.alignment if set) and is zero-padded after, the last one too, as
// llama.cpp's own writers do.
//
// The file is written under a temporary name in the same directory and
// renamed to its path by Close once every tensor is written in full, so an
// interrupted or failed write never leaves a file that looks complete; an
// existing file at the path is replaced only then. After any error the
// Writer is unusable: later calls return the same error, and Close (or
// Abort) removes the temporary file. A typical use defers Abort, which does
// nothing after a successful Close:
//
//	w, err := gguf.NewWriter(path)
//	if err != nil { ... }
//	defer w.Abort()
//	w.Set("general.architecture", gguf.Scalar("llama"))
//	w.Declare("token_embd.weight", gguf.TypeQ4_K, 4096, 32000) // Dims innermost first
//	...
//	w.WriteTensor("token_embd.weight", data) // or Create, or WriteFloat32
//	...
//	return w.Close()
type Writer struct {
	path      string
	kvs       []KV
	keys      map[string]bool
	alignment int64
	tensors   []TensorInfo // in declared order
	byName    map[string]int

	state   writerState
	next    int           // the next tensor to write
	current *tensorWriter // the tensor being written
	file    *os.File      // the temporary file
	out     *bufio.Writer
	size    int64 // bytes written to out
	err     error // the first error; sticky
}

type writerState int

const (
	declaring writerState = iota
	writing
	closed
)

// NewWriter starts a GGUF file at path, creating its temporary file in the
// same directory.
func NewWriter(path string) (*Writer, error) {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err // the temporary name means nothing to the caller
		}
		return nil, fmt.Errorf("%s: cannot create: %w", path, err)
	}
	return &Writer{
		path:      path,
		keys:      make(map[string]bool),
		alignment: DefaultAlignment,
		byName:    make(map[string]int),
		file:      f,
		out:       bufio.NewWriterSize(f, 1<<20),
	}, nil
}

// Set adds a metadata key-value pair. Every key must be set before the
// first tensor is written, and only once. Setting general.alignment, a
// u32 power of two of at least 8, changes the alignment of tensor data.
func (w *Writer) Set(key string, v Value) error {
	if err := w.usable(); err != nil {
		return err
	}
	if w.state != declaring {
		return w.fail(fmt.Errorf("metadata %q: set after writing began", key))
	}
	if err := checkName("key", key, MaxKeyLen); err != nil {
		return w.fail(err)
	}
	if w.keys[key] {
		return w.fail(fmt.Errorf("metadata %q: set twice", key))
	}
	if err := checkValue(v, 0); err != nil {
		return w.fail(fmt.Errorf("metadata %q: %w", key, err))
	}
	if key == AlignmentKey {
		a, ok := As[uint32](v)
		if !ok || a < 8 || a&(a-1) != 0 {
			return w.fail(fmt.Errorf("metadata %q: %s %v is not a u32 power of two of at least 8", key, v.Type(), v))
		}
		w.alignment = int64(a)
	}
	w.keys[key] = true
	w.kvs = append(w.kvs, KV{key, v})
	return nil
}

// Declare adds a tensor of type t with dimensions dims, innermost first
// (ggml's ne): a PyTorch weight of shape [out, in] has dims in, out. The
// row length dims[0] must be a multiple of t's block size. Every tensor
// must be declared before the first one is written.
func (w *Writer) Declare(name string, t Type, dims ...int64) error {
	if err := w.usable(); err != nil {
		return err
	}
	if w.state != declaring {
		return w.fail(fmt.Errorf("tensor %q: declared after writing began", name))
	}
	if err := checkName("tensor name", name, MaxTensorNameLen); err != nil {
		return w.fail(err)
	}
	if _, dup := w.byName[name]; dup {
		return w.fail(fmt.Errorf("tensor %q: declared twice", name))
	}
	if !t.Known() {
		return w.fail(fmt.Errorf("tensor %q: unknown ggml type %d", name, uint32(t)))
	}
	if len(dims) == 0 || len(dims) > MaxDims {
		return w.fail(fmt.Errorf("tensor %q: %d dimensions, want 1 to %d", name, len(dims), MaxDims))
	}
	size, err := tensorSize(t, dims)
	if err != nil {
		if bs := int64(t.BlockSize()); bs > 1 && dims[0] >= 0 && dims[0]%bs != 0 {
			return w.fail(fmt.Errorf("tensor %q: rows of %d values cannot be stored as %s, whose blocks hold %d (llama.cpp's Q4_K_M stores such tensors as Q5_0, and Q6_K ones as Q8_0)",
				name, dims[0], t, bs))
		}
		return w.fail(fmt.Errorf("tensor %q: %w", name, err))
	}
	w.byName[name] = len(w.tensors)
	w.tensors = append(w.tensors, TensorInfo{Name: name, Type: t, Dims: slices.Clone(dims), Size: size})
	return nil
}

// Create returns a writer for the data of the named tensor, which must be
// the next one in declared order. Exactly its size in bytes must be
// written before the next Create, WriteTensor, WriteFloat32 or Close.
func (w *Writer) Create(name string) (io.Writer, error) {
	if err := w.usable(); err != nil {
		return nil, err
	}
	if err := w.endTensor(); err != nil {
		return nil, w.fail(err)
	}
	if err := w.begin(); err != nil {
		return nil, w.fail(err)
	}
	i, declared := w.byName[name]
	switch {
	case !declared:
		return nil, w.fail(fmt.Errorf("tensor %q: not declared", name))
	case i < w.next:
		return nil, w.fail(fmt.Errorf("tensor %q: written twice", name))
	case i > w.next:
		return nil, w.fail(fmt.Errorf("tensor %q: written out of order, %q comes first", name, w.tensors[w.next].Name))
	}
	w.current = &tensorWriter{w: w, name: name, size: w.tensors[i].Size}
	w.next++
	return w.current, nil
}

// WriteTensor writes the complete data of the named tensor, which must be
// the next one in declared order.
func (w *Writer) WriteTensor(name string, data []byte) error {
	tw, err := w.Create(name)
	if err != nil {
		return err
	}
	if size := w.current.size; int64(len(data)) != size {
		return w.fail(fmt.Errorf("tensor %q: %d bytes of data, its size is %d", name, len(data), size))
	}
	_, err = tw.Write(data)
	return err
}

// WriteFloat32 encodes values, every value of the named tensor in row
// order, as the tensor's declared type (see [Encode]) and writes them; the
// tensor must be the next one in declared order. It encodes a few rows at a
// time, so memory beyond values stays small.
func (w *Writer) WriteFloat32(name string, values []float32) error {
	tw, err := w.Create(name)
	if err != nil {
		return err
	}
	t := w.tensors[w.next-1]
	if n := t.NumElements(); int64(len(values)) != n {
		return w.fail(fmt.Errorf("tensor %q: %d values, it holds %d", name, len(values), n))
	}
	if !t.Type.HasCodec() {
		return w.fail(fmt.Errorf("tensor %q: %s: %w", name, t.Type, ErrUnsupportedType))
	}
	rowLen := int(t.Dims[0])
	if rowLen == 0 {
		return nil
	}
	rowSize, _ := t.Type.RowSize(int64(rowLen))
	rows := max(1, (1<<20)/int(max(rowSize, 1))) // rows per chunk of about 1 MiB
	buf := make([]byte, min(int64(rows)*rowSize, t.Size))
	for start := 0; start < len(values); start += rows * rowLen {
		chunk := values[start:min(len(values), start+rows*rowLen)]
		out := buf[:int64(len(chunk)/rowLen)*rowSize]
		if err := Encode(t.Type, out, chunk); err != nil {
			return w.fail(fmt.Errorf("tensor %q: row %d: %w", name, start/rowLen, err))
		}
		if _, err := tw.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// Close checks that every declared tensor was written in full, completes
// the file and renames it to its path. If anything failed, Close removes
// the temporary file and returns the error. Closing twice is an error.
func (w *Writer) Close() error {
	if w.state == closed {
		return fmt.Errorf("%s: writer already closed", w.path)
	}
	if w.err == nil {
		if err := w.commit(); err != nil {
			w.fail(err)
		}
	}
	w.state = closed
	if w.err != nil {
		w.discard()
		return w.err
	}
	return nil
}

// Abort abandons the file and removes the temporary file. After a
// successful Close it does nothing.
func (w *Writer) Abort() error {
	if w.state == closed {
		return nil
	}
	w.state = closed
	if w.err == nil {
		w.err = fmt.Errorf("%s: writer aborted", w.path)
	}
	return w.discard()
}

// usable returns the error that ends the Writer, if any.
func (w *Writer) usable() error {
	switch {
	case w.err != nil:
		return w.err
	case w.state == closed:
		return fmt.Errorf("%s: writer already closed", w.path)
	}
	return nil
}

// fail records the first error, prefixed with the path, and returns the
// recorded one.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = fmt.Errorf("%s: %w", w.path, err)
	}
	return w.err
}

// begin ends the declarations, the first time it is called: it sets every
// tensor's offset and writes the header.
func (w *Writer) begin() error {
	if w.state != declaring {
		return nil
	}
	w.state = writing
	var off int64
	for i := range w.tensors {
		t := &w.tensors[i]
		t.Offset = off
		if t.Size > math.MaxInt64-off-w.alignment {
			return fmt.Errorf("tensor %q: the data section exceeds %d bytes", t.Name, int64(math.MaxInt64))
		}
		off = alignUp(off+t.Size, w.alignment)
	}
	return w.write(appendHeader(nil, w.kvs, w.tensors, w.alignment))
}

// write writes p to the temporary file.
func (w *Writer) write(p []byte) error {
	n, err := w.out.Write(p)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("%s: %w", w.file.Name(), err)
	}
	return nil
}

// endTensor checks that the tensor being written is complete and pads it
// to the alignment.
func (w *Writer) endTensor() error {
	tw := w.current
	if tw == nil {
		return nil
	}
	w.current = nil
	tw.done = true
	if tw.written != tw.size {
		return fmt.Errorf("tensor %q: %d of its %d bytes written", tw.name, tw.written, tw.size)
	}
	var zeros [64]byte
	for pad := alignUp(w.size, w.alignment) - w.size; pad > 0; pad -= min(pad, 64) {
		if err := w.write(zeros[:min(pad, 64)]); err != nil {
			return err
		}
	}
	return nil
}

// commit finishes the file: it checks that every tensor was written,
// flushes and syncs the temporary file and renames it into place.
func (w *Writer) commit() error {
	if err := w.endTensor(); err != nil {
		return err
	}
	if err := w.begin(); err != nil {
		return err
	}
	if w.next < len(w.tensors) {
		return fmt.Errorf("tensor %q: declared but not written (%d of %d tensors written)",
			w.tensors[w.next].Name, w.next, len(w.tensors))
	}
	f := w.file
	err := w.out.Flush()
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes files private
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	w.file = nil
	if err == nil {
		err = os.Rename(f.Name(), w.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return syncDir(filepath.Dir(w.path))
}

// discard closes and removes the temporary file, if it is still there.
func (w *Writer) discard() error {
	if w.file == nil {
		return nil
	}
	f := w.file
	w.file = nil
	f.Close()
	if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// syncDir makes the rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// tensorWriter accepts the data of one tensor.
type tensorWriter struct {
	w             *Writer
	name          string
	size, written int64
	done          bool // the Writer has moved on
}

func (tw *tensorWriter) Write(p []byte) (int, error) {
	w := tw.w
	if err := w.usable(); err != nil {
		return 0, err
	}
	if tw.done {
		return 0, w.fail(fmt.Errorf("tensor %q: write after the next tensor was started", tw.name))
	}
	if int64(len(p)) > tw.size-tw.written {
		return 0, w.fail(fmt.Errorf("tensor %q: writing %d more bytes exceeds its size of %d by %d",
			tw.name, len(p), tw.size, tw.written+int64(len(p))-tw.size))
	}
	err := w.write(p)
	if err != nil {
		return 0, w.fail(err)
	}
	tw.written += int64(len(p))
	return len(p), nil
}
