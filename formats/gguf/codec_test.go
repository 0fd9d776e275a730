package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// encodeBlock encodes values as typ, failing the test on error.
func encodeBlock(t *testing.T, typ Type, values []float32) []byte {
	t.Helper()
	size, err := typ.RowSize(int64(len(values)))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, size)
	if err := Encode(typ, out, values); err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeBlocks(t *testing.T, typ Type, data []byte, n int) []float32 {
	t.Helper()
	out := make([]float32, n)
	if err := Decode(typ, out, data); err != nil {
		t.Fatal(err)
	}
	return out
}

func fill(n int, f func(i int) float32) []float32 {
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = f(i)
	}
	return xs
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func repeat(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// TestEncodeKnownAnswers checks blocks worked out by hand from the block
// layouts and the reference quantizers' rules (see the codec files).
// F16 bit patterns used: 1.0 = 0x3c00, -1.0 = 0xbc00, -0.0 = 0x8000,
// 10.0 = 0x4900 (1.25·2^3: exponent 3+15, fraction 0x100).
func TestEncodeKnownAnswers(t *testing.T) {
	tests := []struct {
		name   string
		typ    Type
		values []float32
		want   []byte
	}{
		{
			// Largest magnitude 127, so d = 127/127 = 1 and q = roundf(x):
			// halves round away from zero (2.5 -> 3, -2.5 -> -3).
			name: "Q8_0 d=1",
			typ:  TypeQ8_0,
			values: append([]float32{-127, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.49, 3.5, 126.5, 127},
				make([]float32, 21)...),
			want: cat([]byte{0x00, 0x3c, 0x81, 0xfd, 0xfe, 0xff, 1, 2, 3, 3, 4, 0x7f, 0x7f}, make([]byte, 21)),
		},
		{
			name:   "Q8_0 zeros",
			typ:    TypeQ8_0,
			values: make([]float32, 32),
			want:   make([]byte, 34),
		},
		{
			// The first value of largest magnitude is -8, so d = -8/-8 = 1
			// and q = min(15, trunc(x + 8.5)); halves round up (-7.5 -> 1,
			// 0.5 -> 9) and 7.6 clamps to 15. The high nibbles hold
			// x[16+j] = j-8, which quantize to j.
			name: "Q4_0 d=1",
			typ:  TypeQ4_0,
			values: append([]float32{-8, -7.5, -0.5, 0.49, 0.5, 7.4, 7.6, 0, 1, 2, 3, 4, 5, 6, -1, -2},
				fill(16, func(j int) float32 { return float32(j - 8) })...),
			want: []byte{0x00, 0x3c,
				0x00, 0x11, 0x28, 0x38, 0x49, 0x5f, 0x6f, 0x78, 0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xe7, 0xf6},
		},
		{
			// 8 comes before -8, so d = 8/-8 = -1: 8 -> q 0 and -8 -> q 16,
			// clamped to 15, which decodes as -7. Zeros are q 8.
			name:   "Q4_0 opposite extremes",
			typ:    TypeQ4_0,
			values: append([]float32{8, -8}, make([]float32, 30)...),
			want:   cat([]byte{0x00, 0xbc, 0x80, 0x8f}, repeat(0x88, 14)),
		},
		{
			// d = 0/-8 is -0, stored as F16 -0; every q is trunc(0 + 8.5).
			name:   "Q4_0 zeros",
			typ:    TypeQ4_0,
			values: make([]float32, 32),
			want:   cat([]byte{0x00, 0x80}, repeat(0x88, 16)),
		},
		{
			// min 10, max 25: d = 15/15 = 1, m = 10, q = trunc(x - 10 + 0.5):
			// low nibbles j (x = 10+j), high nibbles 15-j (x = 25-j).
			name: "Q4_1 offset",
			typ:  TypeQ4_1,
			values: append(fill(16, func(j int) float32 { return float32(10 + j) }),
				fill(16, func(j int) float32 { return float32(25 - j) })...),
			want: []byte{0x00, 0x3c, 0x00, 0x49,
				0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f},
		},
		{
			name:   "Q4_1 zeros",
			typ:    TypeQ4_1,
			values: make([]float32, 32),
			want:   make([]byte, 20),
		},
		{
			// d = -16/-16 = 1, q = min(31, trunc(x + 16.5)): x[j] = j-16 ->
			// j, x[16+j] = j -> 16+j, whose fifth bits fill qh's top half.
			name: "Q5_0 d=1",
			typ:  TypeQ5_0,
			values: append(fill(16, func(j int) float32 { return float32(j - 16) }),
				fill(16, func(j int) float32 { return float32(j) })...),
			want: cat([]byte{0x00, 0x3c, 0x00, 0x00, 0xff, 0xff},
				[]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}),
		},
		{
			// x = 0..31: d = 31/31 = 1, m = 0, q = x.
			name:   "Q5_1 ramp",
			typ:    TypeQ5_1,
			values: fill(32, func(i int) float32 { return float32(i) }),
			want: cat([]byte{0x00, 0x3c, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff},
				[]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}),
		},
		{
			name:   "Q4_K zeros",
			typ:    TypeQ4_K,
			values: make([]float32, 256),
			want:   make([]byte, 144),
		},
		{
			name:   "Q6_K zeros",
			typ:    TypeQ6_K,
			values: make([]float32, 256),
			want:   make([]byte, 210),
		},
		{
			// F16 rounds to nearest even: 1+2^-11 is a tie -> 1.0; 65520 a
			// tie between 65504 and 65536 -> +Inf; NaN -> 0x7e00.
			name:   "F16",
			typ:    TypeF16,
			values: []float32{1, 1 + 0x1p-11, 1 + 0x1p-10 + 0x1p-11, 65504, 65520, -2, float32(math.NaN())},
			want:   []byte{0x00, 0x3c, 0x00, 0x3c, 0x02, 0x3c, 0xff, 0x7b, 0x00, 0x7c, 0x00, 0xc0, 0x00, 0x7e},
		},
		{
			// BF16 keeps the top 16 bits, rounding to nearest even.
			name:   "BF16",
			typ:    TypeBF16,
			values: []float32{1, math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000), -2},
			want:   []byte{0x80, 0x3f, 0x80, 0x3f, 0x82, 0x3f, 0x00, 0xc0},
		},
		{
			name:   "F32",
			typ:    TypeF32,
			values: []float32{1, -2},
			want:   []byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := encodeBlock(t, tt.typ, tt.values); !bytes.Equal(got, tt.want) {
				t.Errorf("got  %x\nwant %x", got, tt.want)
			}
		})
	}
}

// TestDecodeKnownAnswers decodes blocks of the hand-checked encodings.
func TestDecodeKnownAnswers(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	tests := []struct {
		name string
		typ  Type
		data []byte
		want []float32
	}{
		{"Q4_0 opposite extremes", TypeQ4_0, cat([]byte{0x00, 0xbc, 0x80, 0x8f}, repeat(0x88, 14)),
			append([]float32{8, -7}, fill(30, func(int) float32 { return negZero })...)},
		{"Q4_1 offset", TypeQ4_1, []byte{0x00, 0x3c, 0x00, 0x49,
			0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f},
			append(fill(16, func(j int) float32 { return float32(10 + j) }), fill(16, func(j int) float32 { return float32(25 - j) })...)},
		{"Q5_0 d=1", TypeQ5_0, cat([]byte{0x00, 0x3c, 0x00, 0x00, 0xff, 0xff},
			[]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}),
			append(fill(16, func(j int) float32 { return float32(j - 16) }), fill(16, func(j int) float32 { return float32(j) })...)},
		{"Q8_0 d=1", TypeQ8_0, cat([]byte{0x00, 0x3c, 0x81, 0xfd, 0xfe, 0xff, 1, 2, 3, 3, 4, 0x7f, 0x7f}, make([]byte, 21)),
			append([]float32{-127, -3, -2, -1, 1, 2, 3, 3, 4, 127, 127}, make([]float32, 21)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeBlocks(t, tt.typ, tt.data, len(tt.want))
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(tt.want[i]) {
					t.Fatalf("value %d is %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestCandleKnownAnswers checks published results of the reference
// quantizers, from huggingface/candle's candle-core/tests/quantized_tests.rs
// (quantize_q4_0 and quantize_q4_1: the values 0..127 quantized and
// dequantized; candle's Q4_0 and Q4_1 quantizers follow llama.cpp's
// reference ones, while its K-quants do not, so those are not used).
func TestCandleKnownAnswers(t *testing.T) {
	ramp := fill(128, func(i int) float32 { return float32(i) })
	q40 := []float32{
		-0.0, -0.0, 3.875, 3.875, 3.875, 3.875, 7.75, 7.75, 7.75, 7.75, 11.625, 11.625, 11.625,
		11.625, 15.5, 15.5, 15.5, 15.5, 19.375, 19.375, 19.375, 19.375, 23.25, 23.25, 23.25,
		23.25, 27.125, 27.125, 27.125, 27.125, 31.0, 31.0, 31.5, 31.5, 31.5, 31.5, 39.375,
		39.375, 39.375, 39.375, 39.375, 39.375, 39.375, 39.375, 47.25, 47.25, 47.25, 47.25,
		47.25, 47.25, 47.25, 47.25, 55.125, 55.125, 55.125, 55.125, 55.125, 55.125, 55.125,
		55.125, 63.0, 63.0, 63.0, 63.0, 59.375, 59.375, 71.25, 71.25, 71.25, 71.25, 71.25,
		71.25, 71.25, 71.25, 71.25, 71.25, 71.25, 71.25, 83.125, 83.125, 83.125, 83.125,
		83.125, 83.125, 83.125, 83.125, 83.125, 83.125, 83.125, 83.125, 95.0, 95.0, 95.0, 95.0,
		95.0, 95.0, 95.25, 95.25, 95.25, 95.25, 95.25, 95.25, 95.25, 95.25, 111.125, 111.125,
		111.125, 111.125, 111.125, 111.125, 111.125, 111.125, 111.125, 111.125, 111.125,
		111.125, 111.125, 111.125, 111.125, 111.125, 127.0, 127.0, 127.0, 127.0, 127.0, 127.0,
		127.0, 127.0,
	}
	got := decodeBlocks(t, TypeQ4_0, encodeBlock(t, TypeQ4_0, ramp), 128)
	for i := range got {
		if got[i] != q40[i] {
			t.Fatalf("Q4_0: value %d is %v, candle's is %v", i, got[i], q40[i])
		}
	}
	// Go has no negative zero constants: check candle's two -0.0 apart.
	if !math.Signbit(float64(got[0])) || !math.Signbit(float64(got[1])) {
		t.Errorf("Q4_0: values 0 and 1 are %v and %v, candle's are -0", got[0], got[1])
	}
	// Candle rounds these to three decimals, in float32.
	q41 := []float32{
		0.0, 0.0, 2.066, 2.066, 4.133, 4.133, 6.199, 6.199, 8.266, 8.266, 10.332, 10.332,
		12.398, 12.398, 14.465, 14.465, 16.531, 16.531, 18.598, 18.598, 20.664, 20.664, 22.73,
		22.73, 24.797, 24.797, 26.863, 26.863, 28.93, 28.93, 30.996, 30.996, 32.0, 32.0,
		34.066, 34.066, 36.133, 36.133, 38.199, 38.199, 40.266, 40.266, 42.332, 42.332, 44.398,
		44.398, 46.465, 46.465, 48.531, 48.531, 50.598, 50.598, 52.664, 52.664, 54.73, 54.73,
		56.797, 56.797, 58.863, 58.863, 60.93, 60.93, 62.996, 62.996, 64.0, 64.0, 66.066,
		66.066, 68.133, 68.133, 70.199, 70.199, 72.266, 72.266, 74.332, 74.332, 76.398, 76.398,
		78.465, 78.465, 80.531, 80.531, 82.598, 82.598, 84.664, 84.664, 86.73, 86.73, 88.797,
		88.797, 90.863, 90.863, 92.93, 92.93, 94.996, 94.996, 96.0, 96.0, 98.066, 98.066,
		100.133, 100.133, 102.199, 102.199, 104.266, 104.266, 106.332, 106.332, 108.398,
		108.398, 110.465, 110.465, 112.531, 112.531, 114.598, 114.598, 116.664, 116.664,
		118.73, 118.73, 120.797, 120.797, 122.863, 122.863, 124.93, 124.93, 126.996, 126.996,
	}
	got = decodeBlocks(t, TypeQ4_1, encodeBlock(t, TypeQ4_1, ramp), 128)
	for i := range got {
		if r := float32(math.Round(float64(1000*got[i]))) / 1000; r != q41[i] {
			t.Fatalf("Q4_1: value %d is %v (%v rounded), candle's is %v", i, got[i], r, q41[i])
		}
	}
}

// TestScaleMinK4 checks the packing of Q4_K's 6-bit scales and mins
// against bytes worked out by hand, and that unpacking inverts packing.
func TestScaleMinK4(t *testing.T) {
	scales := [8]uint8{1, 2, 3, 4, 63, 17, 33, 48}
	mins := [8]uint8{0, 5, 10, 15, 62, 31, 16, 1}
	// Bytes 0-3: scale j | (scale j+4 >> 4) << 6; bytes 4-7: min j | (min
	// j+4 >> 4) << 6; bytes 8-11: scale j+4 & 15 | (min j+4 & 15) << 4.
	want := []byte{0xc1, 0x42, 0x83, 0xc4, 0xc0, 0x45, 0x4a, 0x0f, 0xef, 0xf1, 0x01, 0x10}
	got := make([]byte, 12)
	packScaleMinK4(got, &scales, &mins)
	if !bytes.Equal(got, want) {
		t.Fatalf("packed %x, want %x", got, want)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 1000 {
		for j := range 8 {
			scales[j], mins[j] = uint8(rng.IntN(64)), uint8(rng.IntN(64))
		}
		packScaleMinK4(got, &scales, &mins)
		for j := range 8 {
			if s, m := scaleMinK4(j, got); s != scales[j] || m != mins[j] {
				t.Fatalf("sub-block %d unpacks to %d, %d from %x, want %d, %d", j, s, m, got, scales[j], mins[j])
			}
		}
	}
}

// TestDecodeLayout builds Q4_K and Q6_K blocks value by value from the
// layouts described in codec_q4k.go and codec_q6k.go and checks that
// decoding puts every value where the layout says.
func TestDecodeLayout(t *testing.T) {
	q := func(i int) uint8 { return uint8(i*7+3) % 64 } // a level per value, 6 bits

	t.Run("Q4_K", func(t *testing.T) {
		scales := [8]uint8{1, 2, 3, 4, 63, 17, 33, 48}
		mins := [8]uint8{0, 5, 10, 15, 62, 31, 16, 1}
		blk := make([]byte, 144)
		binary.LittleEndian.PutUint16(blk[0:], 0x3c00) // d = 1
		binary.LittleEndian.PutUint16(blk[2:], 0x3800) // dmin = 0.5
		packScaleMinK4(blk[4:16], &scales, &mins)
		for i := range 256 {
			chunk, r := i/64, i%64 // 64 values share 32 bytes
			if r < 32 {
				blk[16+32*chunk+r] |= q(i) & 0xf
			} else {
				blk[16+32*chunk+r-32] |= (q(i) & 0xf) << 4
			}
		}
		got := decodeBlocks(t, TypeQ4_K, blk, 256)
		for i, v := range got {
			j := i / 32
			want := float32(1*float32(scales[j])*float32(q(i)&0xf)) - 0.5*float32(mins[j])
			if v != want {
				t.Fatalf("value %d is %v, want %v", i, v, want)
			}
		}
	})
	t.Run("Q6_K", func(t *testing.T) {
		blk := make([]byte, 210)
		for j := range 16 {
			blk[192+j] = uint8(int8(j - 8))
		}
		binary.LittleEndian.PutUint16(blk[208:], 0x3400) // d = 0.25
		for i := range 256 {
			h, r := i/128, i%128
			group, l := r/32, r%32
			ql := 64*h + l + 32*(group%2)
			if group < 2 {
				blk[ql] |= q(i) & 0xf
			} else {
				blk[ql] |= (q(i) & 0xf) << 4
			}
			blk[128+32*h+l] |= q(i) >> 4 << (2 * group)
		}
		got := decodeBlocks(t, TypeQ6_K, blk, 256)
		for i, v := range got {
			want := 0.25 * float32(i/16-8) * float32(int(q(i))-32)
			if v != want {
				t.Fatalf("value %d is %v, want %v", i, v, want)
			}
		}
	})
}

// rmseOverN is llama.cpp's test-quantize-fns error measure: the square
// root of the summed squared error, divided by the count.
func rmseOverN(a, b []float32) float64 {
	var sum float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		sum += d * d
	}
	return math.Sqrt(sum) / float64(len(a))
}

// relRMSE is the root-mean-square error relative to the RMS of a.
func relRMSE(a, b []float32) float64 {
	var se, ss float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
		ss += float64(a[i]) * float64(a[i])
	}
	return math.Sqrt(se / ss)
}

// TestRoundTripError checks decode(encode(x)) against error budgets: on
// llama.cpp's test data (test-quantize-fns: 0.1 + 2·cos(i), 4096 values)
// the budget is its MAX_QUANTIZATION_TOTAL_ERROR for every type; on
// Gaussian data, like trained weights, each type has a budget of relative
// RMS error a little above what it achieves, and the K-quants must beat
// their legacy counterparts: Q4_K below Q4_0, Q6_K far below Q4_K.
func TestRoundTripError(t *testing.T) {
	const maxTotalError = 0.002 // llama.cpp's MAX_QUANTIZATION_TOTAL_ERROR
	cosData := fill(32*128, func(i int) float32 { return float32(0.1 + 2*math.Cos(float64(i))) })
	rng := rand.New(rand.NewPCG(3, 4))
	gauss := fill(64*256, func(int) float32 { return float32(rng.NormFloat64() * 0.02) })

	budgets := map[Type]float64{ // relative RMS error on Gaussian data
		TypeF32: 0, TypeF16: 0.0003, TypeBF16: 0.002,
		TypeQ8_0: 0.0065, TypeQ6_K: 0.02, TypeQ5_0: 0.05, TypeQ5_1: 0.045,
		TypeQ4_K: 0.08, TypeQ4_0: 0.10, TypeQ4_1: 0.09,
	}
	rel := make(map[Type]float64)
	for _, typ := range codecTypes {
		got := decodeBlocks(t, typ, encodeBlock(t, typ, cosData), len(cosData))
		if e := rmseOverN(cosData, got); e >= maxTotalError {
			t.Errorf("%s: error %.6f on llama.cpp's test data, budget %v", typ, e, maxTotalError)
		}
		got = decodeBlocks(t, typ, encodeBlock(t, typ, gauss), len(gauss))
		rel[typ] = relRMSE(gauss, got)
		if rel[typ] > budgets[typ] {
			t.Errorf("%s: relative RMS error %.4f on Gaussian data, budget %v", typ, rel[typ], budgets[typ])
		}
	}
	if !(rel[TypeQ4_K] < rel[TypeQ4_0]) {
		t.Errorf("Q4_K error %.4f is not below Q4_0's %.4f", rel[TypeQ4_K], rel[TypeQ4_0])
	}
	if !(rel[TypeQ6_K] < rel[TypeQ4_K]/3) {
		t.Errorf("Q6_K error %.4f is not far below Q4_K's %.4f", rel[TypeQ6_K], rel[TypeQ4_K])
	}
	if !(rel[TypeQ8_0] < rel[TypeQ6_K]) {
		t.Errorf("Q8_0 error %.4f is not below Q6_K's %.4f", rel[TypeQ8_0], rel[TypeQ6_K])
	}
	if testing.Verbose() {
		for _, typ := range codecTypes {
			t.Logf("%-5s relative RMS error %.5f", typ, rel[typ])
		}
	}
}

// TestEncodeRowsIndependent checks that encoding rows one at a time gives
// the same bytes as encoding them together.
func TestEncodeRowsIndependent(t *testing.T) {
	values := testRows(rand.New(rand.NewPCG(5, 6)), 4)
	for _, typ := range codecTypes {
		whole := encodeBlock(t, typ, values)
		var rows []byte
		for r := range 4 {
			rows = append(rows, encodeBlock(t, typ, values[256*r:256*r+256])...)
		}
		if !bytes.Equal(whole, rows) {
			t.Errorf("%s: rows encoded one by one differ from the whole", typ)
		}
	}
}

func TestCodecErrors(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(-1))
	tests := []struct {
		name    string
		err     error
		want    string
		wantErr error
	}{
		{"unsupported encode", Encode(TypeQ2_K, make([]byte, 84), make([]float32, 256)), "Q2_K", ErrUnsupportedType},
		{"unsupported decode", Decode(TypeIQ4_XS, make([]float32, 256), make([]byte, 136)), "IQ4_XS", ErrUnsupportedType},
		{"unknown type", Encode(Type(4), nil, nil), "Type(4)", ErrUnsupportedType},
		{"partial block", Encode(TypeQ4_K, make([]byte, 144), make([]float32, 300)), "300 values is not a multiple of the block size 256", nil},
		{"partial legacy block", Decode(TypeQ8_0, make([]float32, 40), make([]byte, 34)), "40 values is not a multiple of the block size 32", nil},
		{"short dst", Encode(TypeQ8_0, make([]byte, 33), make([]float32, 32)), "32 values take 34 bytes, not 33", nil},
		{"long src", Decode(TypeF16, make([]float32, 2), make([]byte, 6)), "2 values take 4 bytes, not 6", nil},
		{"NaN", Encode(TypeQ4_0, make([]byte, 18), append(make([]float32, 5), append([]float32{nan}, make([]float32, 26)...)...)), "value 5 is NaN", nil},
		{"Inf", Encode(TypeQ6_K, make([]byte, 210), append([]float32{inf}, make([]float32, 255)...)), "value 0 is -Inf", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(tt.err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", tt.err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(tt.err, tt.wantErr) {
				t.Errorf("error %q does not wrap %v", tt.err, tt.wantErr)
			}
		})
	}
	// Unquantized types store NaN and infinities.
	if err := Encode(TypeF16, make([]byte, 4), []float32{nan, inf}); err != nil {
		t.Errorf("F16 refused NaN and Inf: %v", err)
	}
}

func TestTypeTable(t *testing.T) {
	tests := []struct {
		typ             Type
		name            string
		block, typeSize int
	}{
		{TypeF32, "F32", 1, 4}, {TypeF16, "F16", 1, 2}, {TypeBF16, "BF16", 1, 2},
		{TypeQ4_0, "Q4_0", 32, 18}, {TypeQ4_1, "Q4_1", 32, 20}, {TypeQ5_0, "Q5_0", 32, 22},
		{TypeQ5_1, "Q5_1", 32, 24}, {TypeQ8_0, "Q8_0", 32, 34}, {TypeQ4_K, "Q4_K", 256, 144},
		{TypeQ6_K, "Q6_K", 256, 210}, {Type(4), "Type(4)", 0, 0},
	}
	for _, tt := range tests {
		if tt.typ.String() != tt.name || tt.typ.BlockSize() != tt.block || tt.typ.TypeSize() != tt.typeSize {
			t.Errorf("%d: %s %d %d, want %s %d %d", uint32(tt.typ), tt.typ, tt.typ.BlockSize(), tt.typ.TypeSize(),
				tt.name, tt.block, tt.typeSize)
		}
	}
	if n, err := TypeQ4_K.RowSize(4096); n != 16*144 || err != nil {
		t.Errorf("Q4_K.RowSize(4096) = %d, %v", n, err)
	}
	if _, err := TypeQ4_K.RowSize(4000); err == nil {
		t.Error("Q4_K.RowSize(4000) succeeded")
	}
	if _, err := TypeF32.RowSize(math.MaxInt64 / 2); err == nil {
		t.Error("RowSize did not report overflow")
	}
}

// BenchmarkEncode and BenchmarkDecode measure each codec on 64 rows of 256
// Gaussian values; run with a small -benchtime.
func BenchmarkEncode(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := fill(64*256, func(int) float32 { return float32(rng.NormFloat64()) })
	for _, typ := range codecTypes {
		b.Run(typ.String(), func(b *testing.B) {
			size, _ := typ.RowSize(int64(len(values)))
			out := make([]byte, size)
			b.SetBytes(int64(4 * len(values)))
			for b.Loop() {
				if err := Encode(typ, out, values); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := fill(64*256, func(int) float32 { return float32(rng.NormFloat64()) })
	for _, typ := range codecTypes {
		b.Run(typ.String(), func(b *testing.B) {
			size, _ := typ.RowSize(int64(len(values)))
			data := make([]byte, size)
			if err := Encode(typ, data, values); err != nil {
				b.Fatal(err)
			}
			out := make([]float32, len(values))
			b.SetBytes(int64(4 * len(values)))
			for b.Loop() {
				if err := Decode(typ, out, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
