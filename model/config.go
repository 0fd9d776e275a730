// Package model describes a decoder-only transformer checkpoint: its
// hyperparameters (config.json, or GGUF metadata), the tensors each
// architecture needs, and the loading of those tensors from a Hugging Face
// safetensors checkpoint or a GGUF file.
package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// Config holds the hyperparameters qtk needs from a Hugging Face config.json.
type Config struct {
	ModelType         string
	HiddenSize        int
	IntermediateSize  int
	NumLayers         int
	NumHeads          int
	NumKVHeads        int
	HeadDim           int
	VocabSize         int
	MaxPositions      int
	RMSNormEps        float64
	TieWordEmbeddings bool
	// QKVBias is set when q_proj, k_proj and v_proj carry a bias (qwen2,
	// or llama's attention_bias); OBias when o_proj does (llama only).
	QKVBias bool
	OBias   bool
	MLPBias bool
	Rope    Rope
	// BOSTokenID is -1 when the config names none.
	BOSTokenID  int
	EOSTokenIDs []int
	// DType is the checkpoint's declared storage type ("bfloat16", ...).
	DType string
}

// Rope describes the rotary position embedding.
type Rope struct {
	Theta float64
	// Type is "default", "linear", "llama3" or "freq_factors".
	Type   string
	Factor float64
	// llama3 frequency smoothing.
	LowFreqFactor   float64
	HighFreqFactor  float64
	OriginalMaxPosn int
	// FreqFactors divide the inverse frequencies pair by pair (type
	// freq_factors): llama.cpp's rope_freqs tensor, the form GGUF files
	// give Llama 3's scaling in.
	FreqFactors []float64
}

// architectures lists the supported model_type values and what each implies.
var architectures = map[string]struct {
	qkvBiasAlways bool
}{
	"llama":   {},
	"mistral": {},
	"qwen2":   {qkvBiasAlways: true},
}

// SupportedTypes returns the model_type values qtk can run, sorted.
func SupportedTypes() []string {
	names := make([]string, 0, len(architectures))
	for name := range architectures {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// maxDim bounds every size read from a config, far above any real model,
// so that a corrupt file cannot ask for absurd allocations.
const maxDim = 1 << 24

// ErrConfig is wrapped by every error about a config's content.
var ErrConfig = errors.New("invalid config")

// LoadConfig reads and validates a config.json.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// rawConfig mirrors the subset of config.json that qtk reads. Token ids
// may be a number or a list, so they stay raw until parsed.
type rawConfig struct {
	ModelType             string          `json:"model_type"`
	HiddenSize            int             `json:"hidden_size"`
	IntermediateSize      int             `json:"intermediate_size"`
	NumHiddenLayers       int             `json:"num_hidden_layers"`
	NumAttentionHeads     int             `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim"`
	VocabSize             int             `json:"vocab_size"`
	MaxPositionEmbeddings int             `json:"max_position_embeddings"`
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	TieWordEmbeddings     *bool           `json:"tie_word_embeddings"`
	AttentionBias         bool            `json:"attention_bias"`
	MLPBias               bool            `json:"mlp_bias"`
	RopeTheta             *float64        `json:"rope_theta"`
	RopeScaling           *rawRope        `json:"rope_scaling"`
	RopeParameters        *rawRope        `json:"rope_parameters"`
	BOSTokenID            json.RawMessage `json:"bos_token_id"`
	EOSTokenID            json.RawMessage `json:"eos_token_id"`
	DType                 string          `json:"dtype"`
	TorchDType            string          `json:"torch_dtype"`
	HiddenAct             string          `json:"hidden_act"`
}

// rawRope covers both the legacy rope_scaling object and the
// transformers-5 rope_parameters object (which also carries rope_theta).
type rawRope struct {
	RopeType        string   `json:"rope_type"`
	Type            string   `json:"type"`
	RopeTheta       *float64 `json:"rope_theta"`
	Factor          *float64 `json:"factor"`
	LowFreqFactor   *float64 `json:"low_freq_factor"`
	HighFreqFactor  *float64 `json:"high_freq_factor"`
	OriginalMaxPosn *int     `json:"original_max_position_embeddings"`
}

// ParseConfig parses and validates config.json content.
func ParseConfig(data []byte) (*Config, error) {
	var raw rawConfig
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	arch, ok := architectures[raw.ModelType]
	if !ok {
		if raw.ModelType == "" {
			return nil, fmt.Errorf("%w: no model_type (supported: %s)", ErrConfig, strings.Join(SupportedTypes(), ", "))
		}
		return nil, fmt.Errorf("%w: unsupported model_type %q (supported: %s)", ErrConfig, raw.ModelType, strings.Join(SupportedTypes(), ", "))
	}
	if raw.HiddenAct != "" && raw.HiddenAct != "silu" {
		return nil, fmt.Errorf("%w: unsupported hidden_act %q (only silu)", ErrConfig, raw.HiddenAct)
	}
	cfg := &Config{
		ModelType:         raw.ModelType,
		HiddenSize:        raw.HiddenSize,
		IntermediateSize:  raw.IntermediateSize,
		NumLayers:         raw.NumHiddenLayers,
		NumHeads:          raw.NumAttentionHeads,
		VocabSize:         raw.VocabSize,
		MaxPositions:      raw.MaxPositionEmbeddings,
		RMSNormEps:        1e-6,
		TieWordEmbeddings: raw.ModelType != "mistral" && raw.ModelType != "qwen2", // transformers' per-architecture defaults
		QKVBias:           raw.AttentionBias || arch.qkvBiasAlways,
		OBias:             raw.AttentionBias && raw.ModelType == "llama",
		MLPBias:           raw.MLPBias && raw.ModelType == "llama",
		DType:             raw.DType,
	}
	if raw.ModelType == "llama" {
		cfg.TieWordEmbeddings = false
	}
	if raw.TieWordEmbeddings != nil {
		cfg.TieWordEmbeddings = *raw.TieWordEmbeddings
	}
	if cfg.DType == "" {
		cfg.DType = raw.TorchDType
	}
	if raw.RMSNormEps != nil {
		cfg.RMSNormEps = *raw.RMSNormEps
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"hidden_size", cfg.HiddenSize},
		{"intermediate_size", cfg.IntermediateSize},
		{"num_hidden_layers", cfg.NumLayers},
		{"num_attention_heads", cfg.NumHeads},
		{"vocab_size", cfg.VocabSize},
	} {
		if f.v <= 0 || f.v > maxDim {
			return nil, fmt.Errorf("%w: %s must be in 1..%d, got %d", ErrConfig, f.name, maxDim, f.v)
		}
	}
	cfg.NumKVHeads = cfg.NumHeads
	if raw.NumKeyValueHeads != nil {
		cfg.NumKVHeads = *raw.NumKeyValueHeads
	}
	if cfg.NumKVHeads <= 0 || cfg.NumHeads%cfg.NumKVHeads != 0 {
		return nil, fmt.Errorf("%w: num_key_value_heads %d does not divide num_attention_heads %d", ErrConfig, cfg.NumKVHeads, cfg.NumHeads)
	}
	if raw.HeadDim != nil {
		cfg.HeadDim = *raw.HeadDim
	} else {
		if cfg.HiddenSize%cfg.NumHeads != 0 {
			return nil, fmt.Errorf("%w: hidden_size %d is not a multiple of num_attention_heads %d", ErrConfig, cfg.HiddenSize, cfg.NumHeads)
		}
		cfg.HeadDim = cfg.HiddenSize / cfg.NumHeads
	}
	if cfg.HeadDim <= 0 || cfg.HeadDim%2 != 0 || cfg.HeadDim > maxDim {
		return nil, fmt.Errorf("%w: head_dim must be positive and even, got %d", ErrConfig, cfg.HeadDim)
	}
	if cfg.MaxPositions <= 0 {
		cfg.MaxPositions = 2048
	}
	if cfg.RMSNormEps <= 0 || math.IsNaN(cfg.RMSNormEps) {
		return nil, fmt.Errorf("%w: rms_norm_eps must be positive", ErrConfig)
	}
	rope, err := parseRope(raw)
	if err != nil {
		return nil, err
	}
	cfg.Rope = rope
	if cfg.BOSTokenID, err = parseTokenID(raw.BOSTokenID, "bos_token_id"); err != nil {
		return nil, err
	}
	if cfg.EOSTokenIDs, err = parseTokenIDs(raw.EOSTokenID, "eos_token_id"); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseRope reads RoPE settings from rope_parameters (transformers 5) or
// from the legacy top-level rope_theta plus rope_scaling.
func parseRope(raw rawConfig) (Rope, error) {
	rope := Rope{Theta: 10000, Type: "default", Factor: 1}
	if raw.RopeTheta != nil {
		rope.Theta = *raw.RopeTheta
	}
	for _, r := range []*rawRope{raw.RopeScaling, raw.RopeParameters} {
		if r == nil {
			continue
		}
		if r.RopeTheta != nil {
			rope.Theta = *r.RopeTheta
		}
		kind := r.RopeType
		if kind == "" {
			kind = r.Type
		}
		if kind != "" {
			rope.Type = kind
		}
		if r.Factor != nil {
			rope.Factor = *r.Factor
		}
		if r.LowFreqFactor != nil {
			rope.LowFreqFactor = *r.LowFreqFactor
		}
		if r.HighFreqFactor != nil {
			rope.HighFreqFactor = *r.HighFreqFactor
		}
		if r.OriginalMaxPosn != nil {
			rope.OriginalMaxPosn = *r.OriginalMaxPosn
		}
	}
	if !(rope.Theta > 0) {
		return rope, fmt.Errorf("%w: rope_theta must be positive", ErrConfig)
	}
	switch rope.Type {
	case "default":
	case "linear":
		if !(rope.Factor > 0) {
			return rope, fmt.Errorf("%w: linear rope scaling needs a positive factor", ErrConfig)
		}
	case "llama3":
		if !(rope.Factor > 0) || !(rope.LowFreqFactor > 0) || !(rope.HighFreqFactor > rope.LowFreqFactor) || rope.OriginalMaxPosn <= 0 {
			return rope, fmt.Errorf("%w: llama3 rope scaling needs factor, low_freq_factor < high_freq_factor and original_max_position_embeddings", ErrConfig)
		}
	default:
		return rope, fmt.Errorf("%w: unsupported rope type %q (supported: default, linear, llama3)", ErrConfig, rope.Type)
	}
	return rope, nil
}

func parseTokenID(raw json.RawMessage, key string) (int, error) {
	ids, err := parseTokenIDs(raw, key)
	if err != nil || len(ids) == 0 {
		return -1, err
	}
	return ids[0], nil
}

// parseTokenIDs accepts null, a number or a list of numbers.
func parseTokenIDs(raw json.RawMessage, key string) ([]int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one int
	if err := json.Unmarshal(raw, &one); err == nil {
		return []int{one}, nil
	}
	var many []int
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("%w: %s must be a token id or a list of them", ErrConfig, key)
	}
	return many, nil
}

// InvFrequencies returns the RoPE inverse frequencies, one per pair of
// head dimensions, with the configured scaling applied (as transformers
// computes them).
func (c *Config) InvFrequencies() []float64 {
	half := c.HeadDim / 2
	inv := make([]float64, half)
	for i := range inv {
		// transformers computes the exponent in float32.
		exp := float64(float32(2*i) / float32(c.HeadDim))
		inv[i] = float64(float32(1 / math.Pow(c.Rope.Theta, exp)))
	}
	switch c.Rope.Type {
	case "linear":
		for i := range inv {
			inv[i] /= c.Rope.Factor
		}
	case "freq_factors":
		for i := range inv {
			inv[i] /= c.Rope.FreqFactors[i]
		}
	case "llama3":
		r := c.Rope
		lowWavelen := float64(r.OriginalMaxPosn) / r.LowFreqFactor
		highWavelen := float64(r.OriginalMaxPosn) / r.HighFreqFactor
		for i, f := range inv {
			wavelen := 2 * math.Pi / f
			switch {
			case wavelen < highWavelen:
				// High frequencies are kept.
			case wavelen > lowWavelen:
				inv[i] = f / r.Factor
			default:
				smooth := (float64(r.OriginalMaxPosn)/wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				inv[i] = (1-smooth)*f/r.Factor + smooth*f
			}
		}
	}
	return inv
}

// KVDim is the width of the key (and value) projection.
func (c *Config) KVDim() int { return c.NumKVHeads * c.HeadDim }

// QDim is the width of the query projection.
func (c *Config) QDim() int { return c.NumHeads * c.HeadDim }
