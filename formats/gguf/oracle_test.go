package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// The oracle is llama.cpp itself: testdata/ggml/oracle.c, built against a
// libggml-base.so, quantizes and dequantizes through ggml's public
// functions. Tests that need it run only when QTK_GGML_ORACLE names the
// built program; the known answers it produced are committed under
// testdata/ggml and checked by TestGGMLKnownAnswers without it.

// codecTypes are the types with a codec, in ggml's numbering order.
var codecTypes = []Type{TypeF32, TypeF16, TypeQ4_0, TypeQ4_1, TypeQ5_0, TypeQ5_1, TypeQ8_0, TypeQ4_K, TypeQ6_K, TypeBF16}

// oraclePath returns the oracle program, skipping the test without one.
func oraclePath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("QTK_GGML_ORACLE")
	if path == "" {
		t.Skip("QTK_GGML_ORACLE is not set; see testdata/ggml/oracle.c")
	}
	return path
}

// runOracle runs the oracle with args on input and returns its output.
func runOracle(t *testing.T, path string, input []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle %v: %v: %s", args, err, stderr.String())
	}
	return out
}

// oracleQuantize returns ggml's encoding of values as type typ, in rows
// of rowLen values.
func oracleQuantize(t *testing.T, path string, typ Type, values []float32, rowLen int) []byte {
	return runOracle(t, path, f32Bytes(values), "quantize", fmt.Sprint(uint32(typ)), fmt.Sprint(rowLen))
}

// oracleDequantize returns ggml's decoding of n values of type typ.
func oracleDequantize(t *testing.T, path string, typ Type, blocks []byte, n int) []float32 {
	return bytesF32(runOracle(t, path, blocks, "dequantize", fmt.Sprint(uint32(typ)), fmt.Sprint(n)))
}

func f32Bytes(values []float32) []byte {
	b := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func bytesF32(b []byte) []float32 {
	values := make([]float32, len(b)/4)
	for i := range values {
		values[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return values
}

// rowKinds is the number of kinds of rows testRows makes.
const rowKinds = 20

// testRows returns rows of 256 values drawn from rng, row r of kind r mod
// rowKinds: distributions like trained weights, and the corners of the
// quantizers (zeros, constants, ties, tiny and huge scales, outliers).
func testRows(rng *rand.Rand, rows int) []float32 {
	const n = 256
	out := make([]float32, 0, rows*n)
	for r := range rows {
		row := make([]float32, n)
		normal := func(sigma float64) {
			for i := range row {
				row[i] = float32(rng.NormFloat64() * sigma)
			}
		}
		switch r % rowKinds {
		case 0: // trained weights
			normal(0.02)
		case 1:
			normal(1)
		case 2: // weights with a few outliers
			normal(0.02)
			for range 4 {
				row[rng.IntN(n)] = float32(rng.NormFloat64())
			}
		case 3:
			for i := range row {
				row[i] = float32(rng.Float64()*2 - 1)
			}
		case 4: // norm gains: all positive
			for i := range row {
				row[i] = float32(0.5 + rng.Float64())
			}
		case 5: // all negative
			for i := range row {
				row[i] = float32(-2 + 1.9*rng.Float64())
			}
		case 6: // zeros, some negative
			for i := range row {
				if rng.IntN(2) == 0 {
					row[i] = float32(math.Copysign(0, -1))
				}
			}
		case 7: // one constant per sub-block of 32
			for i := range row {
				if i%32 == 0 {
					row[i] = float32(rng.NormFloat64())
				} else {
					row[i] = row[i-1]
				}
			}
		case 8: // scales that are F16 subnormals
			normal(1e-6)
		case 9: // below llama.cpp's GROUP_MAX_EPS of 1e-15
			normal(1e-17)
		case 10: // scales beyond F16's range
			normal(3e5)
		case 11: // sparse
			for range 8 {
				row[rng.IntN(n)] = float32(rng.NormFloat64())
			}
		case 12: // quarter-integers: many rounding ties
			for i := range row {
				row[i] = float32(rng.IntN(129)-64) / 4
			}
		case 13: // alternating signs
			a := float32(rng.Float64())
			for i := range row {
				row[i] = a
				a = -a
			}
		case 14: // one nonzero value per sub-block of 16
			for i := 0; i < n; i += 16 {
				row[i+rng.IntN(16)] = float32(rng.NormFloat64())
			}
		case 15: // llama.cpp's test-quantize-fns data
			off := float64(r)
			for i := range row {
				row[i] = float32(0.1 + 2*math.Cos(float64(i)+off))
			}
		case 16: // sub-blocks of scales from 1e-3 to 10
			for i := range row {
				row[i] = float32(rng.NormFloat64() * math.Pow(10, float64(i/32%5-3)))
			}
		case 17: // values on half steps of a power-of-two grid
			step := math.Ldexp(1, -rng.IntN(10))
			for i := range row {
				row[i] = float32((float64(rng.IntN(33)-16) + 0.5) * step)
			}
		case 18: // float32 subnormals
			for i := range row {
				row[i] = float32(rng.NormFloat64() * 1e-40)
			}
		case 19: // largest magnitude reached by both signs
			normal(0.5)
			for i := 0; i < n; i += 32 {
				row[i+3], row[i+20] = 2, -2
				if rng.IntN(2) == 0 {
					row[i+3], row[i+20] = -2, 2
				}
			}
		}
		out = append(out, row...)
	}
	return out
}

// TestOracle compares every codec with ggml's on random rows of every
// kind: encodings byte for byte, and decodings bit for bit.
func TestOracle(t *testing.T) {
	path := oraclePath(t)
	rows := 2000 // QTK_GGML_ORACLE_ROWS sets another count
	if n, err := strconv.Atoi(os.Getenv("QTK_GGML_ORACLE_ROWS")); err == nil && n > 0 {
		rows = n
	}
	values := testRows(rand.New(rand.NewPCG(7, uint64(rows))), rows)
	for _, typ := range codecTypes {
		t.Run(typ.String(), func(t *testing.T) {
			want := oracleQuantize(t, path, typ, values, 256)
			got := make([]byte, len(want))
			if err := Encode(typ, got, values); err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(got, want); i >= 0 {
				blk := i / typ.TypeSize()
				t.Fatalf("encoding differs from ggml's at byte %d (block %d, row kind %d)\ngot  %x\nwant %x",
					i, blk, (blk*typ.BlockSize()/256)%rowKinds, blockAt(got, typ, blk), blockAt(want, typ, blk))
			}
			wantValues := oracleDequantize(t, path, typ, want, len(values))
			gotValues := make([]float32, len(values))
			if err := Decode(typ, gotValues, want); err != nil {
				t.Fatal(err)
			}
			for i := range gotValues {
				if math.Float32bits(gotValues[i]) != math.Float32bits(wantValues[i]) {
					t.Fatalf("decoded value %d is %v, ggml's is %v", i, gotValues[i], wantValues[i])
				}
			}
		})
	}
}

// firstDiff returns the index of the first byte where a and b differ, or
// -1 if they are equal.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func blockAt(b []byte, typ Type, i int) []byte {
	s := typ.TypeSize()
	return b[i*s : min(len(b), (i+1)*s)]
}

// specialFloats are values at the corners of the F16 and BF16
// conversions: NaNs with payloads, infinities, overflow and underflow
// boundaries, rounding ties and float32 subnormals.
func specialFloats() []float32 {
	bitsOf := []uint32{
		0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fa00000, 0x7fbfffff, 0x7f802000, 0xffffffff, // NaNs
		0x7f800000, 0xff800000, // ±Inf
		0x477fe000, 0x477fefff, 0x477ff000, 0x477ff001, // around F16's largest, 65504
		0x33800000, 0x33000000, 0x33000001, 0x33400000, 0x32ffffff, // F16 subnormal ties
		0x38800000, 0x387fc000, 0x387fe000, // F16's smallest normal
		0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, // BF16 ties
		0x7f7fffff, 0xff7fffff, 0x7f7f8000, // float32's largest: BF16 overflow
		0x00000001, 0x80000001, 0x007fffff, 0x00008000, 0x00018000, // float32 subnormals
		0x00000000, 0x80000000,
	}
	values := make([]float32, 0, 256)
	for _, b := range bitsOf {
		values = append(values, math.Float32frombits(b))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for len(values) < 256 {
		values = append(values, math.Float32frombits(rng.Uint32()))
	}
	return values
}

// TestOracleSpecialFloats compares the unquantized codecs with ggml's on
// special values, NaNs included.
func TestOracleSpecialFloats(t *testing.T) {
	path := oraclePath(t)
	values := specialFloats()
	for _, typ := range []Type{TypeF32, TypeF16, TypeBF16} {
		want := oracleQuantize(t, path, typ, values, len(values))
		got := make([]byte, len(want))
		if err := Encode(typ, got, values); err != nil {
			t.Fatal(err)
		}
		if i := firstDiff(got, want); i >= 0 {
			v := i / typ.TypeSize()
			t.Errorf("%s: value %d (%#08x) encodes as %x, ggml's as %x", typ, v, math.Float32bits(values[v]),
				blockAt(got, typ, v), blockAt(want, typ, v))
		}
		wantValues := oracleDequantize(t, path, typ, want, len(values))
		gotValues := make([]float32, len(values))
		if err := Decode(typ, gotValues, want); err != nil {
			t.Fatal(err)
		}
		for i := range gotValues {
			if math.Float32bits(gotValues[i]) != math.Float32bits(wantValues[i]) {
				t.Errorf("%s: decoded value %d is %#08x, ggml's is %#08x", typ, i, math.Float32bits(gotValues[i]), math.Float32bits(wantValues[i]))
			}
		}
	}
}
