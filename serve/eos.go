package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// EOSTokens returns the token ids that end a sequence of the model in dir:
// those of config.json (configEOS) and of generation_config.json, which
// transformers' generate also stops at (Llama 3 instruct models list their
// end-of-turn token only there).
func EOSTokens(dir string, configEOS []int) ([]int, error) {
	ids := slices.Clone(configEOS)
	path := filepath.Join(dir, "generation_config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ids, nil
	}
	if err != nil {
		return nil, err
	}
	var cfg struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var extra []int
	var one int
	switch {
	case len(cfg.EOS) == 0 || string(cfg.EOS) == "null":
	case json.Unmarshal(cfg.EOS, &one) == nil:
		extra = []int{one}
	case json.Unmarshal(cfg.EOS, &extra) == nil:
	default:
		return nil, fmt.Errorf("%s: eos_token_id must be a token id or a list of them", path)
	}
	for _, id := range extra {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
