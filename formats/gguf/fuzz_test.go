package gguf

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/internal/fuzzseed"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpus in testdata/fuzz/FuzzParse")

// FuzzParse checks that Parse never panics, that every error is a one-line
// ErrFormat, and that what it accepts is consistent: tensor data lies
// within the file with the declared size, dequantizing fails only for
// types without a codec, and re-encoding the parsed header gives back the
// file's header bytes. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %q does not wrap ErrFormat", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q spans lines", err)
			}
			return
		}
		for _, info := range file.Tensors() {
			tensor, err := file.TensorData(info.Name)
			if err != nil || int64(len(tensor)) != info.Size || info.Offset%file.Alignment() != 0 {
				t.Fatalf("tensor %+v: %d bytes of data (%v)", info, len(tensor), err)
			}
			values, err := file.Dequantize(info.Name)
			switch {
			case errors.Is(err, ErrUnsupportedType):
			case err != nil:
				t.Fatalf("tensor %q: %v", info.Name, err)
			case int64(len(values)) != info.NumElements():
				t.Fatalf("tensor %q: %d values for %d elements", info.Name, len(values), info.NumElements())
			}
		}
		header := appendHeader(nil, file.Metadata(), file.Tensors(), 1) // unpadded
		orig := bytes.Clone(data[:min(len(data), len(header))])
		orig[4] = Version // a version 2 file re-encodes as version 3
		if !bytes.Equal(header, orig) {
			t.Fatalf("re-encoded header differs from the file's:\n%x\n%x", header, orig)
		}
		if int64(len(header)) > file.DataOffset() || file.DataOffset()%file.Alignment() != 0 && len(file.Tensors()) > 0 {
			t.Fatalf("header of %d bytes, data section at %d", len(header), file.DataOffset())
		}
	})
}

// seedFiles returns the seed corpus: valid files (from the Writer and by
// hand) and broken ones.
func seedFiles(t *testing.T) map[string][]byte {
	dir := t.TempDir()
	written := func(name string, kvs []KV, tensors []testTensor) []byte {
		path := filepath.Join(dir, name)
		writeModel(t, path, kvs, tensors)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	tensors := []testTensor{
		{"a", TypeF32, []int64{3}, []float32{1, 2, 3}},
		{"b", TypeQ4_0, []int64{32}, make([]float32, 32)},
		{"c", TypeQ4_K, []int64{256}, make([]float32, 256)},
		{"d", TypeF16, []int64{2, 2}, []float32{1, 2, 3, 4}},
	}
	v2 := validFile()
	v2[4] = 2
	return map[string][]byte{
		"valid-small":        validFile(),
		"valid-v2":           v2,
		"valid-empty":        new(raw).header(0, 0).b,
		"valid-all-values":   written("all.gguf", allValues(t), nil),
		"valid-tensors":      written("tensors.gguf", []KV{{"general.architecture", Scalar("llama")}}, tensors),
		"valid-alignment-64": written("a64.gguf", []KV{{AlignmentKey, Scalar(uint32(64))}}, tensors[:2]),
		"broken-magic":       []byte("GGML\x03\x00\x00\x00"),
		"broken-lying-count": new(raw).header(1<<40, 1<<40).b,
		"broken-huge-string": new(raw).header(0, 1).str("k").u32(uint32(ValueString)).u64(1 << 40).b,
		"broken-misaligned":  new(raw).header(1, 0).tensor("t", TypeF32, 4, 1).pad(32).data(8).b,
		"broken-overlap":     new(raw).header(2, 0).tensor("a", TypeF32, 0, 9).tensor("b", TypeF32, 32, 1).pad(32).data(64).b,
		"broken-truncated":   validFile()[:len(validFile())-1],
		"broken-bool":        new(raw).header(0, 1).str("k").u32(uint32(ValueBool)).u8(2).b,
	}
}

// TestFuzzSeeds keeps the seed corpus meaningful: seeds named valid-* must
// parse and broken-* must not. With -update-seeds it rewrites the corpus.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if *updateSeeds {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range seedFiles(t) {
			seed := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
			writeFile(t, filepath.Join(dir, name), []byte(seed))
		}
	}
	fuzzseed.Check(t, filepath.Join(dir, "*"), func(b []byte) error {
		_, err := Parse(b)
		return err
	})
}
