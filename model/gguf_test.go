package model_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/convert"
	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/model"
)

const tinyLlama = "../testdata/models/tiny-llama"

// TestGGUFMatchesCheckpoint converts tiny-llama (bf16) to a BF16 GGUF file,
// which holds every weight exactly, and checks that the file reads back as
// the checkpoint: the same hyperparameters and, in Hugging Face layout, the
// same tensors.
func TestGGUFMatchesCheckpoint(t *testing.T) {
	ck, err := model.Open(tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, err := convert.WriteGGUF(context.Background(), ck, path, convert.GGUFOptions{Type: "bf16"}); err != nil {
		t.Fatal(err)
	}
	g, err := model.OpenGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	want := *ck.Config
	want.DType = "" // GGUF files hold no checkpoint dtype
	if got := *g.ModelConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("config from GGUF\n%+v\nwant\n%+v", got, want)
	}
	for _, spec := range ck.Config.Tensors() {
		w, err := ck.Float32(spec.Role, spec.Layer)
		if err != nil {
			t.Fatal(err)
		}
		got, err := g.Float32(spec.Role, spec.Layer)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, w) {
			t.Errorf("%s differs from the checkpoint", spec.Name)
		}
	}
}

// synthTensor is one tensor of a synthetic GGUF model.
type synthTensor struct {
	name string
	typ  gguf.Type
	dims []int64 // innermost first
}

// synthModel describes a one-layer llama GGUF file with 256-wide rows, so
// that every block size fits, and with a tied head.
func synthModel() ([]gguf.KV, []synthTensor) { return synthModelOf(256) }

// synthModelOf describes a one-layer llama of the given width (a multiple
// of 32): two heads, one KV head, a vocabulary of 8.
func synthModelOf(width int64) ([]gguf.KV, []synthTensor) {
	u := func(x uint32) gguf.Value { return gguf.Scalar(x) }
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.Scalar("llama")},
		{Key: "llama.block_count", Value: u(1)},
		{Key: "llama.embedding_length", Value: u(uint32(width))},
		{Key: "llama.feed_forward_length", Value: u(uint32(width))},
		{Key: "llama.attention.head_count", Value: u(2)},
		{Key: "llama.attention.head_count_kv", Value: u(1)},
		{Key: "llama.context_length", Value: u(64)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.Scalar(float32(1e-5))},
		{Key: "llama.rope.freq_base", Value: gguf.Scalar(float32(10000))},
	}
	var ts []synthTensor
	add := func(name string, dims ...int64) {
		typ := gguf.TypeQ8_0
		if len(dims) == 1 {
			typ = gguf.TypeF32
		}
		ts = append(ts, synthTensor{name, typ, dims})
	}
	add("token_embd.weight", width, 8)
	add("blk.0.attn_norm.weight", width)
	add("blk.0.attn_q.weight", width, width)
	add("blk.0.attn_k.weight", width, width/2)
	add("blk.0.attn_v.weight", width, width/2)
	add("blk.0.attn_output.weight", width, width)
	add("blk.0.ffn_norm.weight", width)
	add("blk.0.ffn_gate.weight", width, width)
	add("blk.0.ffn_up.weight", width, width)
	add("blk.0.ffn_down.weight", width, width)
	add("output_norm.weight", width)
	return kvs, ts
}

// writeSynth writes a synthetic model; tensors of types without a codec
// hold zero bytes.
func writeSynth(t testing.TB, kvs []gguf.KV, ts []synthTensor) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synth.gguf")
	w, err := gguf.NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, kv := range kvs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range ts {
		if err := w.Declare(st.name, st.typ, st.dims...); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range ts {
		n := int64(1)
		for _, d := range st.dims {
			n *= d
		}
		if !st.typ.HasCodec() {
			size, _ := st.typ.RowSize(n)
			err = w.WriteTensor(st.name, make([]byte, size))
		} else {
			values := make([]float32, n)
			for i := range values {
				values[i] = float32(i%17)/17 - 0.5
			}
			err = w.WriteFloat32(st.name, values)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenGGUFSynthetic(t *testing.T) {
	kvs, ts := synthModel()
	g, err := model.OpenGGUF(writeSynth(t, kvs, ts))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cfg := g.ModelConfig()
	if !cfg.TieWordEmbeddings || cfg.VocabSize != 8 || cfg.HeadDim != 128 || cfg.NumKVHeads != 1 || cfg.RMSNormEps != 1e-5 || cfg.BOSTokenID != -1 {
		t.Errorf("config %+v", cfg)
	}
	head, err := g.Float32(model.Output, -1)
	if err != nil {
		t.Fatal(err)
	}
	embd, _ := g.Float32(model.TokenEmbedding, -1)
	if !slices.Equal(head, embd) {
		t.Error("the tied head is not the embedding")
	}
}

// TestOpenGGUFErrors checks that each defect gives an error naming it.
func TestOpenGGUFErrors(t *testing.T) {
	setKV := func(key string, v gguf.Value) func(*[]gguf.KV, *[]synthTensor) {
		return func(kvs *[]gguf.KV, _ *[]synthTensor) {
			for i := range *kvs {
				if (*kvs)[i].Key == key {
					(*kvs)[i].Value = v
					return
				}
			}
			*kvs = append(*kvs, gguf.KV{Key: key, Value: v})
		}
	}
	dropKV := func(key string) func(*[]gguf.KV, *[]synthTensor) {
		return func(kvs *[]gguf.KV, _ *[]synthTensor) {
			*kvs = slices.DeleteFunc(*kvs, func(kv gguf.KV) bool { return kv.Key == key })
		}
	}
	editTensor := func(name string, edit func(*synthTensor)) func(*[]gguf.KV, *[]synthTensor) {
		return func(_ *[]gguf.KV, ts *[]synthTensor) {
			for i := range *ts {
				if (*ts)[i].name == name {
					edit(&(*ts)[i])
				}
			}
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*[]gguf.KV, *[]synthTensor)
		want string
	}{
		{"unsupported type", editTensor("blk.0.ffn_down.weight", func(s *synthTensor) { s.typ = gguf.TypeQ5_K }),
			"tensor blk.0.ffn_down.weight is Q5_K, which qtk cannot decode"},
		{"IQ type", editTensor("blk.0.attn_q.weight", func(s *synthTensor) { s.typ = gguf.TypeIQ4_XS }),
			"tensor blk.0.attn_q.weight is IQ4_XS"},
		{"missing tensor", func(_ *[]gguf.KV, ts *[]synthTensor) { *ts = (*ts)[:len(*ts)-1] },
			"missing tensor output_norm.weight"},
		{"missing embedding", func(_ *[]gguf.KV, ts *[]synthTensor) { *ts = (*ts)[1:] },
			"missing tensor token_embd.weight"},
		{"wrong shape", editTensor("blk.0.attn_k.weight", func(s *synthTensor) { s.dims = []int64{256, 256} }),
			"tensor blk.0.attn_k.weight has shape [256 256], the metadata implies [128 256]"},
		{"unexpected tensor", func(_ *[]gguf.KV, ts *[]synthTensor) {
			*ts = append(*ts, synthTensor{"blk.1.attn_norm.weight", gguf.TypeF32, []int64{256}})
		}, "unexpected tensor blk.1.attn_norm.weight"},
		{"architecture", setKV("general.architecture", gguf.Scalar("gpt2")), `general.architecture "gpt2" is not supported`},
		{"missing key", dropKV("llama.block_count"), "metadata llama.block_count is missing"},
		{"key type", setKV("llama.block_count", gguf.Scalar("one")), "llama.block_count must be an integer"},
		{"kv heads", setKV("llama.attention.head_count_kv", gguf.Scalar(uint32(3))), "head_count_kv 3 does not divide"},
		{"partial rotary", setKV("llama.rope.dimension_count", gguf.Scalar(uint32(64))), "rope.dimension_count 64"},
		{"rope scaling", setKV("llama.rope.scaling.type", gguf.Scalar("yarn")), `unsupported RoPE scaling "yarn"`},
		{"rope freqs size", func(_ *[]gguf.KV, ts *[]synthTensor) {
			*ts = append(*ts, synthTensor{"rope_freqs.weight", gguf.TypeF32, []int64{32}})
		}, "rope_freqs.weight must hold 64 values"},
		{"rope freqs values", func(_ *[]gguf.KV, ts *[]synthTensor) {
			*ts = append(*ts, synthTensor{"rope_freqs.weight", gguf.TypeF32, []int64{64}})
		}, "want a positive factor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kvs, ts := synthModel()
			tc.edit(&kvs, &ts)
			path := writeSynth(t, kvs, ts)
			g, err := model.OpenGGUF(path)
			if err == nil {
				g.Close()
				t.Fatalf("opened; want an error containing %q", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, path+": ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line naming %s and containing %q", msg, path, tc.want)
			}
		})
	}
}

func TestOpenGGUFTruncated(t *testing.T) {
	kvs, ts := synthModel()
	data, err := os.ReadFile(writeSynth(t, kvs, ts))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(data) - 1, len(data) / 2, 200, 3} {
		path := filepath.Join(t.TempDir(), "cut.gguf")
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := model.OpenGGUF(path)
		if err == nil {
			g.Close()
			t.Errorf("opened the first %d of %d bytes", n, len(data))
			continue
		}
		if !errors.Is(err, gguf.ErrFormat) || !strings.HasPrefix(err.Error(), path) {
			t.Errorf("%d bytes: error %v, want a format error naming the file", n, err)
		}
	}
}

// FuzzOpenGGUF opens random GGUF files as models: no panic, and a file
// that opens yields every tensor its config needs.
func FuzzOpenGGUF(f *testing.F) {
	kvs, ts := synthModelOf(32)
	seed, err := os.ReadFile(writeSynth(f, kvs, ts))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.gguf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := model.OpenGGUF(path)
		if err != nil {
			return
		}
		defer g.Close()
		for _, spec := range g.Config.Tensors() {
			if _, err := g.Float32(spec.Role, spec.Layer); err != nil {
				t.Errorf("%s: %v", spec.Name, err)
			}
		}
	})
}

// TestOpenGGUFArchitectures checks what differs between the llama and
// qwen2 architectures: llama.cpp stores llama's query and key rows
// permuted (undone on reading) and qwen2's as they are, with q/k/v biases.
func TestOpenGGUFArchitectures(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		t.Run(arch, func(t *testing.T) {
			kvs, ts := synthModel()
			for i := range kvs {
				kvs[i].Key = strings.Replace(kvs[i].Key, "llama.", arch+".", 1)
			}
			kvs[0].Value = gguf.Scalar(arch)
			if arch == "qwen2" {
				ts = append(ts,
					synthTensor{"blk.0.attn_q.bias", gguf.TypeF32, []int64{256}},
					synthTensor{"blk.0.attn_k.bias", gguf.TypeF32, []int64{128}},
					synthTensor{"blk.0.attn_v.bias", gguf.TypeF32, []int64{128}})
			}
			g, err := model.OpenGGUF(writeSynth(t, kvs, ts))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if g.Config.ModelType != arch || g.Config.QKVBias != (arch == "qwen2") {
				t.Errorf("model type %s, q/k/v biases %v", g.Config.ModelType, g.Config.QKVBias)
			}
			for _, c := range []struct {
				role model.Role
				name string
			}{{model.AttnQ, "blk.0.attn_q.weight"}, {model.AttnK, "blk.0.attn_k.weight"}, {model.AttnV, "blk.0.attn_v.weight"}} {
				got, err := g.Float32(c.role, 0)
				if err != nil {
					t.Fatal(err)
				}
				stored, _ := g.File.Dequantize(c.name)
				permuted := arch == "llama" && c.role != model.AttnV
				if slices.Equal(got, stored) == permuted {
					t.Errorf("%s: rows reordered %v, want %v", c.name, !slices.Equal(got, stored), permuted)
				}
			}
			if arch == "qwen2" {
				bias, err := g.Float32(model.AttnKBias, 0)
				stored, _ := g.File.Dequantize("blk.0.attn_k.bias")
				if err != nil || !slices.Equal(bias, stored) {
					t.Errorf("k bias: %v", err)
				}
			}
		})
	}
}

// TestGGUFLlama3Rope converts tiny-llama with Llama 3 RoPE scaling, which
// GGUF carries as the rope_freqs tensor, and checks that the frequencies
// read back.
func TestGGUFLlama3Rope(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "llama3")
	if err := os.CopyFS(dir, os.DirFS(tinyLlama)); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	llama3 := `"rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0,
		"low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}`
	data = []byte(strings.Replace(string(data), `"rope_parameters": {
    "rope_theta": 10000.0,
    "rope_type": "default"
  }`, llama3, 1))
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ck, err := model.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if ck.Config.Rope.Type != "llama3" {
		t.Fatalf("config edit failed: rope %+v", ck.Config.Rope)
	}
	path := filepath.Join(t.TempDir(), "llama3.gguf")
	if _, err := convert.WriteGGUF(context.Background(), ck, path, convert.GGUFOptions{Type: "bf16"}); err != nil {
		t.Fatal(err)
	}
	g, err := model.OpenGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	want, got := ck.Config.InvFrequencies(), g.Config.InvFrequencies()
	scaled := 0
	for i := range want {
		if d := got[i]/want[i] - 1; d > 1e-6 || d < -1e-6 {
			t.Errorf("inverse frequency %d: %g, want %g", i, got[i], want[i])
		}
		if g.Config.Rope.FreqFactors[i] != 1 {
			scaled++
		}
	}
	if g.Config.Rope.Type != "freq_factors" || scaled == 0 {
		t.Errorf("rope %s with %d scaled frequencies", g.Config.Rope.Type, scaled)
	}
}
