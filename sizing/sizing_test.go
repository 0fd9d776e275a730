package sizing

import (
	"testing"

	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
)

// Two public shapes: Llama-2-7B (multi-head attention) and Llama-3-8B
// (grouped-query attention, 8 KV heads), both 32 layers of hidden 4096 and
// head_dim 128, with untied embeddings.
const (
	llama2_7B = `{"model_type":"llama","hidden_size":4096,"intermediate_size":11008,"num_hidden_layers":32,
		"num_attention_heads":32,"num_key_value_heads":32,"vocab_size":32000,"max_position_embeddings":4096,"torch_dtype":"float16"}`
	llama3_8B = `{"model_type":"llama","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,
		"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256,"max_position_embeddings":8192,
		"rope_theta":500000,"torch_dtype":"bfloat16"}`
)

func parse(t *testing.T, config string) *model.Config {
	t.Helper()
	cfg, err := model.ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The expected values are worked out by hand from the shapes above:
//
// Parameters. Llama-2-7B: embedding and head 2·32000·4096 = 262,144,000;
// per layer 4·4096² (attention) + 3·4096·11008 (MLP) + 2·4096 (norms) =
// 202,383,360, times 32 = 6,476,267,520; final norm 4096; total
// 6,738,415,616. Llama-3-8B: 2·128256·4096 = 1,050,673,152; per layer
// 2·4096² + 2·1024·4096 (q, o; k, v) + 3·4096·14336 + 8192 = 218,112,000,
// times 32 = 6,979,584,000; total 8,030,261,248.
//
// INT4, group 128, asymmetric, for a linear [out, in]: packed codes
// in·out/2 bytes, zero points (in/128)·(out/8)·4 = in·out/256, fp16 scales
// (in/128)·out·2 = in·out/64; GPTQ adds g_idx (4·in), compressed-tensors
// weight_shape (two int64, 16 bytes); the rest stays at 2 bytes a value.
// Llama-2-7B: the kept tensors (embedding, head, 65 norms) hold
// 262,410,240 values; per layer the seven linears hold 202,375,168 weights
// (packed with zeros and scales: ·133/256 = 105,140,224 bytes) over
// 6·4096 + 11008 = 35,584 input channels, so GPTQ = 2·262,410,240 +
// 32·(105,140,224 + 4·35,584) = 3,893,862,400.
func TestWeightBytes(t *testing.T) {
	g128 := quant.Scheme{Bits: 4, GroupSize: 128}
	tests := []struct {
		name   string
		config string
		format hf.Format // "" for fp16
		want   int64
	}{
		{"llama-2-7b fp16", llama2_7B, "", 2 * 6_738_415_616},
		{"llama-2-7b gptq", llama2_7B, hf.GPTQ, 3_893_862_400},
		{"llama-2-7b awq", llama2_7B, hf.AWQ, 3_889_307_648},                              // GPTQ less 32·4·35,584 of g_idx
		{"llama-2-7b compressed-tensors", llama2_7B, hf.CompressedTensors, 3_889_311_232}, // AWQ plus 32·7·16
		{"llama-3-8b fp16", llama3_8B, "", 2 * 8_030_261_248},
		{"llama-3-8b gptq", llama3_8B, hf.GPTQ, 5_732_835_328},
		{"llama-3-8b awq", llama3_8B, hf.AWQ, 5_727_854_592},
		{"llama-3-8b compressed-tensors", llama3_8B, hf.CompressedTensors, 5_727_858_176},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parse(t, tt.config)
			var got int64
			if tt.format == "" {
				got = FloatWeightBytes(cfg, DTypeBytes("float16"))
			} else {
				var err error
				if got, err = HFWeightBytes(cfg, tt.format, g128, 2); err != nil {
					t.Fatal(err)
				}
			}
			if got != tt.want {
				t.Fatalf("%d bytes, want %d", got, tt.want)
			}
		})
	}
}

// KV cache per token at fp16: 2 (K and V) · 32 layers · heads · 128 · 2
// bytes = 524,288 with 32 heads, 131,072 with Llama-3-8B's 8 KV heads.
// A 4096-token context of Llama-2-7B is 524,288·4096 = 2 GiB.
func TestKVCache(t *testing.T) {
	tests := []struct {
		name            string
		config          string
		batch, ctx      int
		perToken, mha   int64
		total, totalMHA int64
	}{
		{"llama-2-7b", llama2_7B, 1, 4096, 524_288, 524_288, 2 << 30, 2 << 30},
		{"llama-3-8b", llama3_8B, 4, 8192, 131_072, 524_288, 4 << 30, 16 << 30},
		{"llama-3-8b one token", llama3_8B, 1, 1, 131_072, 524_288, 131_072, 524_288},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parse(t, tt.config)
			if got := KVBytesPerToken(cfg, cfg.NumKVHeads, 2); got != tt.perToken {
				t.Errorf("per token %d, want %d", got, tt.perToken)
			}
			if got := KVBytesPerToken(cfg, cfg.NumHeads, 2); got != tt.mha {
				t.Errorf("per token (MHA) %d, want %d", got, tt.mha)
			}
			s := NewServing(cfg, tt.batch, tt.ctx, 2)
			if s.KVBytes != tt.total || s.KVBytesMHA != tt.totalMHA {
				t.Errorf("cache %d (MHA %d), want %d (%d)", s.KVBytes, s.KVBytesMHA, tt.total, tt.totalMHA)
			}
		})
	}
}

// Activations of Llama-2-7B, one sequence of 4096 tokens, in float32
// values: rows 4096·(3·4096 + 3·4096 (qkv) + 4096 + 4096 + 3·11008) =
// 4096·65,792 = 269,484,032; scores 32·4096² = 536,870,912; RoPE
// 4096·128 = 524,288; logits 32000; total 806,911,232 values, 3,227,644,928
// bytes. Llama-3-8B: rows 4096·(12,288 + 6144 + 8192 + 43,008) =
// 285,212,672, scores and RoPE as above, logits 128,256: 822,736,128
// values, 3,290,944,512 bytes.
func TestActivationBytes(t *testing.T) {
	tests := []struct {
		name       string
		config     string
		batch, ctx int
		want       int64
	}{
		{"llama-2-7b", llama2_7B, 1, 4096, 3_227_644_928},
		{"llama-2-7b batch 3", llama2_7B, 3, 4096, 3 * 3_227_644_928},
		{"llama-3-8b", llama3_8B, 1, 4096, 3_290_944_512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ActivationBytes(parse(t, tt.config), tt.batch, tt.ctx); got != tt.want {
				t.Fatalf("%d bytes, want %d", got, tt.want)
			}
		})
	}
}

func TestServingTotal(t *testing.T) {
	cfg := parse(t, llama2_7B)
	s := NewServing(cfg, 1, 4096, 2)
	// fp16 weights + 2 GiB of cache + the activations above.
	if got, want := s.Total(13_476_831_232), int64(13_476_831_232+2<<30+3_227_644_928); got != want {
		t.Fatalf("%d, want %d", got, want)
	}
}
