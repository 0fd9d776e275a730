package half

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

func TestSliceForms(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 1000} {
		src := make([]byte, 2*n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		tests := []struct {
			name   string
			widen  func([]float32, []byte) int
			scalar func(uint16) float32
			narrow func([]byte, []float32) int
		}{
			{"F16", F16ToF32Slice, F16ToF32, F32ToF16Slice},
			{"BF16", BF16ToF32Slice, BF16ToF32, F32ToBF16Slice},
		}
		for _, tt := range tests {
			dst := make([]float32, n)
			if got := tt.widen(dst, src); got != n {
				t.Fatalf("%s widen of %d values converted %d", tt.name, n, got)
			}
			for i, f := range dst {
				want := tt.scalar(binary.LittleEndian.Uint16(src[2*i:]))
				if math.Float32bits(f) != math.Float32bits(want) {
					t.Fatalf("%s widen n=%d: dst[%d] = %v, want %v", tt.name, n, i, f, want)
				}
			}
			back := make([]byte, 2*n)
			if got := tt.narrow(back, dst); got != n {
				t.Fatalf("%s narrow of %d values converted %d", tt.name, n, got)
			}
			if string(back) != string(src) {
				t.Fatalf("%s n=%d: narrowing the widened values changed the bytes", tt.name, n)
			}
		}
	}
}

func TestSliceLengths(t *testing.T) {
	tests := []struct {
		name    string
		dst     int // float32 count
		src     int // byte count
		convert func(dst []float32, src []byte) int
		want    int
	}{
		{"F16 short dst", 2, 10, F16ToF32Slice, 2},
		{"F16 short src", 10, 6, F16ToF32Slice, 3},
		{"F16 odd src", 10, 7, F16ToF32Slice, 3},
		{"BF16 short dst", 5, 20, BF16ToF32Slice, 5},
		{"BF16 short src", 10, 9, BF16ToF32Slice, 4},
		{"BF16 empty", 0, 9, BF16ToF32Slice, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.convert(make([]float32, tt.dst), make([]byte, tt.src)); got != tt.want {
				t.Errorf("converted %d values, want %d", got, tt.want)
			}
		})
	}
	if got := F32ToF16Slice(make([]byte, 5), make([]float32, 4)); got != 2 {
		t.Errorf("F32ToF16Slice into 5 bytes converted %d values, want 2", got)
	}
	if got := F32ToBF16Slice(make([]byte, 8), make([]float32, 3)); got != 3 {
		t.Errorf("F32ToBF16Slice of 3 values converted %d, want 3", got)
	}
}

func benchmarkWiden(b *testing.B, widen func([]float32, []byte) int) {
	const n = 1 << 16
	src := make([]byte, 2*n)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := make([]float32, n)
	b.SetBytes(2 * n)
	for b.Loop() {
		widen(dst, src)
	}
}

func BenchmarkF16ToF32Slice(b *testing.B)  { benchmarkWiden(b, F16ToF32Slice) }
func BenchmarkBF16ToF32Slice(b *testing.B) { benchmarkWiden(b, BF16ToF32Slice) }

func BenchmarkF32ToF16Slice(b *testing.B) {
	const n = 1 << 16
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(i) * 0.001
	}
	dst := make([]byte, 2*n)
	b.SetBytes(2 * n)
	for b.Loop() {
		F32ToF16Slice(dst, src)
	}
}
