package synth

import "encoding/json"

// Token ids of the synthetic tokenizer: two special tokens, then one
// token per byte.
const (
	bosID      = 0
	eosID      = 1
	firstByte  = 2
	tokenCount = firstByte + 256
)

// byteChars maps each byte to the printable character byte-level BPE
// stands it for (GPT-2's bytes_to_unicode): printable Latin-1 bytes are
// themselves, the others are shifted past U+0100 in byte order.
func byteChars() [256]rune {
	var chars [256]rune
	shifted := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			chars[b] = rune(b)
		} else {
			chars[b] = rune(256 + shifted)
			shifted++
		}
	}
	return chars
}

// tokenizerJSON is a byte-level BPE tokenizer with no merges: every byte
// is one token, a BOS is added in front. It encodes any text and decodes
// it back exactly.
func tokenizerJSON() ([]byte, error) {
	vocab := map[string]int{"<s>": bosID, "</s>": eosID}
	for b, c := range byteChars() {
		vocab[string(c)] = firstByte + b
	}
	special := func(id int, content string) map[string]any {
		return map[string]any{"id": id, "content": content, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true}
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	t := map[string]any{
		"version":       "1.0",
		"truncation":    nil,
		"padding":       nil,
		"added_tokens":  []any{special(bosID, "<s>"), special(eosID, "</s>")},
		"normalizer":    nil,
		"pre_tokenizer": byteLevel,
		"post_processor": map[string]any{
			"type":   "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair": []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{bosID}, "tokens": []string{"<s>"}}},
		},
		"decoder": byteLevel,
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": []any{},
		},
	}
	return json.MarshalIndent(t, "", "  ")
}

// tokenizerConfigJSON names the special tokens for transformers.
func tokenizerConfigJSON() ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"bos_token": "<s>", "eos_token": "</s>", "unk_token": nil,
		"model_max_length": 1 << 30, "tokenizer_class": "PreTrainedTokenizerFast",
	}, "", "  ")
}

// configJSON is the model's config.json.
func configJSON(s Shape, layers int) ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              s.ModelType,
		"hidden_size":             s.Hidden,
		"intermediate_size":       s.Intermediate,
		"num_hidden_layers":       layers,
		"num_attention_heads":     s.Heads,
		"num_key_value_heads":     s.KVHeads,
		"head_dim":                s.HeadDim(),
		"vocab_size":              s.Vocab,
		"max_position_embeddings": s.MaxPositions,
		"rms_norm_eps":            s.RMSNormEps,
		"rope_theta":              s.RopeTheta,
		"hidden_act":              "silu",
		"attention_bias":          false,
		"mlp_bias":                false,
		"tie_word_embeddings":     false,
		"bos_token_id":            bosID,
		"eos_token_id":            eosID,
		"initializer_range":       initStd,
		"torch_dtype":             "float16",
		"use_cache":               true,
	}, "", "  ")
}
