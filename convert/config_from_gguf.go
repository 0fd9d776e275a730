package convert

import (
	"encoding/json"
	"fmt"

	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/model"
)

// ConfigFromGGUF reads the hyperparameters of a llama or qwen2 GGUF file
// from the metadata WriteGGUF (and llama.cpp's converter) writes, as the
// config.json they came from would give them.
func ConfigFromGGUF(f *gguf.File) (*model.Config, error) {
	arch, err := gguf.Get[string](f, "general.architecture")
	if err != nil {
		return nil, err
	}
	if arch != "llama" && arch != "qwen2" {
		return nil, fmt.Errorf("architecture %q: qtk reads llama and qwen2", arch)
	}
	get := func(key string, def int64) (int64, error) {
		if _, ok := f.Value(arch + "." + key); !ok && def >= 0 {
			return def, nil
		}
		return f.Int(arch + "." + key)
	}
	config := map[string]any{"model_type": arch}
	for _, k := range []struct {
		gguf, hf string
	}{
		{"block_count", "num_hidden_layers"},
		{"embedding_length", "hidden_size"},
		{"feed_forward_length", "intermediate_size"},
		{"attention.head_count", "num_attention_heads"},
		{"context_length", "max_position_embeddings"},
	} {
		v, err := get(k.gguf, -1)
		if err != nil {
			return nil, err
		}
		config[k.hf] = v
	}
	heads := config["num_attention_heads"].(int64)
	if config["num_key_value_heads"], err = get("attention.head_count_kv", heads); err != nil {
		return nil, err
	}
	if config["head_dim"], err = get("attention.key_length", config["hidden_size"].(int64)/max(heads, 1)); err != nil {
		return nil, err
	}
	embed, ok := f.Tensor("token_embd.weight")
	if !ok || len(embed.Dims) != 2 {
		return nil, fmt.Errorf("no 2-D token_embd.weight")
	}
	config["vocab_size"] = embed.Dims[1]
	_, hasOutput := f.Tensor("output.weight")
	config["tie_word_embeddings"] = !hasOutput
	_, qkvBias := f.Tensor("blk.0.attn_q.bias")
	config["attention_bias"] = qkvBias
	if eps, err := gguf.Get[float32](f, arch+".attention.layer_norm_rms_epsilon"); err == nil {
		config["rms_norm_eps"] = eps
	}
	if theta, err := gguf.Get[float32](f, arch+".rope.freq_base"); err == nil {
		config["rope_theta"] = theta
	}
	data, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	return model.ParseConfig(data)
}
