package tokenizer

import (
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// minimalJSON is a small valid tokenizer.json: byte-level-free BPE over a
// few letters.
const minimalJSON = `{
  "version": "1.0",
  "added_tokens": [{"id": 0, "content": "<s>", "special": true, "normalized": false}],
  "normalizer": null,
  "pre_tokenizer": {"type": "Whitespace"},
  "post_processor": null,
  "decoder": null,
  "model": {"type": "BPE", "vocab": {"<s>": 0, "a": 1, "b": 2, "ab": 3}, "merges": ["a b"]}
}`

// withPatch returns minimalJSON with some top-level keys replaced by raw
// JSON values; "model.KEY" replaces a key of the model.
func withPatch(t *testing.T, patch map[string]string) []byte {
	t.Helper()
	var cfg, model map[string]json.RawMessage
	if err := json.Unmarshal([]byte(minimalJSON), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cfg["model"], &model); err != nil {
		t.Fatal(err)
	}
	for k, v := range patch {
		if key, ok := strings.CutPrefix(k, "model."); ok {
			model[key] = json.RawMessage(v)
		} else {
			cfg[k] = json.RawMessage(v)
		}
	}
	if _, ok := patch["model"]; !ok {
		cfg["model"] = mustMarshal(t, model)
	}
	return mustMarshal(t, cfg)
}

func TestParseMinimal(t *testing.T) {
	tok, err := Parse([]byte(minimalJSON))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Encode("ab ba<s>", true), []int{3, 2, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if got, want := tok.Decode([]int{3, 2, 1, 0, 99}, false), "ab b a <s>"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
	if got := tok.VocabSize(); got != 4 {
		t.Errorf("VocabSize = %d, want 4", got)
	}
	if id, added := tok.BOS(); id != -1 || added {
		t.Errorf("BOS = %d, %v; want -1, false", id, added)
	}
}

// TestParseErrors checks that bad files give an error that says what is
// wrong, and never a panic.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		wants []string // substrings of the error
	}{
		{"not JSON", []byte(`{"model": `), []string{"tokenizer.json", "unexpected end"}},
		{"wrong JSON type", []byte(`[1, 2]`), []string{"tokenizer.json"}},
		{"empty", nil, []string{"tokenizer.json"}},
		{"version", withPatch(t, map[string]string{"version": `"2.0"`}), []string{`version "2.0"`}},
		{"no model", withPatch(t, map[string]string{"model": `null`}), []string{"model: missing"}},
		{"model type", withPatch(t, map[string]string{"model.type": `"Unigram"`}), []string{"model", `"Unigram"`}},
		{"normalizer type", withPatch(t, map[string]string{"normalizer": `{"type": "Precompiled"}`}),
			[]string{"normalizer", `unknown normalizer type "Precompiled"`}},
		{"nested normalizer type", withPatch(t, map[string]string{"normalizer": `{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Nmt"}]}`}),
			[]string{"Sequence[1]", `"Nmt"`}},
		{"normalizer without type", withPatch(t, map[string]string{"normalizer": `{"prepend": "x"}`}),
			[]string{"normalizer", `missing "type"`}},
		{"pre-tokenizer type", withPatch(t, map[string]string{"pre_tokenizer": `{"type": "UnicodeScripts"}`}),
			[]string{"pre_tokenizer", `unknown pre-tokenizer type "UnicodeScripts"`}},
		{"decoder type", withPatch(t, map[string]string{"decoder": `{"type": "WordPiece"}`}),
			[]string{"decoder", `unknown decoder type "WordPiece"`}},
		{"post-processor type", withPatch(t, map[string]string{"post_processor": `{"type": "Magic"}`}),
			[]string{"post_processor", `"Magic"`}},
		{"invalid regex", withPatch(t, map[string]string{"pre_tokenizer": `{"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated", "invert": false}`}),
			[]string{"pre_tokenizer", "invalid regex", `"(a"`}},
		{"invalid replace regex", withPatch(t, map[string]string{"normalizer": `{"type": "Replace", "pattern": {"Regex": "[z-a]"}, "content": ""}`}),
			[]string{"normalizer", "invalid regex"}},
		{"pattern form", withPatch(t, map[string]string{"pre_tokenizer": `{"type": "Split", "pattern": {"Glob": "*"}, "behavior": "Isolated"}`}),
			[]string{"pattern"}},
		{"split behavior", withPatch(t, map[string]string{"pre_tokenizer": `{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}`}),
			[]string{`split behavior "Sideways"`}},
		{"merge token not in vocab", withPatch(t, map[string]string{"model.merges": `["a c"]`}),
			[]string{"merges[0]", `"c" is not in the vocab`}},
		{"merged token not in vocab", withPatch(t, map[string]string{"model.merges": `["b a"]`}),
			[]string{"merges[0]", `"ba" is not in the vocab`}},
		{"bad merge line", withPatch(t, map[string]string{"model.merges": `["a b c"]`}),
			[]string{"merges[0]"}},
		{"unk not in vocab", withPatch(t, map[string]string{"model.unk_token": `"<unk>"`}),
			[]string{`unk_token "<unk>"`}},
		{"negative id", withPatch(t, map[string]string{"model.vocab": `{"a": -1}`, "model.merges": `[]`}),
			[]string{"out of range"}},
		{"fractional id", withPatch(t, map[string]string{"model.vocab": `{"a": 1.5}`}), []string{"model"}},
		{"dropout", withPatch(t, map[string]string{"model.dropout": `2`}), []string{"dropout"}},
		{"metaspace replacement", withPatch(t, map[string]string{"pre_tokenizer": `{"type": "Metaspace", "replacement": "ab"}`}),
			[]string{"replacement"}},
		{"metaspace scheme", withPatch(t, map[string]string{"pre_tokenizer": `{"type": "Metaspace", "replacement": "_", "prepend_scheme": "sometimes"}`}),
			[]string{`prepend_scheme "sometimes"`}},
		{"metaspace contradiction", withPatch(t, map[string]string{"pre_tokenizer": `{"type": "Metaspace", "replacement": "_", "prepend_scheme": "always", "add_prefix_space": false}`}),
			[]string{"add_prefix_space"}},
		{"template special token", withPatch(t, map[string]string{"post_processor": `{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "special_tokens": {}}`}),
			[]string{`"<s>" not in special_tokens`}},
		{"strip decoder", withPatch(t, map[string]string{"decoder": `{"type": "Strip", "content": "", "start": 1, "stop": 0}`}),
			[]string{"Strip"}},
	}
	for _, tc := range tests {
		_, err := Parse(tc.data)
		if err == nil {
			t.Errorf("%s: Parse succeeded", tc.name)
			continue
		}
		for _, want := range tc.wants {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, want)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load("testdata/no-such-file.json")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a not-exist error", err)
	}
	_, err = Load("testdata/gen_variants.py")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/gen_variants.py: ") {
		t.Errorf("Load(not JSON) = %v, want an error naming the path", err)
	}
}
