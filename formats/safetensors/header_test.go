package safetensors

import (
	"encoding/binary"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

func TestParseRejects(t *testing.T) {
	entry := func(name, dtype, shape, offsets string) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}`
	}
	tests := []struct {
		name string
		buf  []byte
		want string // in the error message
	}{
		{"empty file", nil, "file is 0 bytes, too short"},
		{"short file", []byte{1, 0, 0, 0, 0, 0, 0}, "file is 7 bytes, too short"},
		{"header past end of file", binary.LittleEndian.AppendUint64(nil, 100), "header length 100 exceeds the 0 bytes that follow it"},
		{"header over the limit", append(binary.LittleEndian.AppendUint64(nil, 1<<62), "{}"...), "exceeds the limit of 104857600 bytes"},
		{"empty header", fileBytes("", nil), "header does not start with '{'"},
		{"header not an object", fileBytes(`[]`, nil), "header does not start with '{'"},
		{"header not UTF-8", fileBytes("{\"\xff\":1}", nil), "header is not valid UTF-8"},
		{"malformed JSON", fileBytes(`{"a":`, nil), "header is not valid JSON"},
		{"missing comma", fileBytes(`{"__metadata__":{} "b":{}}`, nil), "header is not valid JSON"},
		{"data after the JSON", fileBytes(`{} {}`, nil), "header has 2 bytes after its JSON object"},
		{"metadata not an object", fileBytes(`{"__metadata__":[]}`, nil), `__metadata__: expected a JSON object, found "["`},
		{"metadata value not a string", fileBytes(`{"__metadata__":{"format":1}}`, nil), `__metadata__: key "format": value is not a string`},
		{"duplicate metadata key", fileBytes(`{"__metadata__":{"a":"1","a":"2"}}`, nil), `__metadata__: duplicate key "a"`},
		{"duplicate metadata", fileBytes(`{"__metadata__":{},"__metadata__":{}}`, nil), `safetensors: header: duplicate key "__metadata__"`},
		{"duplicate tensor", fileBytes(`{`+entry("x", "U8", "[1]", "[0,1]")+`,`+entry("x", "U8", "[1]", "[1,2]")+`}`, []byte{1, 2}), `safetensors: header: duplicate key "x"`},
		{"entry not an object", fileBytes(`{"x":5}`, nil), `tensor "x": entry is not a JSON object`},
		{"empty name", fileBytes(`{`+entry("", "U8", "[0]", "[0,0]")+`}`, nil), `tensor "": empty tensor name`},
		{"missing dtype", fileBytes(`{"x":{"shape":[],"data_offsets":[0,0]}}`, nil), `tensor "x": missing dtype`},
		{"missing shape", fileBytes(`{"x":{"dtype":"U8","data_offsets":[0,0]}}`, nil), `tensor "x": missing shape`},
		{"missing offsets", fileBytes(`{"x":{"dtype":"U8","shape":[]}}`, nil), `tensor "x": missing data_offsets`},
		{"three offsets", fileBytes(`{`+entry("x", "U8", "[1]", "[0,1,1]")+`}`, []byte{0}), `tensor "x": data_offsets has 3 values`},
		{"dtype not a string", fileBytes(`{"x":{"dtype":7,"shape":[],"data_offsets":[0,0]}}`, nil), `tensor "x": dtype: unexpected number`},
		{"unknown dtype", fileBytes(`{`+entry("x", "F17", "[1]", "[0,2]")+`}`, []byte{0, 0}), `tensor "x": unknown dtype "F17"`},
		{"negative dimension", fileBytes(`{`+entry("x", "U8", "[2,-1]", "[0,0]")+`}`, nil), `tensor "x": shape [2 -1] has a negative dimension`},
		{"fractional dimension", fileBytes(`{`+entry("x", "U8", "[1.5]", "[0,0]")+`}`, nil), `tensor "x": shape: unexpected number 1.5`},
		{"huge dimension", fileBytes(`{`+entry("x", "U8", "[1e30]", "[0,0]")+`}`, nil), `tensor "x": shape: unexpected number 1e30`},
		{"element count overflows", fileBytes(`{`+entry("x", "U8", "[4294967296,4294967296]", "[0,0]")+`}`, nil), `has too many elements`},
		{"byte count overflows", fileBytes(`{`+entry("x", "F64", "[4611686018427387904]", "[0,0]")+`}`, nil), `of F64 is too large`},
		{"sub-byte tensor", fileBytes(`{`+entry("x", "F4", "[3]", "[0,1]")+`}`, []byte{0}), `shape [3] of F4 does not fill whole bytes`},
		{"negative offset", fileBytes(`{`+entry("x", "U8", "[0]", "[-1,-1]")+`}`, nil), `tensor "x": negative data_offsets [-1, -1]`},
		{"begin after end", fileBytes(`{`+entry("x", "U8", "[0]", "[2,1]")+`}`, []byte{0, 0}), `tensor "x": data_offsets [2, 1] end before they begin`},
		{"size too small for shape", fileBytes(`{`+entry("x", "F16", "[2,3]", "[0,10]")+`}`, make([]byte, 10)), `tensor "x": shape [2 3] of F16 needs 12 bytes, data_offsets [0, 10] hold 10`},
		{"size too large for shape", fileBytes(`{`+entry("x", "F32", "[]", "[0,8]")+`}`, make([]byte, 8)), `shape [] of F32 needs 4 bytes`},
		{"offsets past end of file", fileBytes(`{`+entry("x", "U8", "[4]", "[0,4]")+`}`, make([]byte, 3)), `tensor "x": data_offsets [0, 4] extend past the 3-byte data section`},
		{"overlap", fileBytes(`{`+entry("a", "U8", "[4]", "[0,4]")+`,`+entry("b", "U8", "[4]", "[2,6]")+`}`, make([]byte, 6)), `tensor "b": data_offsets [2, 6] overlap tensor "a" at [0, 4]`},
		{"same range", fileBytes(`{`+entry("a", "U8", "[4]", "[0,4]")+`,`+entry("b", "U8", "[4]", "[0,4]")+`}`, make([]byte, 4)), `tensor "b": data_offsets [0, 4] overlap tensor "a"`},
		{"empty tensor inside another", fileBytes(`{`+entry("a", "U8", "[4]", "[0,4]")+`,`+entry("b", "U8", "[0]", "[2,2]")+`}`, make([]byte, 4)), `tensor "b": data_offsets [2, 2] overlap tensor "a"`},
		{"gap", fileBytes(`{`+entry("a", "U8", "[2]", "[0,2]")+`,`+entry("b", "U8", "[2]", "[4,6]")+`}`, make([]byte, 6)), `tensor "b": data_offsets [4, 6] leave bytes 2 to 4 of the data section unused`},
		{"unused leading bytes", fileBytes(`{`+entry("a", "U8", "[2]", "[1,3]")+`}`, make([]byte, 3)), `leave bytes 0 to 1`},
		{"unused trailing bytes", fileBytes(`{`+entry("a", "U8", "[2]", "[0,2]")+`}`, make([]byte, 5)), `data section is 5 bytes but its tensors cover 2`},
		{"data without tensors", fileBytes(`{}`, make([]byte, 1)), `data section is 1 bytes but its tensors cover 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.buf)
			if err == nil {
				t.Fatalf("Parse succeeded with tensors %v", f.Tensors())
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "safetensors: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q\nwant it to contain %q", msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q spans lines", msg)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %q does not wrap ErrFormat", msg)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name     string
		buf      []byte
		metadata map[string]string
		tensors  []TensorInfo // in data order
	}{
		{
			name:    "no tensors",
			buf:     fileBytes(`{}`, nil),
			tensors: nil,
		},
		{
			name:     "padded header and metadata",
			buf:      fileBytes(`{"__metadata__":{"format":"pt"},"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}      `, make([]byte, 4)),
			metadata: map[string]string{"format": "pt"},
			tensors:  []TensorInfo{{Name: "x", DType: F16, Shape: []int{2}, Begin: 0, End: 4}},
		},
		{
			name:    "null metadata and whitespace in JSON",
			buf:     fileBytes("{ \"__metadata__\" : null ,\n \"x\" : { \"dtype\" : \"U8\" , \"shape\" : [ ] , \"data_offsets\" : [ 0 , 1 ] } }\n", []byte{7}),
			tensors: []TensorInfo{{Name: "x", DType: U8, Shape: []int{}, Begin: 0, End: 1}},
		},
		{
			name: "header order differs from data order",
			buf: fileBytes(`{"b":{"dtype":"I32","shape":[1],"data_offsets":[2,6]},`+
				`"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},`+
				`"e":{"dtype":"F32","shape":[0,5],"data_offsets":[6,6]}}`, make([]byte, 6)),
			tensors: []TensorInfo{
				{Name: "a", DType: BF16, Shape: []int{1}, Begin: 0, End: 2},
				{Name: "b", DType: I32, Shape: []int{1}, Begin: 2, End: 6},
				{Name: "e", DType: F32, Shape: []int{0, 5}, Begin: 6, End: 6},
			},
		},
		{
			name: "empty tensor first at a shared offset",
			buf: fileBytes(`{"z":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},`+
				`"y":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, make([]byte, 2)),
			tensors: []TensorInfo{
				{Name: "y", DType: U8, Shape: []int{0}, Begin: 0, End: 0},
				{Name: "z", DType: U8, Shape: []int{2}, Begin: 0, End: 2},
			},
		},
		{
			name: "dtypes qtk does not convert still open",
			buf: fileBytes(`{"f8":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]},`+
				`"f4":{"dtype":"F4","shape":[4],"data_offsets":[2,4]}}`, make([]byte, 4)),
			tensors: []TensorInfo{
				{Name: "f8", DType: F8E4M3, Shape: []int{2}, Begin: 0, End: 2},
				{Name: "f4", DType: F4, Shape: []int{4}, Begin: 2, End: 4},
			},
		},
		{
			name:    "unknown entry fields are ignored",
			buf:     fileBytes(`{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"note":"hi"}}`, []byte{1}),
			tensors: []TensorInfo{{Name: "x", DType: U8, Shape: []int{1}, Begin: 0, End: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Tensors(); !reflect.DeepEqual(got, tt.tensors) {
				t.Errorf("Tensors() = %+v\nwant %+v", got, tt.tensors)
			}
			if got := f.Metadata(); !maps.Equal(got, tt.metadata) {
				t.Errorf("Metadata() = %v, want %v", got, tt.metadata)
			}
			for _, info := range tt.tensors {
				tensor, ok := f.Tensor(info.Name)
				if !ok {
					t.Fatalf("Tensor(%q) not found", info.Name)
				}
				if int64(len(tensor.Data)) != info.End-info.Begin {
					t.Errorf("Tensor(%q) has %d bytes of data, want %d", info.Name, len(tensor.Data), info.End-info.Begin)
				}
			}
			if _, ok := f.Tensor("missing"); ok {
				t.Error(`Tensor("missing") found a tensor`)
			}
			if err := f.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestTensorsCopies checks that callers cannot change a File through the
// slices it returns.
func TestTensorsCopies(t *testing.T) {
	f, err := Parse(fileBytes(`{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}))
	if err != nil {
		t.Fatal(err)
	}
	f.Tensors()[0].Shape[0] = 99
	x, _ := f.Tensor("x")
	x.Shape[0] = 98
	f.Metadata()["k"] = "v"
	if got := f.Tensors()[0].Shape[0]; got != 1 {
		t.Errorf("shape changed to %d through a returned slice", got)
	}
	if len(f.Metadata()) != 0 {
		t.Error("metadata changed through a returned map")
	}
}
