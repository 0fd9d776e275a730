package tokenizer

import (
	"encoding/json"
	"fmt"
)

// Parse builds a Tokenizer from the contents of a tokenizer.json.
func Parse(data []byte) (*Tokenizer, error) {
	var file struct {
		Version       *string          `json:"version"`
		AddedTokens   []addedTokenJSON `json:"added_tokens"`
		Normalizer    json.RawMessage  `json:"normalizer"`
		PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
		PostProcessor json.RawMessage  `json:"post_processor"`
		Decoder       json.RawMessage  `json:"decoder"`
		Model         json.RawMessage  `json:"model"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if file.Version != nil && *file.Version != "1.0" {
		return nil, fmt.Errorf("unknown tokenizer.json version %q", *file.Version)
	}
	var (
		t   Tokenizer
		err error
	)
	if t.model, err = parseModel(file.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if t.normalizer, err = parseNormalizer(file.Normalizer); err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	if t.pre, err = parsePreTokenizer(file.PreTokenizer); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	if t.post, err = parsePostProcessor(file.PostProcessor); err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	if t.decoder, err = parseDecoder(file.Decoder); err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	tokens := make([]addedToken, len(file.AddedTokens))
	for i, j := range file.AddedTokens {
		tokens[i] = j.token()
	}
	t.added = newAddedVocab(tokens, t.model, t.normalizer)
	return &t, nil
}
