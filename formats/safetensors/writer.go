package safetensors

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"
)

// WriterOptions configures a [Writer].
type WriterOptions struct {
	// MaxShardBytes caps the tensor data of one file. When the tensors do
	// not fit in one file they are split, in declared order, into
	// model-00001-of-0000N.safetensors ... with model.safetensors.index.json;
	// a tensor larger than the cap gets a file of its own. Zero means no cap:
	// a single model.safetensors.
	MaxShardBytes int64

	// Metadata is stored as __metadata__ in every file. "format": "pt" is
	// added unless Metadata sets "format", since transformers refuses files
	// whose metadata lacks it.
	Metadata map[string]string
}

// Writer writes a checkpoint directory. It is not safe for concurrent use. Declare every tensor first, then
// write each one's data in declared order with [Writer.Create] or
// [Writer.WriteTensor], then Close. The Writer holds no tensor data itself.
//
// Files are written under temporary names in the same directory and
// renamed into place by Close once every tensor is written, the index last,
// so an interrupted or failed write never leaves a checkpoint that looks
// complete. After any error the Writer is unusable: later calls return the
// same error, and Close (or Abort) removes what was written.
//
// A typical use defers Abort, which does nothing after a successful Close:
//
//	w, err := safetensors.NewWriter(dir, opts)
//	if err != nil { ... }
//	defer w.Abort()
//	... w.Declare(...) for each tensor, then w.WriteTensor(...) for each ...
//	return w.Close()
type Writer struct {
	dir      string
	maxBytes int64
	metadata map[string]string

	tensors []TensorInfo // in declared order; until plan, End is the size
	byName  map[string]int
	shards  []*shard // set when the first tensor is written

	state   writerState
	next    int           // the next tensor to write
	current *tensorWriter // the tensor being written
	shard   int           // the shard open for writing, -1 if none
	file    *os.File
	out     *bufio.Writer
	index   string // the index file, once renamed into place
	err     error  // the first error; sticky
}

type writerState int

const (
	declaring writerState = iota
	writing
	closed
)

// NewWriter starts a checkpoint in dir, creating dir if needed. It refuses
// a directory that already holds a checkpoint (model.safetensors or
// model.safetensors.index.json), which the new files could otherwise mix
// with.
func NewWriter(dir string, opts WriterOptions) (*Writer, error) {
	if opts.MaxShardBytes < 0 {
		return nil, fmt.Errorf("%s: negative MaxShardBytes %d", dir, opts.MaxShardBytes)
	}
	metadata := map[string]string{"format": "pt"}
	for k, v := range opts.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("%s: metadata %q is not valid UTF-8", dir, k)
		}
		metadata[k] = v
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, name := range []string{SingleFileName, IndexFileName} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("%s: already holds a checkpoint (%s)", dir, name)
		}
	}
	return &Writer{
		dir:      dir,
		maxBytes: opts.MaxShardBytes,
		metadata: metadata,
		byName:   make(map[string]int),
		shard:    -1,
	}, nil
}

// Declare adds a tensor to the checkpoint. Every tensor must be declared
// before the first one is written.
func (w *Writer) Declare(name string, dtype DType, shape []int) error {
	if err := w.usable(); err != nil {
		return err
	}
	if w.state != declaring {
		return w.fail(fmt.Errorf("tensor %q: declared after writing began", name))
	}
	if _, dup := w.byName[name]; dup {
		return w.fail(fmt.Errorf("tensor %q: declared twice", name))
	}
	switch {
	case name == "":
		return w.fail(errors.New("empty tensor name"))
	case name == metadataKey:
		return w.fail(fmt.Errorf("tensor %q: the name is reserved", name))
	case !utf8.ValidString(name):
		return w.fail(fmt.Errorf("tensor %q: name is not valid UTF-8", name))
	}
	size, err := byteSize(dtype, shape)
	if err != nil {
		return w.fail(fmt.Errorf("tensor %q: %w", name, err))
	}
	w.byName[name] = len(w.tensors)
	w.tensors = append(w.tensors, TensorInfo{Name: name, DType: dtype, Shape: slices.Clone(shape), End: size})
	return nil
}

// Create returns a writer for the data of the named tensor, which must be
// the next one in declared order. Exactly its size in bytes must be written
// before the next Create, WriteTensor or Close.
func (w *Writer) Create(name string) (io.Writer, error) {
	if err := w.usable(); err != nil {
		return nil, err
	}
	if err := w.endTensor(); err != nil {
		return nil, w.fail(err)
	}
	if w.state == declaring {
		if err := w.plan(); err != nil {
			return nil, w.fail(err)
		}
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
	if err := w.openShardOf(i); err != nil {
		return nil, w.fail(err)
	}
	t := w.tensors[i]
	w.current = &tensorWriter{w: w, name: name, size: t.End - t.Begin}
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
		return w.fail(fmt.Errorf("tensor %q: %d bytes of data, declared size is %d", name, len(data), size))
	}
	_, err = tw.Write(data)
	return err
}

// Close checks that every declared tensor was written in full, then moves
// the files into place. If anything failed, Close removes every file the
// Writer created and returns the error. Closing twice is an error.
func (w *Writer) Close() error {
	if w.state == closed {
		return fmt.Errorf("%s: writer already closed", w.dir)
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

// Abort abandons the checkpoint and removes every file the Writer created.
// After a successful Close it does nothing.
func (w *Writer) Abort() error {
	if w.state == closed {
		return nil
	}
	w.state = closed
	if w.err == nil {
		w.err = fmt.Errorf("%s: writer aborted", w.dir)
	}
	return w.discard()
}

// usable returns the error that ends the Writer, if any.
func (w *Writer) usable() error {
	switch {
	case w.err != nil:
		return w.err
	case w.state == closed:
		return fmt.Errorf("%s: writer already closed", w.dir)
	}
	return nil
}

// fail records the first error, prefixed with the directory, and returns
// the recorded one.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = fmt.Errorf("%s: %w", w.dir, err)
	}
	return w.err
}

// endTensor checks that the tensor being written is complete.
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
	return nil
}

// plan ends the declarations: it splits the tensors into shards, sets their
// data offsets and encodes every shard's header.
func (w *Writer) plan() error {
	w.state = writing
	sizes := make([]int64, len(w.tensors))
	for i, t := range w.tensors {
		sizes[i] = t.End
	}
	runs := planShards(sizes, w.maxBytes)
	for i, run := range runs {
		s := &shard{name: shardName(i, len(runs)), first: run[0], end: run[1]}
		for j := s.first; j < s.end; j++ {
			t := &w.tensors[j]
			t.Begin, t.End = s.dataSize, s.dataSize+sizes[j]
			s.dataSize = t.End
		}
		header, err := encodeHeader(w.metadata, w.tensors[s.first:s.end])
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		s.header = header
		w.shards = append(w.shards, s)
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
	n, err := w.out.Write(p)
	tw.written += int64(n)
	if err != nil {
		return n, w.fail(fmt.Errorf("%s: %w", w.file.Name(), err))
	}
	return n, nil
}
