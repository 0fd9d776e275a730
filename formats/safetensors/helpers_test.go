package safetensors

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fileBytes assembles a safetensors file from a header and a data section.
func fileBytes(header string, data []byte) []byte {
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	buf = append(buf, header...)
	return append(buf, data...)
}

// testTensor is a tensor to write, with its data.
type testTensor struct {
	name  string
	dtype DType
	shape []int
	data  []byte
}

// sequence returns n bytes counting up from seed, so tensors differ.
func sequence(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// writeAll writes a checkpoint of tensors into dir and fails the test on
// any error.
func writeAll(t *testing.T, dir string, opts WriterOptions, tensors []testTensor) {
	t.Helper()
	w, err := NewWriter(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, tt := range tensors {
		if err := w.Declare(tt.name, tt.dtype, tt.shape); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tensors {
		if err := w.WriteTensor(tt.name, tt.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// listDir returns the names of the files in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// writeFile writes data to dir/name, failing the test on error.
func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
