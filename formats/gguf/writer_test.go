package gguf

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// allValues returns metadata of every value type: each scalar type, an
// array of each, an empty array and nested arrays.
func allValues(t *testing.T) []KV {
	nested, err := Arrays(Array([]uint8{1, 2}), Array([]string{"x"}), Array([]float64{}))
	if err != nil {
		t.Fatal(err)
	}
	deeper, err := Arrays(nested, Array([]int32{-1}))
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := Arrays()
	return []KV{
		{"general.architecture", Scalar("llama")},
		{"t.u8", Scalar(uint8(200))},
		{"t.i8", Scalar(int8(-100))},
		{"t.u16", Scalar(uint16(60000))},
		{"t.i16", Scalar(int16(-30000))},
		{"t.u32", Scalar(uint32(4_000_000_000))},
		{"t.i32", Scalar(int32(-2_000_000_000))},
		{"t.f32", Scalar(float32(1e-5))},
		{"t.bool", Scalar(true)},
		{"t.false", Scalar(false)},
		{"t.string", Scalar("héllo\x00wörld")},
		{"t.empty_string", Scalar("")},
		{"t.u64", Scalar(uint64(math.MaxUint64))},
		{"t.i64", Scalar(int64(math.MinInt64))},
		{"t.f64", Scalar(math.Pi)},
		{"a.u8", Array([]uint8{0, 255})},
		{"a.i8", Array([]int8{-128, 127})},
		{"a.u16", Array([]uint16{1, 65535})},
		{"a.i16", Array([]int16{-32768, 3})},
		{"a.u32", Array([]uint32{7, 8, 9})},
		{"a.i32", Array([]int32{-7, 8})},
		{"a.f32", Array([]float32{0.5, float32(math.Inf(1))})},
		{"a.bool", Array([]bool{true, false, true})},
		{"a.string", Array([]string{"<s>", "</s>", "", "▁the"})},
		{"a.u64", Array([]uint64{1 << 40})},
		{"a.i64", Array([]int64{-1 << 40})},
		{"a.f64", Array([]float64{-0.25})},
		{"a.empty", Array([]int32{})},
		{"a.nested", deeper},
		{"a.empty_nested", empty},
	}
}

type testTensor struct {
	name   string
	typ    Type
	dims   []int64
	values []float32
}

// someTensors returns tensors of several types and shapes with values.
func someTensors() []testTensor {
	rng := rand.New(rand.NewPCG(9, 9))
	tensor := func(name string, typ Type, dims ...int64) testTensor {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		values := make([]float32, n)
		for i := range values {
			values[i] = float32(rng.NormFloat64())
		}
		return testTensor{name, typ, dims, values}
	}
	return []testTensor{
		tensor("token_embd.weight", TypeQ4_K, 256, 3),
		tensor("blk.0.attn_norm.weight", TypeF32, 5),
		tensor("blk.0.attn_q.weight", TypeQ8_0, 64, 2),
		tensor("blk.0.attn_v.weight", TypeQ6_K, 512, 1),
		tensor("blk.0.ffn_up.weight", TypeQ4_0, 32, 3),
		tensor("blk.0.ffn_gate.weight", TypeQ4_1, 96),
		tensor("blk.0.ffn_down.weight", TypeQ5_0, 32, 2),
		tensor("blk.0.x.weight", TypeQ5_1, 32, 1, 2),
		tensor("blk.0.y.weight", TypeF16, 3, 2, 2, 1),
		tensor("output.weight", TypeBF16, 7, 3),
		tensor("empty", TypeF32, 0, 4),
	}
}

// writeModel writes kvs and tensors to path through the Writer.
func writeModel(t *testing.T, path string, kvs []KV, tensors []testTensor) {
	t.Helper()
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, kv := range kvs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tensors {
		if err := w.Declare(tt.name, tt.typ, tt.dims...); err != nil {
			t.Fatal(err)
		}
	}
	for i, tt := range tensors {
		switch i % 3 { // every way of writing data
		case 0:
			err = w.WriteFloat32(tt.name, tt.values)
		case 1:
			err = w.WriteTensor(tt.name, encodeValues(t, tt.typ, tt.values))
		case 2:
			var tw interface{ Write([]byte) (int, error) }
			if tw, err = w.Create(tt.name); err == nil {
				data := encodeValues(t, tt.typ, tt.values)
				for len(data) > 0 && err == nil { // in pieces
					n := min(len(data), 7)
					_, err = tw.Write(data[:n])
					data = data[n:]
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func encodeValues(t *testing.T, typ Type, values []float32) []byte {
	t.Helper()
	size, _ := typ.RowSize(int64(len(values)))
	out := make([]byte, size)
	if err := Encode(typ, out, values); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWriteRead writes every metadata type and several tensor types and
// reads them back, from disk through Open and from memory through Parse.
func TestWriteRead(t *testing.T) {
	for _, alignment := range []uint32{0, 64} {
		kvs := allValues(t)
		if alignment != 0 {
			kvs = append(kvs, KV{AlignmentKey, Scalar(alignment)})
		}
		tensors := someTensors()
		path := filepath.Join(t.TempDir(), "model.gguf")
		writeModel(t, path, kvs, tensors)

		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		checkModel(t, f, kvs, tensors, int64(max(alignment, DefaultAlignment)))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.TensorData("empty"); err == nil {
			t.Error("TensorData after Close succeeded")
		}
		if err := f.Close(); err == nil {
			t.Error("second Close succeeded")
		}

		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err = Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		checkModel(t, f, kvs, tensors, int64(max(alignment, DefaultAlignment)))

		// The same calls give the same bytes.
		again := filepath.Join(t.TempDir(), "again.gguf")
		writeModel(t, again, kvs, tensors)
		if data2, _ := os.ReadFile(again); !bytes.Equal(data, data2) {
			t.Error("writing the same model twice gave different files")
		}
	}
}

func checkModel(t *testing.T, f *File, kvs []KV, tensors []testTensor, alignment int64) {
	t.Helper()
	if f.Version() != 3 || f.Alignment() != alignment || f.DataOffset()%alignment != 0 {
		t.Errorf("version %d, alignment %d, data at %d; want 3, %d, aligned", f.Version(), f.Alignment(), f.DataOffset(), alignment)
	}
	if got := f.Metadata(); !reflect.DeepEqual(got, kvs) {
		t.Errorf("metadata differs:\ngot  %v\nwant %v", got, kvs)
	}
	infos := f.Tensors()
	if len(infos) != len(tensors) {
		t.Fatalf("%d tensors, want %d", len(infos), len(tensors))
	}
	var end int64
	for i, tt := range tensors {
		info := infos[i]
		want := encodeValues(t, tt.typ, tt.values)
		if info.Name != tt.name || info.Type != tt.typ || !slices.Equal(info.Dims, tt.dims) ||
			info.Size != int64(len(want)) || info.Offset%alignment != 0 || info.Offset < end {
			t.Errorf("tensor %d: %+v, want %s %s %v of %d bytes, aligned, after %d", i, info, tt.name, tt.typ, tt.dims, len(want), end)
		}
		end = info.Offset + info.Size
		data, err := f.TensorData(tt.name)
		if err != nil || !bytes.Equal(data, want) {
			t.Errorf("tensor %q: data differs (%v)", tt.name, err)
		}
		values, err := f.Dequantize(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		wantValues := make([]float32, len(tt.values))
		if err := Decode(tt.typ, wantValues, want); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(values, wantValues) {
			t.Errorf("tensor %q: dequantized values differ", tt.name)
		}
	}
}

// TestWriteLayout checks a whole small file byte for byte against the
// layout of the specification.
func TestWriteLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Set("n", Scalar(uint32(7))); err != nil {
		t.Fatal(err)
	}
	if err := w.Declare("w", TypeF32, 2); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFloat32("w", []float32{1, -2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := cat(
		[]byte("GGUF"), []byte{3, 0, 0, 0}, // magic, version 3
		[]byte{1, 0, 0, 0, 0, 0, 0, 0},              // one tensor
		[]byte{1, 0, 0, 0, 0, 0, 0, 0},              // one key-value pair
		[]byte{1, 0, 0, 0, 0, 0, 0, 0}, []byte("n"), // key "n"
		[]byte{4, 0, 0, 0}, []byte{7, 0, 0, 0}, // u32 7
		[]byte{1, 0, 0, 0, 0, 0, 0, 0}, []byte("w"), // tensor "w"
		[]byte{1, 0, 0, 0}, []byte{2, 0, 0, 0, 0, 0, 0, 0}, // one dimension, 2
		[]byte{0, 0, 0, 0}, make([]byte, 8), // F32 at offset 0
		make([]byte, 96-74),                     // padding: the header is 74 bytes
		[]byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}, // 1, -2
		make([]byte, 24),                        // padding to 32 after the data
	)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got\n%x\nwant\n%x", got, want)
	}
}

// TestWriterErrors checks that the Writer refuses calls out of order, bad
// names, metadata and sizes, and that a failed or aborted Writer leaves no
// file behind.
func TestWriterErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func(w *Writer) error
		want string
	}{
		{"duplicate key", func(w *Writer) error {
			w.Set("k", Scalar(uint8(1)))
			return w.Set("k", Scalar(uint8(2)))
		}, `metadata "k": set twice`},
		{"empty key", func(w *Writer) error { return w.Set("", Scalar(true)) }, "empty key"},
		{"zero value", func(w *Writer) error { return w.Set("k", Value{}) }, "invalid (zero) Value"},
		{"bad alignment type", func(w *Writer) error { return w.Set(AlignmentKey, Scalar(uint64(64))) }, "not a u32 power of two"},
		{"bad alignment", func(w *Writer) error { return w.Set(AlignmentKey, Scalar(uint32(48))) }, "not a u32 power of two"},
		{"small alignment", func(w *Writer) error { return w.Set(AlignmentKey, Scalar(uint32(4))) }, "not a u32 power of two"},
		{"duplicate tensor", func(w *Writer) error {
			w.Declare("t", TypeF32, 1)
			return w.Declare("t", TypeF32, 1)
		}, `tensor "t": declared twice`},
		{"long name", func(w *Writer) error { return w.Declare(strings.Repeat("x", 64), TypeF32, 1) }, "longer than the limit of 63"},
		{"bad UTF-8 name", func(w *Writer) error { return w.Declare("\xff", TypeF32, 1) }, "not valid UTF-8"},
		{"unknown type", func(w *Writer) error { return w.Declare("t", Type(5), 1) }, "unknown ggml type 5"},
		{"no dims", func(w *Writer) error { return w.Declare("t", TypeF32) }, "0 dimensions"},
		{"five dims", func(w *Writer) error { return w.Declare("t", TypeF32, 1, 1, 1, 1, 1) }, "5 dimensions"},
		{"negative dim", func(w *Writer) error { return w.Declare("t", TypeF32, 2, -1) }, "negative dimension"},
		{"partial block", func(w *Writer) error { return w.Declare("t", TypeQ4_K, 384, 2) },
			"rows of 384 values cannot be stored as Q4_K, whose blocks hold 256"},
		{"overflow", func(w *Writer) error { return w.Declare("t", TypeF32, 1<<32, 1<<32) }, "more than"},
		{"set after writing", func(w *Writer) error {
			w.Declare("t", TypeF32, 1)
			w.WriteFloat32("t", []float32{1})
			return w.Set("k", Scalar(true))
		}, `metadata "k": set after writing began`},
		{"declare after writing", func(w *Writer) error {
			w.Declare("t", TypeF32, 1)
			w.WriteFloat32("t", []float32{1})
			return w.Declare("u", TypeF32, 1)
		}, `tensor "u": declared after writing began`},
		{"out of order", func(w *Writer) error {
			w.Declare("a", TypeF32, 1)
			w.Declare("b", TypeF32, 1)
			return w.WriteFloat32("b", []float32{1})
		}, `tensor "b": written out of order, "a" comes first`},
		{"written twice", func(w *Writer) error {
			w.Declare("a", TypeF32, 1)
			w.Declare("b", TypeF32, 1)
			w.WriteFloat32("a", []float32{1})
			return w.WriteFloat32("a", []float32{1})
		}, `tensor "a": written twice`},
		{"undeclared", func(w *Writer) error { return w.WriteTensor("a", nil) }, `tensor "a": not declared`},
		{"wrong size", func(w *Writer) error {
			w.Declare("a", TypeQ8_0, 32)
			return w.WriteTensor("a", make([]byte, 33))
		}, `tensor "a": 33 bytes of data, its size is 34`},
		{"wrong count", func(w *Writer) error {
			w.Declare("a", TypeQ8_0, 32)
			return w.WriteFloat32("a", make([]float32, 31))
		}, `tensor "a": 31 values, it holds 32`},
		{"no codec", func(w *Writer) error {
			w.Declare("a", TypeQ2_K, 256)
			return w.WriteFloat32("a", make([]float32, 256))
		}, "Q2_K: gguf: unsupported tensor type"},
		{"NaN", func(w *Writer) error {
			w.Declare("a", TypeQ4_0, 32, 2)
			return w.WriteFloat32("a", append(make([]float32, 40), float32(math.NaN())))
		}, "value"},
		{"short write", func(w *Writer) error {
			w.Declare("a", TypeF32, 2)
			w.Declare("b", TypeF32, 1)
			tw, _ := w.Create("a")
			tw.Write(make([]byte, 4))
			_, err := w.Create("b")
			return err
		}, `tensor "a": 4 of its 8 bytes written`},
		{"long write", func(w *Writer) error {
			w.Declare("a", TypeF32, 1)
			tw, _ := w.Create("a")
			_, err := tw.Write(make([]byte, 5))
			return err
		}, `tensor "a": writing 5 more bytes exceeds its size of 4 by 1`},
		{"stale writer", func(w *Writer) error {
			w.Declare("a", TypeF32, 1)
			w.Declare("b", TypeF32, 1)
			tw, _ := w.Create("a")
			tw.Write(make([]byte, 4))
			w.Create("b")
			_, err := tw.Write(make([]byte, 1))
			return err
		}, `tensor "a": write after the next tensor was started`},
		{"not written", func(w *Writer) error {
			w.Declare("a", TypeF32, 1)
			w.Declare("b", TypeF32, 1)
			w.WriteFloat32("a", []float32{1})
			return w.Close()
		}, `tensor "b": declared but not written (1 of 2 tensors written)`},
		{"use after error", func(w *Writer) error {
			w.Set("", Scalar(true))
			return w.Set("k", Scalar(true))
		}, "empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.gguf")
			w, err := NewWriter(path)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.run(w)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("error %q, want %q prefixed with the path", err, tt.want)
			}
			if w.state != closed { // Close reports the first error
				if cerr := w.Close(); cerr == nil || cerr.Error() != err.Error() {
					t.Errorf("Close returned %v, want the first error %v", cerr, err)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}

// TestWriterAtomic checks that a file appears only on a successful Close,
// replacing the one at its path, and that Abort removes the temporary file.
func TestWriterAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Declare("a", TypeF32, 1)
	w.WriteFloat32("a", []float32{1})
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Fatal("the file changed before Close")
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("Abort left %d files, want only the old one", len(entries))
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Fatal("Abort changed the file")
	}

	writeModel(t, path, nil, nil)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Metadata()) != 0 || len(f.Tensors()) != 0 {
		t.Error("an empty model read back with content")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, want 0644", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files after Close, want 1", len(entries))
	}

	w, err = NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Close: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Abort after Close removed the file: %v", err)
	}
	if _, err := NewWriter(filepath.Join(dir, "missing", "m.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewWriter in a missing directory: %v", err)
	}
}
