package safetensors

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFloat32(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		dtype DType
		data  []byte
		want  []float32
	}{
		{F32, le.AppendUint32(le.AppendUint32(nil, math.Float32bits(1.5)), math.Float32bits(-2)), []float32{1.5, -2}},
		{F16, []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b}, []float32{1, -2, 65504}},
		{BF16, []byte{0x80, 0x3f, 0x49, 0x40}, []float32{1, 3.140625}},
		{F64, le.AppendUint64(nil, math.Float64bits(0.1)), []float32{0.1}},
		{I64, le.AppendUint64(le.AppendUint64(nil, uint64(1<<40)), math.MaxUint64), []float32{1 << 40, -1}},
		{I32, le.AppendUint32(le.AppendUint32(nil, 7), math.MaxUint32), []float32{7, -1}},
		{I16, []byte{0xff, 0xff, 0x00, 0x80}, []float32{-1, -32768}},
		{I8, []byte{0x7f, 0x80}, []float32{127, -128}},
		{U64, le.AppendUint64(nil, math.MaxUint64), []float32{1 << 64}},
		{U32, le.AppendUint32(nil, math.MaxUint32), []float32{1 << 32}},
		{U16, []byte{0xff, 0xff}, []float32{65535}},
		{U8, []byte{0, 200}, []float32{0, 200}},
		{BOOL, []byte{0, 1, 2}, []float32{0, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(string(tt.dtype), func(t *testing.T) {
			tensor := Tensor{Name: "x", DType: tt.dtype, Shape: []int{len(tt.want)}, Data: tt.data}
			got, err := tensor.Float32()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Float32() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFloat32Errors(t *testing.T) {
	tests := []struct {
		name   string
		tensor Tensor
		dst    int // length of the destination
		want   string
	}{
		{
			name:   "unsupported dtype",
			tensor: Tensor{Name: "x", DType: F8E4M3, Shape: []int{2}, Data: make([]byte, 2)},
			dst:    2,
			want:   `safetensors: tensor "x": unsupported dtype F8_E4M3`,
		},
		{
			name:   "unsupported dtype from a file",
			tensor: Tensor{Name: "x", DType: F8E5M2, Shape: []int{2}, Data: make([]byte, 2), file: "model.safetensors"},
			dst:    2,
			want:   `model.safetensors: tensor "x": unsupported dtype F8_E5M2`,
		},
		{
			name:   "short destination",
			tensor: Tensor{Name: "x", DType: F32, Shape: []int{2, 2}, Data: make([]byte, 16)},
			dst:    3,
			want:   `safetensors: tensor "x": destination holds 3 values, tensor has 4`,
		},
		{
			name:   "data does not match shape",
			tensor: Tensor{Name: "x", DType: BF16, Shape: []int{3}, Data: make([]byte, 4)},
			dst:    3,
			want:   `safetensors: tensor "x": shape [3] of BF16 needs 6 bytes of data, have 4`,
		},
		{
			name:   "negative dimension",
			tensor: Tensor{Name: "x", DType: U8, Shape: []int{-1}},
			dst:    0,
			want:   `safetensors: tensor "x": shape [-1] has a negative dimension`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tensor.Float32Into(make([]float32, tt.dst))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Float32Into: %v\nwant %s", err, tt.want)
			}
			if tt.dst != tt.tensor.NumElements() {
				return // Float32 sizes its own destination
			}
			if _, err := tt.tensor.Float32(); err == nil {
				t.Error("Float32 succeeded")
			}
		})
	}
	err := Tensor{Name: "x", DType: F4, Shape: []int{2}, Data: []byte{0}}.Float32Into(make([]float32, 2))
	if !errors.Is(err, ErrUnsupportedDType) {
		t.Errorf("error %v does not wrap ErrUnsupportedDType", err)
	}
}

// TestUnsupportedDTypeInFile checks that a file with a tensor qtk cannot
// convert opens, and that the error names the file, tensor and dtype.
func TestUnsupportedDTypeInFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	buf := fileBytes(`{"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"s":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[2,4]}}`,
		[]byte{0x80, 0x3f, 1, 2})
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _ := f.Tensor("w")
	if got, err := w.Float32(); err != nil || !slices.Equal(got, []float32{1}) {
		t.Errorf("w: Float32() = %v, %v; want [1]", got, err)
	}
	s, _ := f.Tensor("s")
	if !slices.Equal(s.Data, []byte{1, 2}) {
		t.Errorf("s: Data = %v, want the raw bytes [1 2]", s.Data)
	}
	_, err = s.Float32()
	if want := path + `: tensor "s": unsupported dtype F8_E4M3`; err == nil || err.Error() != want {
		t.Errorf("s: Float32() error %v, want %s", err, want)
	}
}

func TestNumElements(t *testing.T) {
	tests := []struct {
		shape []int
		want  int
	}{
		{nil, 1},
		{[]int{}, 1},
		{[]int{0}, 0},
		{[]int{3, 0, 5}, 0},
		{[]int{7}, 7},
		{[]int{4096, 256}, 1 << 20},
		{[]int{-2, 3}, 0},
		{[]int{math.MaxInt, 2}, 0},
		{[]int{math.MaxInt, 0}, 0},
	}
	for _, tt := range tests {
		if got := (Tensor{Shape: tt.shape}).NumElements(); got != tt.want {
			t.Errorf("NumElements of shape %v = %d, want %d", tt.shape, got, tt.want)
		}
	}
}

func BenchmarkFloat32IntoBF16(b *testing.B) {
	const n = 1 << 20 // a 4096×256 embedding
	tensor := Tensor{Name: "w", DType: BF16, Shape: []int{n}, Data: sequence(2*n, 0)}
	dst := make([]float32, n)
	b.SetBytes(2 * n)
	for b.Loop() {
		if err := tensor.Float32Into(dst); err != nil {
			b.Fatal(err)
		}
	}
}
