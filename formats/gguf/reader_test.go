package gguf

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// validFile returns a small valid file: one u32 key and one Q8_0 tensor
// of 32 values, whose data ends the file.
func validFile() []byte {
	r := new(raw).header(1, 1).kvU32("k", 1).tensor("t", TypeQ8_0, 0, 32).pad(32)
	return r.data(34).b
}

// TestParseErrors feeds the reader broken and lying files: each must fail
// with a one-line error wrapping ErrFormat that says what is wrong.
func TestParseErrors(t *testing.T) {
	kv := func(key string, typ ValueType) *raw { return new(raw).header(0, 1).str(key).u32(uint32(typ)) }
	tensorFile := func(n uint64, f func(r *raw)) []byte {
		r := new(raw).header(n, 0)
		f(r)
		return r.pad(32).data(256).b
	}
	nest := func(depth int) []byte {
		r := kv("k", ValueArray)
		for range depth - 1 {
			r.u32(uint32(ValueArray)).u64(1)
		}
		return r.u32(uint32(ValueUint8)).u64(0).b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "file is 0 bytes, too short"},
		{"short", []byte("GGU"), "too short"},
		{"magic", []byte("GGML\x03\x00\x00\x00"), `magic number "GGML" is not "GGUF"`},
		{"no version", []byte("GGUF\x03"), "truncated: version needs 4 bytes"},
		{"magic only", []byte("GGUF"), "truncated: version needs 4 bytes, 0 remain"},
		{"v1", append([]byte("GGUF"), 1, 0, 0, 0), "GGUF version 1 is not supported"},
		{"v4", append([]byte("GGUF"), 4, 0, 0, 0), "unsupported GGUF version 4"},
		{"big-endian", append([]byte("GGUF"), 0, 0, 0, 3), "big-endian files are not supported"},
		{"no counts", new(raw).header(0, 0).b[:16], "truncated: metadata count needs 8 bytes"},
		{"lying tensor count", new(raw).header(1<<62, 0).b, "4611686018427387904 tensor infos need at least 33 bytes each, 0 remain"},
		{"lying kv count", new(raw).header(0, 1<<40).b, "1099511627776 metadata key-value pairs need at least 14 bytes each"},
		{"counts together", new(raw).header(1, 1).data(40).b, "1 tensor infos and 1 key-value pairs need at least 47 bytes"},
		{"huge string", kv("k", ValueString).u64(1 << 40).b, "string value length 1099511627776 exceeds the limit"},
		{"string past end", kv("k", ValueString).u64(100).data(10).b, "truncated: string value needs 100 bytes, 10 remain"},
		{"huge key", new(raw).header(0, 1).u64(MaxKeyLen + 1).data(20).b, "key length 65536 exceeds the limit of 65535"},
		{"empty key", new(raw).header(0, 1).str("").u32(0).u8(0).data(4).b, "empty key"},
		{"bad UTF-8 key", new(raw).header(0, 1).str("\xff").u32(0).u8(0).b, "not valid UTF-8"},
		{"duplicate key", new(raw).header(0, 2).kvU32("k", 1).kvU32("k", 2).b, `duplicate key "k"`},
		{"unknown value type", kv("k", 13).u8(0).b, "unknown value type 13"},
		{"bool 2", kv("k", ValueBool).u8(2).b, "bool value 2 is neither 0 nor 1"},
		{"bool array", kv("k", ValueArray).u32(uint32(ValueBool)).u64(2).u8(1).u8(7).b, "bool value 7"},
		{"truncated u64", kv("k", ValueUint64).data(7).b, "truncated: u64 value needs 8 bytes, 7 remain"},
		{"huge array", kv("k", ValueArray).u32(uint32(ValueUint32)).u64(1 << 40).data(64).b, "exceed the limit of 1073741824"},
		{"lying array", kv("k", ValueArray).u32(uint32(ValueUint64)).u64(1000).data(64).b, "1000 u64 array elements need at least 8 bytes each, 64 remain"},
		{"lying string array", kv("k", ValueArray).u32(uint32(ValueString)).u64(1000).data(64).b, "1000 string array elements need at least 8 bytes each"},
		{"array of unknown", kv("k", ValueArray).u32(77).u64(0).b, "array of unknown value type 77"},
		{"too deep", nest(MaxArrayDepth + 1), "arrays nest deeper than the limit of 8"},
		{"alignment type", new(raw).header(0, 1).str(AlignmentKey).u32(uint32(ValueUint64)).u64(32).b, "general.alignment is a u64, want u32"},
		{"alignment 48", new(raw).header(0, 1).kvU32(AlignmentKey, 48).b, "general.alignment 48 is not a power of two"},
		{"alignment 0", new(raw).header(0, 1).kvU32(AlignmentKey, 0).b, "general.alignment 0 is not a power of two"},
		{"long tensor name", tensorFile(1, func(r *raw) { r.tensor(strings.Repeat("n", 64), TypeF32, 0, 1) }), "tensor name length 64 exceeds the limit of 63"},
		{"empty tensor name", tensorFile(1, func(r *raw) { r.tensor("", TypeF32, 0, 1) }), "empty tensor name"},
		{"duplicate tensor", tensorFile(2, func(r *raw) { r.tensor("t", TypeF32, 0, 1).tensor("t", TypeF32, 32, 1) }), `duplicate tensor name "t"`},
		{"no dims", tensorFile(1, func(r *raw) { r.tensor("t", TypeF32, 0) }), `tensor "t" has 0 dimensions, want 1 to 4`},
		{"five dims", tensorFile(1, func(r *raw) { r.tensor("t", TypeF32, 0, 1, 1, 1, 1, 1) }), "has 5 dimensions"},
		{"huge dim count", tensorFile(1, func(r *raw) { r.str("t").u32(1 << 31) }), "has 2147483648 dimensions"},
		{"dim beyond int64", tensorFile(1, func(r *raw) { r.tensor("t", TypeF32, 0, 1<<63) }), "beyond int64"},
		{"removed type", tensorFile(1, func(r *raw) { r.tensor("t", Type(4), 0, 32) }), `tensor "t" has unknown ggml type 4`},
		{"unknown type", tensorFile(1, func(r *raw) { r.tensor("t", Type(100), 0, 32) }), "unknown ggml type 100"},
		{"partial block", tensorFile(1, func(r *raw) { r.tensor("t", TypeQ4_0, 0, 33) }), "row length 33 is not a multiple of Q4_0's block size 32"},
		{"element overflow", tensorFile(1, func(r *raw) { r.tensor("t", TypeF32, 0, 1<<40, 1<<40) }), "hold more than"},
		{"byte overflow", tensorFile(1, func(r *raw) { r.tensor("t", TypeF32, 0, 1<<62) }), "take more than"},
		{"misaligned", tensorFile(1, func(r *raw) { r.tensor("t", TypeF32, 1, 1) }), `tensor "t": offset 1 is not a multiple of the alignment 32`},
		{"offset past end", tensorFile(1, func(r *raw) { r.tensor("t", TypeF32, 1<<20, 1) }), "runs past the end of the 256-byte data section"},
		{"offset beyond int64", tensorFile(1, func(r *raw) { r.tensor("t", TypeF32, 1<<63, 1) }), "offset 9223372036854775808 is beyond int64"},
		{"data past end", tensorFile(1, func(r *raw) { r.tensor("t", TypeF32, 0, 65) }), `tensor "t": data [0, 260) runs past the end`},
		{"overlap", tensorFile(2, func(r *raw) { r.tensor("a", TypeF32, 0, 9).tensor("b", TypeF32, 32, 1) }), `tensors "a" and "b" overlap`},
		{"no data section", new(raw).header(1, 0).tensor("t", TypeF32, 0, 1).b, "data section would start at 64, past the end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.data)
			if err == nil {
				t.Fatalf("parsed; want error %q", tt.want)
			}
			if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "gguf: ") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want a one-line gguf: error wrapping ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestParseTruncated checks that every proper prefix of a valid file that
// cuts into its header or tensor data fails cleanly.
func TestParseTruncated(t *testing.T) {
	data := validFile()
	if _, err := Parse(data); err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		if _, err := Parse(data[:n]); !errors.Is(err, ErrFormat) {
			t.Fatalf("prefix of %d bytes: %v, want ErrFormat", n, err)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	v2 := validFile()
	v2[4] = 2
	tests := []struct {
		name string
		data []byte
	}{
		{"version 2", v2},
		{"no tensors, no padding", new(raw).header(0, 1).kvU32("k", 1).b},
		{"gap between tensors", new(raw).header(2, 0).tensor("a", TypeF32, 64, 1).tensor("b", TypeF32, 0, 1).pad(32).data(96).b},
		{"no padding after the last tensor", new(raw).header(1, 0).tensor("t", TypeF32, 0, 1).pad(32).data(4).b},
		{"zero-size tensor at the end", new(raw).header(1, 0).tensor("t", TypeF32, 0, 0, 3).pad(32).b},
		{"nested to the limit", func() []byte {
			r := new(raw).header(0, 1).str("k").u32(uint32(ValueArray))
			for range MaxArrayDepth - 1 {
				r.u32(uint32(ValueArray)).u64(1)
			}
			return r.u32(uint32(ValueUint8)).u64(0).b
		}()},
		{"alignment 1", new(raw).header(1, 1).kvU32(AlignmentKey, 1).tensor("t", TypeF32, 3, 1).data(7).b},
		{"type passed through", new(raw).header(1, 0).tensor("t", TypeIQ2_XXS, 0, 256).pad(32).data(66).b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.data); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGetters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	writeModel(t, path, allValues(t), nil)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	if s, err := Get[string](f, "general.architecture"); s != "llama" || err != nil {
		t.Errorf("Get[string] = %q, %v", s, err)
	}
	if x, err := Get[float32](f, "t.f32"); x != 1e-5 || err != nil {
		t.Errorf("Get[float32] = %v, %v", x, err)
	}
	if xs, err := GetArray[string](f, "a.string"); !slices.Equal(xs, []string{"<s>", "</s>", "", "▁the"}) || err != nil {
		t.Errorf("GetArray[string] = %q, %v", xs, err)
	}
	if _, err := Get[uint64](f, "t.u32"); !errors.Is(err, ErrValueType) || !strings.Contains(err.Error(), `"t.u32" is a u32, want u64`) {
		t.Errorf("Get of the wrong type: %v", err)
	}
	if _, err := GetArray[int32](f, "a.u32"); !errors.Is(err, ErrValueType) || !strings.Contains(err.Error(), "is a array of u32, want array of i32") {
		t.Errorf("GetArray of the wrong type: %v", err)
	}
	if _, err := Get[uint32](f, "missing"); !errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), path) {
		t.Errorf("Get of a missing key: %v", err)
	}
	for key, want := range map[string]int64{"t.u8": 200, "t.i8": -100, "t.u16": 60000, "t.i16": -30000,
		"t.u32": 4_000_000_000, "t.i32": -2_000_000_000, "t.i64": math.MinInt64} {
		if got, err := f.Int(key); got != want || err != nil {
			t.Errorf("Int(%q) = %d, %v; want %d", key, got, err, want)
		}
	}
	if _, err := f.Int("t.u64"); !errors.Is(err, ErrValueType) {
		t.Errorf("Int of MaxUint64: %v", err)
	}
	if _, err := f.Int("t.f32"); !errors.Is(err, ErrValueType) {
		t.Errorf("Int of a float: %v", err)
	}

	v, _ := f.Value("a.nested")
	elems, ok := v.Elems()
	if !ok || len(elems) != 2 || v.ElemType() != ValueArray || v.Len() != 2 {
		t.Fatalf("nested array: %v", v)
	}
	inner, _ := elems[0].Elems()
	if u8s, ok := AsArray[uint8](inner[0]); !ok || !slices.Equal(u8s, []uint8{1, 2}) {
		t.Errorf("nested element: %v", inner[0])
	}
	if s := v.String(); s != `[[[1 2] [x] []] [-1]]` {
		t.Errorf("String() = %s", s)
	}
	if _, err := f.TensorData("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("TensorData of a missing tensor: %v", err)
	}
}

func TestDequantizeUnsupported(t *testing.T) {
	f, err := Parse(new(raw).header(1, 0).tensor("t", TypeQ3_K, 0, 256).pad(32).data(110).b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Dequantize("t"); !errors.Is(err, ErrUnsupportedType) || !strings.Contains(err.Error(), `tensor "t": Q3_K`) {
		t.Errorf("Dequantize of Q3_K: %v", err)
	}
	data, err := f.TensorData("t")
	if err != nil || len(data) != 110 {
		t.Errorf("TensorData of Q3_K: %d bytes, %v", len(data), err)
	}
	if info, ok := f.Tensor("t"); !ok || !slices.Equal(info.Shape(), []int64{256}) || info.NumElements() != 256 {
		t.Errorf("Tensor: %+v", info)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	path := writeTemp(t, "bad.gguf", []byte("GGUFxxxx"))
	if _, err := Open(path); !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), path+": at offset 4: ") {
		t.Errorf("bad file: %v", err)
	}
	path = writeTemp(t, "short.gguf", []byte("GG"))
	if _, err := Open(path); !errors.Is(err, ErrFormat) {
		t.Errorf("short file: %v", err)
	}
}

func TestShape(t *testing.T) {
	info := TensorInfo{Dims: []int64{4096, 11008}}
	if got := info.Shape(); !slices.Equal(got, []int64{11008, 4096}) || info.Dims[0] != 4096 {
		t.Errorf("Shape() = %v", got)
	}
}
