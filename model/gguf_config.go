package model

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/qtk-dev/qtk/formats/gguf"
)

// ropeFreqsTensor holds llama.cpp's per-frequency RoPE factors.
const ropeFreqsTensor = "rope_freqs.weight"

// ggufArchitectures are the general.architecture values qtk runs; each
// runs as the model_type of the same name (llama.cpp writes Mistral as
// llama).
var ggufArchitectures = []string{"llama", "qwen2"}

// ggufMeta reads a GGUF file's metadata, keeping the first error.
type ggufMeta struct {
	f   *gguf.File
	err error
}

func (m *ggufMeta) fail(format string, args ...any) {
	if m.err == nil {
		m.err = fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
}

// int reads an integer of any width; a missing key gives def, or an error
// when required.
func (m *ggufMeta) int(key string, def int, required bool) int {
	if _, ok := m.f.Value(key); !ok {
		if required {
			m.fail("metadata %s is missing", key)
		}
		return def
	}
	v, err := m.f.Int(key)
	if err != nil || v < 0 || v > maxDim {
		m.fail("metadata %s must be an integer in 0..%d", key, maxDim)
		return def
	}
	return int(v)
}

// float reads a float32 or float64 value. A float32 is widened through its
// shortest decimal form, so that 1e-5 (stored as float32 by the
// converters) reads back as the 1e-5 config.json held.
func (m *ggufMeta) float(key string, def float64, required bool) float64 {
	v, ok := m.f.Value(key)
	if !ok {
		if required {
			m.fail("metadata %s is missing", key)
		}
		return def
	}
	if x, ok := gguf.As[float32](v); ok {
		d, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return d
	}
	if x, ok := gguf.As[float64](v); ok {
		return x
	}
	m.fail("metadata %s is a %s, want a float", key, v.Type())
	return def
}

func (m *ggufMeta) str(key string) string {
	v, ok := m.f.Value(key)
	if !ok {
		return ""
	}
	s, ok := gguf.As[string](v)
	if !ok {
		m.fail("metadata %s is a %s, want a string", key, v.Type())
	}
	return s
}

// ConfigFromGGUF derives the hyperparameters from a GGUF file's metadata
// (the keys llama.cpp's llama and qwen2 architectures read) and from the
// shapes of its tensors.
func ConfigFromGGUF(f *gguf.File) (*Config, error) {
	m := &ggufMeta{f: f}
	arch := m.str("general.architecture")
	if m.err != nil {
		return nil, m.err
	}
	supported := false
	for _, a := range ggufArchitectures {
		supported = supported || a == arch
	}
	if !supported {
		return nil, fmt.Errorf("%w: general.architecture %q is not supported (llama, qwen2)", ErrConfig, arch)
	}
	key := func(k string) string { return arch + "." + k }
	_, hasOutput := f.Tensor("output.weight")
	_, hasQBias := f.Tensor("blk.0.attn_q.bias")
	_, hasOBias := f.Tensor("blk.0.attn_output.bias")
	cfg := &Config{
		ModelType:         arch,
		HiddenSize:        m.int(key("embedding_length"), 0, true),
		IntermediateSize:  m.int(key("feed_forward_length"), 0, true),
		NumLayers:         m.int(key("block_count"), 0, true),
		NumHeads:          m.int(key("attention.head_count"), 0, true),
		MaxPositions:      m.int(key("context_length"), 0, true),
		RMSNormEps:        m.float(key("attention.layer_norm_rms_epsilon"), 0, true),
		TieWordEmbeddings: !hasOutput,
		QKVBias:           arch == "qwen2" || hasQBias,
		OBias:             arch == "llama" && hasOBias,
		BOSTokenID:        m.int("tokenizer.ggml.bos_token_id", -1, false),
		Rope:              Rope{Type: "default", Factor: 1, Theta: m.float(key("rope.freq_base"), 10000, false)},
	}
	cfg.NumKVHeads = m.int(key("attention.head_count_kv"), cfg.NumHeads, false)
	if eos := m.int("tokenizer.ggml.eos_token_id", -1, false); eos >= 0 {
		cfg.EOSTokenIDs = []int{eos}
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok {
		return nil, errors.New("missing tensor token_embd.weight")
	}
	if len(emb.Dims) == 2 && emb.Dims[1] <= maxDim {
		cfg.VocabSize = int(emb.Dims[1])
	}
	if m.err != nil {
		return nil, m.err
	}
	for _, d := range []struct {
		name string
		v    int
	}{
		{key("embedding_length"), cfg.HiddenSize},
		{key("feed_forward_length"), cfg.IntermediateSize},
		{key("block_count"), cfg.NumLayers},
		{key("attention.head_count"), cfg.NumHeads},
		{key("context_length"), cfg.MaxPositions},
		{"the rows of token_embd.weight", cfg.VocabSize},
	} {
		if d.v <= 0 {
			return nil, fmt.Errorf("%w: %s must be positive", ErrConfig, d.name)
		}
	}
	if cfg.NumKVHeads <= 0 || cfg.NumHeads%cfg.NumKVHeads != 0 {
		return nil, fmt.Errorf("%w: %s %d does not divide %s %d", ErrConfig, key("attention.head_count_kv"), cfg.NumKVHeads, key("attention.head_count"), cfg.NumHeads)
	}
	if cfg.HiddenSize%cfg.NumHeads != 0 {
		if _, ok := f.Value(key("attention.key_length")); !ok {
			return nil, fmt.Errorf("%w: embedding_length %d is not a multiple of head_count %d and no key_length is given", ErrConfig, cfg.HiddenSize, cfg.NumHeads)
		}
	}
	cfg.HeadDim = m.int(key("attention.key_length"), cfg.HiddenSize/cfg.NumHeads, false)
	valueDim := m.int(key("attention.value_length"), cfg.HeadDim, false)
	ropeDim := m.int(key("rope.dimension_count"), cfg.HeadDim, false)
	if m.err != nil {
		return nil, m.err
	}
	switch {
	case cfg.HeadDim <= 0 || cfg.HeadDim%2 != 0:
		return nil, fmt.Errorf("%w: the head size must be positive and even, got %d", ErrConfig, cfg.HeadDim)
	case valueDim != cfg.HeadDim:
		return nil, fmt.Errorf("%w: value_length %d differs from key_length %d", ErrConfig, valueDim, cfg.HeadDim)
	case ropeDim != cfg.HeadDim:
		return nil, fmt.Errorf("%w: rope.dimension_count %d rotates part of a %d-wide head, which qtk does not support", ErrConfig, ropeDim, cfg.HeadDim)
	case !(cfg.RMSNormEps > 0):
		return nil, fmt.Errorf("%w: %s must be positive", ErrConfig, key("attention.layer_norm_rms_epsilon"))
	case !(cfg.Rope.Theta > 0):
		return nil, fmt.Errorf("%w: %s must be positive", ErrConfig, key("rope.freq_base"))
	}
	if err := ropeScalingFromGGUF(m, key, &cfg.Rope, cfg.HeadDim); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ropeScalingFromGGUF reads llama.cpp's RoPE scaling: none, linear
// (rope.scaling.type and .factor, or the older rope.scale_linear), or
// per-frequency factors in the rope_freqs tensor (Llama 3).
func ropeScalingFromGGUF(m *ggufMeta, key func(string) string, rope *Rope, headDim int) error {
	kind := m.str(key("rope.scaling.type"))
	factor := m.float(key("rope.scaling.factor"), 0, false)
	if old := m.float(key("rope.scale_linear"), 0, false); kind == "" && old != 0 {
		kind, factor = "linear", old
	}
	if m.err != nil {
		return m.err
	}
	if t, ok := m.f.Tensor(ropeFreqsTensor); ok {
		if kind != "" && kind != "none" {
			return fmt.Errorf("%w: %s together with %s %q", ErrConfig, ropeFreqsTensor, key("rope.scaling.type"), kind)
		}
		if len(t.Dims) != 1 || t.Dims[0] != int64(headDim/2) || !t.Type.HasCodec() {
			return fmt.Errorf("%w: %s must hold %d values (%s %v)", ErrConfig, ropeFreqsTensor, headDim/2, t.Type, t.Dims)
		}
		factors, err := m.f.Dequantize(ropeFreqsTensor)
		if err != nil {
			return err
		}
		rope.Type = "freq_factors"
		rope.FreqFactors = make([]float64, len(factors))
		for i, f := range factors {
			if !(f > 0) || math.IsInf(float64(f), 0) {
				return fmt.Errorf("%w: %s[%d] is %g, want a positive factor", ErrConfig, ropeFreqsTensor, i, f)
			}
			rope.FreqFactors[i] = float64(f)
		}
		return nil
	}
	switch kind {
	case "", "none":
		return nil
	case "linear":
		if factor == 1 {
			return nil
		}
		if !(factor > 0) {
			return fmt.Errorf("%w: linear RoPE scaling needs a positive %s", ErrConfig, key("rope.scaling.factor"))
		}
		rope.Type, rope.Factor = "linear", factor
		return nil
	}
	return fmt.Errorf("%w: unsupported RoPE scaling %q (supported: none, linear, rope_freqs)", ErrConfig, kind)
}
