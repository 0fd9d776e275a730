package model

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "transformers 5 rope_parameters",
			json: `{"model_type":"llama","hidden_size":256,"intermediate_size":768,"num_hidden_layers":4,
				"num_attention_heads":8,"num_key_value_heads":2,"head_dim":32,"vocab_size":4096,
				"rms_norm_eps":1e-05,"rope_parameters":{"rope_theta":500000.0,"rope_type":"default"},
				"tie_word_embeddings":false,"bos_token_id":0,"eos_token_id":[0,7]}`,
			check: func(t *testing.T, c *Config) {
				if c.Rope.Theta != 500000 || c.Rope.Type != "default" {
					t.Errorf("rope = %+v", c.Rope)
				}
				if c.NumKVHeads != 2 || c.HeadDim != 32 || c.KVDim() != 64 || c.QDim() != 256 {
					t.Errorf("heads: kv %d dim %d", c.NumKVHeads, c.HeadDim)
				}
				if c.BOSTokenID != 0 || len(c.EOSTokenIDs) != 2 || c.EOSTokenIDs[1] != 7 {
					t.Errorf("bos %d eos %v", c.BOSTokenID, c.EOSTokenIDs)
				}
			},
		},
		{
			name: "legacy rope_theta, head_dim derived, MHA default",
			json: `{"model_type":"mistral","hidden_size":512,"intermediate_size":1024,"num_hidden_layers":2,
				"num_attention_heads":8,"vocab_size":100,"rope_theta":1000000.0}`,
			check: func(t *testing.T, c *Config) {
				if c.Rope.Theta != 1e6 || c.HeadDim != 64 || c.NumKVHeads != 8 {
					t.Errorf("theta %g head_dim %d kv %d", c.Rope.Theta, c.HeadDim, c.NumKVHeads)
				}
				if c.TieWordEmbeddings || c.QKVBias || c.BOSTokenID != -1 {
					t.Errorf("mistral defaults: tied %v bias %v bos %d", c.TieWordEmbeddings, c.QKVBias, c.BOSTokenID)
				}
			},
		},
		{
			name: "qwen2 has q/k/v bias",
			json: `{"model_type":"qwen2","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,
				"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":10,"tie_word_embeddings":true}`,
			check: func(t *testing.T, c *Config) {
				if !c.QKVBias || c.OBias || !c.TieWordEmbeddings {
					t.Errorf("qkv %v o %v tied %v", c.QKVBias, c.OBias, c.TieWordEmbeddings)
				}
				names := map[string]bool{}
				for _, s := range c.Tensors() {
					names[s.Name] = true
				}
				if !names["model.layers.0.self_attn.k_proj.bias"] || names["lm_head.weight"] {
					t.Errorf("tensor list wrong: %v", names)
				}
			},
		},
		{
			name: "llama3 rope scaling",
			json: `{"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,
				"num_attention_heads":1,"vocab_size":10,"rope_theta":500000.0,
				"rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}}`,
			check: func(t *testing.T, c *Config) {
				inv := c.InvFrequencies()
				plain := math.Pow(500000, -float64(62)/64)
				// The lowest frequency has a wavelength far above 8192: scaled by 1/8.
				if got := inv[31]; math.Abs(got-plain/8)/got > 1e-5 {
					t.Errorf("lowest frequency %g, want %g", got, plain/8)
				}
				// The highest frequency (wavelength 2π) is unchanged.
				if inv[0] != 1 {
					t.Errorf("highest frequency %g, want 1", inv[0])
				}
			},
		},
		{
			name: "linear rope scaling divides every frequency",
			json: `{"model_type":"llama","hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,
				"num_attention_heads":1,"vocab_size":10,"rope_scaling":{"type":"linear","factor":4.0}}`,
			check: func(t *testing.T, c *Config) {
				if got := c.InvFrequencies()[0]; got != 0.25 {
					t.Errorf("first frequency %g, want 0.25", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	base := `"hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10`
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{`, "invalid config"},
		{"unknown type", `{"model_type":"gpt2",` + base + `}`, `unsupported model_type "gpt2" (supported: llama, mistral, qwen2)`},
		{"no type", `{` + base + `}`, "no model_type"},
		{"zero layers", `{"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":0,"num_attention_heads":4,"vocab_size":10}`, "num_hidden_layers must be in 1.."},
		{"bad gqa", `{"model_type":"llama",` + base + `,"num_key_value_heads":3}`, "does not divide"},
		{"odd head dim", `{"model_type":"llama",` + base + `,"head_dim":5}`, "head_dim"},
		{"unknown rope", `{"model_type":"llama",` + base + `,"rope_scaling":{"rope_type":"yarn","factor":2}}`, `unsupported rope type "yarn"`},
		{"bad eos", `{"model_type":"llama",` + base + `,"eos_token_id":"x"}`, "eos_token_id"},
		{"gelu", `{"model_type":"llama",` + base + `,"hidden_act":"gelu"}`, "hidden_act"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.json))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q and wrap ErrConfig", err, tt.want)
			}
		})
	}
}

func TestLoadConfigTinyLlama(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "testdata", "models", "tiny-llama", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ModelType != "llama" || c.NumLayers != 4 || c.TieWordEmbeddings || c.Rope.Theta != 10000 {
		t.Fatalf("unexpected config %+v", c)
	}
	// reference.json: 5,114,112 parameters.
	if got := c.ParamCount(); got != 5114112 {
		t.Fatalf("ParamCount = %d, want 5114112", got)
	}
}
