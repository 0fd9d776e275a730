package model

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseConfig: any input either parses into a config whose derived
// sizes are positive and consistent, or fails with ErrConfig.
func FuzzParseConfig(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("..", "testdata", "models", "tiny-llama", "config.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"model_type":"qwen2","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":10}`))
	f.Add([]byte(`{"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":1,"num_attention_heads":1,"vocab_size":10,"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":8192}}`))
	f.Add([]byte(`{"model_type":"llama","eos_token_id":[1,2]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line wrapping ErrConfig", err)
			}
			return
		}
		if cfg.HeadDim <= 0 || cfg.NumHeads%cfg.NumKVHeads != 0 || cfg.RMSNormEps <= 0 {
			t.Fatalf("inconsistent config accepted: %+v", cfg)
		}
		if inv := cfg.InvFrequencies(); len(inv) != cfg.HeadDim/2 {
			t.Fatalf("%d frequencies for head_dim %d", len(inv), cfg.HeadDim)
		}
	})
}
