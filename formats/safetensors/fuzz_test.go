package safetensors

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/internal/fuzzseed"
)

// FuzzParse checks that Parse never panics, that every error is a one-line
// ErrFormat, and that what it accepts is consistent: tensor data lies
// within the file and matches dtype and shape, and re-encoding the header
// gives a file that parses to the same tensors. Seeds are in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, buf []byte) {
		file, err := Parse(buf)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %q does not wrap ErrFormat", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q spans lines", err)
			}
			return
		}
		infos := file.Tensors()
		for _, info := range infos {
			tensor, ok := file.Tensor(info.Name)
			if !ok {
				t.Fatalf("Tensors lists %q but Tensor does not find it", info.Name)
			}
			size, err := byteSize(tensor.DType, tensor.Shape)
			if err != nil || size != int64(len(tensor.Data)) {
				t.Fatalf("tensor %q: %d bytes of data for %s %v (%v)", info.Name, len(tensor.Data), tensor.DType, tensor.Shape, err)
			}
			values, err := tensor.Float32()
			switch {
			case errors.Is(err, ErrUnsupportedDType):
			case err != nil:
				t.Fatalf("tensor %q: %v", info.Name, err)
			case len(values) != tensor.NumElements():
				t.Fatalf("tensor %q: %d values for %d elements", info.Name, len(values), tensor.NumElements())
			}
		}

		header, err := encodeHeader(file.Metadata(), infos)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(append(header, buf[file.header.dataStart:]...))
		if err != nil {
			t.Fatalf("re-encoded header does not parse: %v", err)
		}
		if !reflect.DeepEqual(again.Tensors(), infos) || !maps.Equal(again.Metadata(), file.Metadata()) {
			t.Fatalf("re-encoded header parses to %v %v, want %v %v", again.Metadata(), again.Tensors(), file.Metadata(), infos)
		}
	})
}

// TestFuzzSeeds keeps the seed corpus meaningful: seeds named valid-* must
// parse and broken-* must not.
func TestFuzzSeeds(t *testing.T) {
	fuzzseed.Check(t, "testdata/fuzz/FuzzParse/*", func(b []byte) error {
		_, err := Parse(b)
		return err
	})
}
