package safetensors

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/internal/half"
)

const tinyLlama = "../../testdata/models/tiny-llama"

// tinyLlamaNames lists the checkpoint's tensors in the order PyTorch's
// state_dict gives them, the order transformers shards them in.
func tinyLlamaNames() []string {
	names := []string{"model.embed_tokens.weight"}
	for l := range 4 {
		for _, suffix := range []string{
			"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
			"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
			"input_layernorm", "post_attention_layernorm",
		} {
			names = append(names, fmt.Sprintf("model.layers.%d.%s.weight", l, suffix))
		}
	}
	return append(names, "model.norm.weight", "lm_head.weight")
}

func TestTinyLlama(t *testing.T) {
	c, err := OpenCheckpoint(tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := slices.Sorted(slices.Values(tinyLlamaNames()))
	if got := c.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %q\nwant %q", got, want)
	}
	shapes := []struct {
		name  string
		shape []int
	}{
		{"model.embed_tokens.weight", []int{4096, 256}},
		{"model.layers.0.self_attn.q_proj.weight", []int{256, 256}},
		{"model.layers.1.self_attn.k_proj.weight", []int{64, 256}},
		{"model.layers.3.mlp.down_proj.weight", []int{256, 768}},
		{"model.layers.2.input_layernorm.weight", []int{256}},
		{"model.norm.weight", []int{256}},
		{"lm_head.weight", []int{4096, 256}},
	}
	for _, tt := range shapes {
		tensor, err := c.Tensor(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if tensor.DType != BF16 || !slices.Equal(tensor.Shape, tt.shape) {
			t.Errorf("%s: %s %v, want BF16 %v", tt.name, tensor.DType, tensor.Shape, tt.shape)
		}
	}
	if _, err := c.Tensor("model.layers.4.mlp.up_proj.weight"); err == nil {
		t.Error("Tensor of an unknown name succeeded")
	}
}

// TestTinyLlamaWiden checks BF16 widening of real weights against the
// scalar conversion and against what trained weights look like.
func TestTinyLlamaWiden(t *testing.T) {
	c, err := OpenCheckpoint(tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, name := range c.Names() {
		tensor, err := c.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		values, err := tensor.Float32()
		if err != nil {
			t.Fatal(err)
		}
		if len(values) != tensor.NumElements() || 2*len(values) != len(tensor.Data) {
			t.Fatalf("%s: %d values from %d bytes for %d elements", name, len(values), len(tensor.Data), tensor.NumElements())
		}
		var sumSq, maxAbs float64
		for i, v := range values {
			bits := uint16(tensor.Data[2*i]) | uint16(tensor.Data[2*i+1])<<8
			if want := half.BF16ToF32(bits); math.Float32bits(v) != math.Float32bits(want) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, v, want)
			}
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s[%d] = %v", name, i, v)
			}
			sumSq += float64(v) * float64(v)
			maxAbs = max(maxAbs, math.Abs(float64(v)))
		}
		rms := math.Sqrt(sumSq / float64(len(values)))
		switch {
		case strings.HasSuffix(name, "norm.weight"):
			// RMSNorm gains start at 1 and stay of that order.
			if rms < 0.05 || rms > 20 {
				t.Errorf("%s: RMS %.3g, want a norm gain of order 1", name, rms)
			}
		default:
			// Trained projections and embeddings: small, nonzero.
			if rms < 1e-3 || rms > 1 || maxAbs > 50 {
				t.Errorf("%s: RMS %.3g, max |w| %.3g; want weights of order 0.01 to 0.1", name, rms, maxAbs)
			}
		}
	}
}

// TestTinyLlamaRewrite rewrites the checkpoint with the shard cap
// transformers used for it (max_shard_size="4MB") and expects the very same
// index, and the same tensors.
func TestTinyLlamaRewrite(t *testing.T) {
	c, err := OpenCheckpoint(tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	var tensors []testTensor
	for _, name := range tinyLlamaNames() {
		tensor, err := c.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, testTensor{name, tensor.DType, tensor.Shape, tensor.Data})
	}
	writeAll(t, dir, WriterOptions{MaxShardBytes: 4_000_000}, tensors)

	got, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(tinyLlama, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("index differs from transformers'\ngot:\n%s\nwant:\n%s", got, want)
	}
	c2, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for _, tt := range tensors {
		tensor, err := c2.Tensor(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if string(tensor.Data) != string(tt.data) {
			t.Errorf("%s: data differs after rewriting", tt.name)
		}
	}
}

func TestOpenCheckpointErrors(t *testing.T) {
	shard := func(names ...string) []byte {
		header := "{"
		for i, name := range names {
			if i > 0 {
				header += ","
			}
			header += fmt.Sprintf(`%q:{"dtype":"U8","shape":[1],"data_offsets":[%d,%d]}`, name, i, i+1)
		}
		return fileBytes(header+"}", make([]byte, len(names)))
	}
	index := func(weightMap string) []byte {
		return []byte(`{"metadata":{"total_size":2},"weight_map":{` + weightMap + `}}`)
	}
	tests := []struct {
		name   string
		files  map[string][]byte
		want   string // in the error, after the directory
		format bool   // whether the error wraps ErrFormat
	}{
		{
			name:  "no weights",
			files: map[string][]byte{"config.json": []byte("{}")},
			want:  "no safetensors weights in DIR (neither model.safetensors.index.json nor model.safetensors)",
		},
		{
			name: "missing shard",
			files: map[string][]byte{
				IndexFileName:                      index(`"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"`),
				"model-00001-of-00002.safetensors": shard("a"),
			},
			want: "DIR/model-00002-of-00002.safetensors: missing (a shard listed in model.safetensors.index.json)",
		},
		{
			name: "tensor not in the index",
			files: map[string][]byte{
				IndexFileName:                      index(`"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"`),
				"model-00001-of-00002.safetensors": shard("a"),
				"model-00002-of-00002.safetensors": shard("c"),
			},
			want:   `DIR/model-00002-of-00002.safetensors: tensor "c" is not listed in model.safetensors.index.json`,
			format: true,
		},
		{
			name: "tensor listed but absent",
			files: map[string][]byte{
				IndexFileName:                      index(`"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","z":"model-00002-of-00002.safetensors"`),
				"model-00001-of-00002.safetensors": shard("a"),
				"model-00002-of-00002.safetensors": shard("b"),
			},
			want:   `DIR/model-00002-of-00002.safetensors: tensor "z" is listed in model.safetensors.index.json but missing from this shard`,
			format: true,
		},
		{
			name: "tensor in the wrong shard",
			files: map[string][]byte{
				IndexFileName:                      index(`"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"`),
				"model-00001-of-00002.safetensors": shard("a", "b"),
				"model-00002-of-00002.safetensors": shard(),
			},
			want:   `DIR/model-00001-of-00002.safetensors: tensor "b" is listed in model.safetensors.index.json for model-00002-of-00002.safetensors`,
			format: true,
		},
		{
			name:   "index not JSON",
			files:  map[string][]byte{IndexFileName: []byte(`{"weight_map":`)},
			want:   "DIR/model.safetensors.index.json: index is not valid JSON",
			format: true,
		},
		{
			name:   "index without weight_map",
			files:  map[string][]byte{IndexFileName: []byte(`{"metadata":{}}`)},
			want:   "DIR/model.safetensors.index.json: index has no weight_map or it lists no tensors",
			format: true,
		},
		{
			name:   "weight_map value not a string",
			files:  map[string][]byte{IndexFileName: index(`"a":1`)},
			want:   `DIR/model.safetensors.index.json: index: weight_map: key "a": value is not a string`,
			format: true,
		},
		{
			name:   "weight_map duplicate",
			files:  map[string][]byte{IndexFileName: index(`"a":"x.safetensors","a":"y.safetensors"`)},
			want:   `DIR/model.safetensors.index.json: index: weight_map: duplicate key "a"`,
			format: true,
		},
		{
			name:   "shard outside the directory",
			files:  map[string][]byte{IndexFileName: index(`"a":"../model.safetensors"`)},
			want:   `DIR/model.safetensors.index.json: weight_map: tensor "a": shard "../model.safetensors" is not a file name`,
			format: true,
		},
		{
			name:   "malformed single file",
			files:  map[string][]byte{SingleFileName: []byte("short")},
			want:   "DIR/model.safetensors: file is 5 bytes, too short for the 8-byte header length",
			format: true,
		},
		{
			name: "malformed shard",
			files: map[string][]byte{
				IndexFileName:                      index(`"a":"model-00001-of-00001.safetensors"`),
				"model-00001-of-00001.safetensors": fileBytes(`{"a":1}`, nil),
			},
			want:   `DIR/model-00001-of-00001.safetensors: tensor "a": entry is not a JSON object`,
			format: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				writeFile(t, dir, name, data)
			}
			c, err := OpenCheckpoint(dir)
			if err == nil {
				c.Close()
				t.Fatal("OpenCheckpoint succeeded")
			}
			if want := strings.ReplaceAll(tt.want, "DIR", dir); err.Error() != want {
				t.Errorf("error %q\nwant  %q", err, want)
			}
			if errors.Is(err, ErrFormat) != tt.format {
				t.Errorf("errors.Is(err, ErrFormat) = %v, want %v", !tt.format, tt.format)
			}
		})
	}
}

func TestOpenCheckpointPrefersIndex(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, SingleFileName, fileBytes(`{"single":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, []byte{1}))
	writeFile(t, dir, "shard.safetensors", fileBytes(`{"sharded":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, []byte{2}))
	writeFile(t, dir, IndexFileName, []byte(`{"weight_map":{"sharded":"shard.safetensors"}}`))
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Names(); !slices.Equal(got, []string{"sharded"}) {
		t.Errorf("Names() = %q, want the index's tensors", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "absent.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file: %v, want os.ErrNotExist", err)
	}
	if _, err := Open(dir); err == nil || err.Error() != dir+": not a regular file" {
		t.Errorf("Open of a directory: %v", err)
	}
	path := filepath.Join(dir, "bad.safetensors")
	writeFile(t, dir, "bad.safetensors", fileBytes(`{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1}))
	_, err := Open(path)
	if want := path + `: tensor "x": data_offsets [0, 2] extend past the 1-byte data section`; err == nil || err.Error() != want {
		t.Errorf("Open: %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrFormat) {
		t.Errorf("error %v does not wrap ErrFormat", err)
	}
}
