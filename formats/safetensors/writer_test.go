package safetensors

import (
	"bytes"
	"encoding/binary"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// everyDType holds one tensor of each dtype, plus a scalar and empty ones.
var everyDType = []testTensor{
	{"f64", F64, []int{2}, sequence(16, 1)},
	{"f32", F32, []int{2, 3}, sequence(24, 2)},
	{"f16", F16, []int{3}, sequence(6, 3)},
	{"bf16", BF16, []int{2, 2}, sequence(8, 4)},
	{"i64", I64, []int{1}, sequence(8, 5)},
	{"i32", I32, []int{3}, sequence(12, 6)},
	{"i16", I16, []int{1}, sequence(2, 7)},
	{"i8", I8, []int{5}, sequence(5, 8)},
	{"u64", U64, []int{1}, sequence(8, 9)},
	{"u32", U32, []int{1}, sequence(4, 10)},
	{"u16", U16, []int{1}, sequence(2, 11)},
	{"u8", U8, []int{3}, sequence(3, 12)},
	{"bool", BOOL, []int{2}, []byte{0, 1}},
	{"f8", F8E4M3, []int{2}, sequence(2, 13)},
	{"f4", F4, []int{4}, sequence(2, 14)},
	{"c64", C64, []int{1}, sequence(8, 15)},
	{"scalar", F32, []int{}, sequence(4, 16)},
	{"empty", BF16, []int{0}, nil},
	{"empty matrix", F32, []int{3, 0}, nil},
}

func TestWriteReadRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		opts    WriterOptions
		tensors []testTensor
		files   []string
	}{
		{
			name:    "single file, every dtype",
			tensors: everyDType,
			files:   []string{"model.safetensors"},
		},
		{
			name:    "cap larger than the data",
			opts:    WriterOptions{MaxShardBytes: 1 << 20},
			tensors: everyDType,
			files:   []string{"model.safetensors"},
		},
		{
			name:    "no tensors",
			tensors: nil,
			files:   []string{"model.safetensors"},
		},
		{
			name:    "sharded, every dtype",
			opts:    WriterOptions{MaxShardBytes: 32, Metadata: map[string]string{"quant": "rtn"}},
			tensors: everyDType, // shards of 16, 30, 30, 28 and 12 bytes
			files: []string{
				"model-00001-of-00005.safetensors", "model-00002-of-00005.safetensors",
				"model-00003-of-00005.safetensors", "model-00004-of-00005.safetensors",
				"model-00005-of-00005.safetensors", "model.safetensors.index.json",
			},
		},
		{
			name: "sharded, oversized tensor alone",
			opts: WriterOptions{MaxShardBytes: 10},
			tensors: []testTensor{
				{"a", U8, []int{6}, sequence(6, 0)},
				{"b", U8, []int{4}, sequence(4, 1)}, // fills the shard exactly
				{"c", U8, []int{6}, sequence(6, 2)},
				{"big", U8, []int{20}, sequence(20, 3)},
				{"d", U8, []int{1}, sequence(1, 4)},
				{"e", U8, []int{0}, nil},
			},
			files: []string{
				"model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
				"model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors",
				"model.safetensors.index.json",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeAll(t, dir, tt.opts, tt.tensors)
			if got := listDir(t, dir); !slices.Equal(got, tt.files) {
				t.Fatalf("files %q, want %q", got, tt.files)
			}
			for _, name := range tt.files {
				if strings.HasSuffix(name, ".safetensors") {
					checkWrittenFile(t, filepath.Join(dir, name), tt.opts.Metadata)
				}
			}
			c, err := OpenCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var names []string
			for _, want := range tt.tensors {
				names = append(names, want.name)
				got, err := c.Tensor(want.name)
				if err != nil {
					t.Fatal(err)
				}
				if got.Name != want.name || got.DType != want.dtype || !slices.Equal(got.Shape, want.shape) || !bytes.Equal(got.Data, want.data) {
					t.Errorf("read %s %s %v %v, wrote %s %s %v %v",
						got.Name, got.DType, got.Shape, got.Data, want.name, want.dtype, want.shape, want.data)
				}
			}
			slices.Sort(names)
			if got := c.Names(); !slices.Equal(got, names) {
				t.Errorf("Names() = %q, want %q", got, names)
			}
		})
	}
}

// checkWrittenFile checks the layout the writer promises: a header padded
// to a multiple of 8 bytes, the metadata, and data in declared order.
func checkWrittenFile(t *testing.T, path string, metadata map[string]string) {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(buf); n%8 != 0 {
		t.Errorf("%s: header length %d is not a multiple of 8", path, n)
	}
	f, err := Parse(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"format": "pt"}
	maps.Copy(want, metadata)
	if got := f.Metadata(); !maps.Equal(got, want) {
		t.Errorf("%s: metadata %v, want %v", path, got, want)
	}
	// Tensors() lists data order; the header must list the same order.
	var headerOrder []string
	for _, info := range f.Tensors() {
		headerOrder = append(headerOrder, info.Name)
	}
	text := string(buf[8 : 8+binary.LittleEndian.Uint64(buf)])
	for i := 1; i < len(headerOrder); i++ {
		if strings.Index(text, `"`+headerOrder[i-1]+`"`) > strings.Index(text, `"`+headerOrder[i]+`"`) {
			t.Errorf("%s: header lists %q after %q, against data order", path, headerOrder[i-1], headerOrder[i])
		}
	}
}

func TestWriterIndex(t *testing.T) {
	dir := t.TempDir()
	writeAll(t, dir, WriterOptions{MaxShardBytes: 8}, []testTensor{
		{"b.weight", BF16, []int{2, 2}, sequence(8, 0)},
		{"a.weight", F32, []int{2}, sequence(8, 1)},
		{"é<&>", U8, []int{3}, sequence(3, 2)},
	})
	got, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	// As transformers writes it: json.dumps(index, indent=2, sort_keys=True) + "\n".
	want := `{
  "metadata": {
    "total_parameters": 9,
    "total_size": 19
  },
  "weight_map": {
    "a.weight": "model-00002-of-00003.safetensors",
    "b.weight": "model-00001-of-00003.safetensors",
    "\u00e9<&>": "model-00003-of-00003.safetensors"
  }
}
`
	if string(got) != want {
		t.Errorf("index:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriterStreams(t *testing.T) {
	dir := t.TempDir()
	data := sequence(1000, 0)
	w, err := NewWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Declare("x", U8, []int{1000}); err != nil {
		t.Fatal(err)
	}
	tw, err := w.Create("x")
	if err != nil {
		t.Fatal(err)
	}
	// Copy in 7-byte pieces.
	if _, err := io.CopyBuffer(struct{ io.Writer }{tw}, struct{ io.Reader }{bytes.NewReader(data)}, make([]byte, 7)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(filepath.Join(dir, SingleFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if x, _ := f.Tensor("x"); !bytes.Equal(x.Data, data) {
		t.Error("data read back differs")
	}
}

func TestWriterErrors(t *testing.T) {
	declareAB := func(w *Writer) error {
		if err := w.Declare("a", U8, []int{4}); err != nil {
			return err
		}
		return w.Declare("b", F16, []int{2})
	}
	tests := []struct {
		name  string
		steps func(w *Writer) error // nil error: Close must fail
		want  string
	}{
		{"empty name", func(w *Writer) error { return w.Declare("", U8, nil) }, "empty tensor name"},
		{"reserved name", func(w *Writer) error { return w.Declare("__metadata__", U8, nil) }, `tensor "__metadata__": the name is reserved`},
		{"invalid UTF-8 name", func(w *Writer) error { return w.Declare("\xff", U8, nil) }, `tensor "\xff": name is not valid UTF-8`},
		{"unknown dtype", func(w *Writer) error { return w.Declare("a", "F17", nil) }, `tensor "a": unknown dtype "F17"`},
		{"negative dimension", func(w *Writer) error { return w.Declare("a", U8, []int{-1}) }, `tensor "a": shape [-1] has a negative dimension`},
		{"sub-byte size", func(w *Writer) error { return w.Declare("a", F4, []int{3}) }, `tensor "a": shape [3] of F4 does not fill whole bytes`},
		{"declared twice", func(w *Writer) error {
			declareAB(w)
			return w.Declare("a", U8, []int{1})
		}, `tensor "a": declared twice`},
		{"declared after writing", func(w *Writer) error {
			declareAB(w)
			w.WriteTensor("a", make([]byte, 4))
			return w.Declare("c", U8, []int{1})
		}, `tensor "c": declared after writing began`},
		{"not declared", func(w *Writer) error {
			declareAB(w)
			return w.WriteTensor("c", nil)
		}, `tensor "c": not declared`},
		{"out of order", func(w *Writer) error {
			declareAB(w)
			return w.WriteTensor("b", make([]byte, 4))
		}, `tensor "b": written out of order, "a" comes first`},
		{"written twice", func(w *Writer) error {
			declareAB(w)
			w.WriteTensor("a", make([]byte, 4))
			return w.WriteTensor("a", make([]byte, 4))
		}, `tensor "a": written twice`},
		{"too few bytes", func(w *Writer) error {
			declareAB(w)
			return w.WriteTensor("a", make([]byte, 3))
		}, `tensor "a": 3 bytes of data, declared size is 4`},
		{"too many bytes", func(w *Writer) error {
			declareAB(w)
			return w.WriteTensor("a", make([]byte, 5))
		}, `tensor "a": 5 bytes of data, declared size is 4`},
		{"too many streamed bytes", func(w *Writer) error {
			declareAB(w)
			tw, _ := w.Create("a")
			tw.Write(make([]byte, 3))
			_, err := tw.Write(make([]byte, 3))
			return err
		}, `tensor "a": writing 3 more bytes exceeds its size of 4 by 2`},
		{"next tensor before the last is complete", func(w *Writer) error {
			declareAB(w)
			tw, _ := w.Create("a")
			tw.Write(make([]byte, 1))
			return w.WriteTensor("b", make([]byte, 4))
		}, `tensor "a": 1 of its 4 bytes written`},
		{"write to a finished tensor", func(w *Writer) error {
			declareAB(w)
			tw, _ := w.Create("a")
			tw.Write(make([]byte, 4))
			w.Create("b")
			_, err := tw.Write(nil)
			return err
		}, `tensor "a": write after the next tensor was started`},
		{"close with a tensor unwritten", func(w *Writer) error {
			declareAB(w)
			return w.WriteTensor("a", make([]byte, 4))
		}, `tensor "b": declared but not written (1 of 2 tensors written)`},
		{"close with nothing written", func(w *Writer) error {
			return declareAB(w)
		}, `tensor "a": declared but not written (0 of 2 tensors written)`},
		{"close with a tensor incomplete", func(w *Writer) error {
			declareAB(w)
			w.WriteTensor("a", make([]byte, 4))
			tw, _ := w.Create("b")
			_, err := tw.Write(make([]byte, 2))
			return err
		}, `tensor "b": 2 of its 4 bytes written`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := NewWriter(dir, WriterOptions{MaxShardBytes: 4}) // a shard per tensor
			if err != nil {
				t.Fatal(err)
			}
			stepErr := tt.steps(w)
			closeErr := w.Close()
			err = stepErr
			if err == nil {
				err = closeErr
			}
			if err == nil {
				t.Fatal("no error")
			}
			if want := dir + ": " + tt.want; err.Error() != want {
				t.Errorf("error %q\nwant  %q", err, want)
			}
			if stepErr != nil && closeErr != stepErr {
				t.Errorf("Close returned %v, want the first error again", closeErr)
			}
			if files := listDir(t, dir); len(files) > 0 {
				t.Errorf("failed write left files %q", files)
			}
		})
	}
}

// TestWriterInterrupted checks that a write that never reaches Close
// leaves no file that looks like a checkpoint, and that Abort removes it.
func TestWriterInterrupted(t *testing.T) {
	for _, maxBytes := range []int64{0, 4} {
		dir := t.TempDir()
		w, err := NewWriter(dir, WriterOptions{MaxShardBytes: maxBytes})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b", "c"} {
			if err := w.Declare(name, U8, []int{4}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteTensor("a", sequence(4, 0)); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteTensor("b", sequence(4, 0)); err != nil {
			t.Fatal(err)
		}
		// The process dies here.
		for _, name := range listDir(t, dir) {
			if !strings.HasPrefix(name, ".") || !strings.Contains(name, ".tmp-") {
				t.Errorf("MaxShardBytes %d: interrupted write left %q", maxBytes, name)
			}
		}
		if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "no safetensors weights in") {
			t.Errorf("MaxShardBytes %d: OpenCheckpoint of an interrupted write: %v", maxBytes, err)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if files := listDir(t, dir); len(files) > 0 {
			t.Errorf("MaxShardBytes %d: Abort left %q", maxBytes, files)
		}
		if err := w.WriteTensor("c", sequence(4, 0)); err == nil {
			t.Error("WriteTensor after Abort succeeded")
		}
	}
}

func TestWriterCloseAndAbort(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("second Close succeeded")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Close: %v", err)
	}
	if files := listDir(t, dir); !slices.Equal(files, []string{SingleFileName}) {
		t.Errorf("Abort after Close left %q, want the checkpoint kept", files)
	}
	if err := w.Declare("a", U8, nil); err == nil {
		t.Error("Declare after Close succeeded")
	}
}

func TestNewWriterRefusesCheckpoint(t *testing.T) {
	for _, name := range []string{SingleFileName, IndexFileName} {
		dir := t.TempDir()
		writeFile(t, dir, name, []byte("old"))
		if _, err := NewWriter(dir, WriterOptions{}); err == nil || !strings.Contains(err.Error(), "already holds a checkpoint ("+name+")") {
			t.Errorf("NewWriter over %s: %v", name, err)
		}
	}
	if _, err := NewWriter(t.TempDir(), WriterOptions{MaxShardBytes: -1}); err == nil {
		t.Error("NewWriter accepted a negative MaxShardBytes")
	}
}

func TestWriterMetadataFormat(t *testing.T) {
	dir := t.TempDir()
	writeAll(t, dir, WriterOptions{Metadata: map[string]string{"format": "mlx"}}, nil)
	f, err := Open(filepath.Join(dir, SingleFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata(); !maps.Equal(got, map[string]string{"format": "mlx"}) {
		t.Errorf("metadata %v, want the caller's format kept", got)
	}
}
