package tokenizer

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"
)

// variantsFile is testdata/variants.golden.json, written by
// testdata/gen_variants.py with the Hugging Face tokenizers library: the
// golden tokenizers with some components replaced, and their encodings of
// a few hundred texts (fixed edge cases and random ones).
type variantsFile struct {
	Library  string `json:"library"`
	Variants []struct {
		Name  string                     `json:"name"`
		Base  string                     `json:"base"`
		Patch map[string]json.RawMessage `json:"patch"`
		Error string                     `json:"error"`
		Cases []struct {
			Text           string   `json:"text"`
			IDs            []int    `json:"ids"`
			IDsNoSpecial   []int    `json:"ids_no_special"`
			Decoded        string   `json:"decoded"`
			DecodedSpecial string   `json:"decoded_special"`
			PreTokens      []string `json:"pre_tokens"`
		} `json:"cases"`
		DecodeCases []struct {
			IDs            []int  `json:"ids"`
			Decoded        string `json:"decoded"`
			DecodedSpecial string `json:"decoded_special"`
		} `json:"decode_cases"`
	} `json:"variants"`
}

var variantBases = map[string]string{
	"tiny-llama":  "../testdata/tokenizers/tiny-llama/tokenizer.json",
	"small-llama": "../testdata/tokenizers/small-llama/tokenizer.json",
}

// patchTokenizer applies a variant's patch to a tokenizer.json, the way
// gen_variants.py does: top-level keys replace the base's, "model" keys are
// merged into the model and "extra_added_tokens" are appended.
func patchTokenizer(t *testing.T, base []byte, patch map[string]json.RawMessage) []byte {
	t.Helper()
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(base, &cfg); err != nil {
		t.Fatal(err)
	}
	for key, value := range patch {
		switch key {
		case "model":
			var model, extra map[string]json.RawMessage
			if err := json.Unmarshal(cfg["model"], &model); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(value, &extra); err != nil {
				t.Fatal(err)
			}
			maps.Copy(model, extra)
			cfg["model"] = mustMarshal(t, model)
		case "extra_added_tokens":
			var tokens, extra []json.RawMessage
			if err := json.Unmarshal(cfg["added_tokens"], &tokens); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(value, &extra); err != nil {
				t.Fatal(err)
			}
			cfg["added_tokens"] = mustMarshal(t, append(tokens, extra...))
		default:
			cfg[key] = value
		}
	}
	return mustMarshal(t, cfg)
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestVariants(t *testing.T) {
	data, err := os.ReadFile("testdata/variants.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var file variantsFile
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	bases := make(map[string][]byte)
	for name, path := range variantBases {
		if bases[name], err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range file.Variants {
		t.Run(v.Name, func(t *testing.T) {
			tok, err := Parse(patchTokenizer(t, bases[v.Base], v.Patch))
			if v.Error != "" {
				if err == nil {
					t.Fatalf("Parse succeeded; the library failed with %q", v.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for _, c := range v.Cases {
				var problems []string
				if got := tok.Encode(c.Text, true); !slices.Equal(got, c.IDs) {
					problems = append(problems, "ids")
					t.Logf("Encode(%q, true)\n got %v\nwant %v", c.Text, got, c.IDs)
				}
				if got := tok.Encode(c.Text, false); !slices.Equal(got, c.IDsNoSpecial) {
					problems = append(problems, "ids_no_special")
					t.Logf("Encode(%q, false)\n got %v\nwant %v", c.Text, got, c.IDsNoSpecial)
				}
				if got := tok.Decode(c.IDs, true); got != c.Decoded {
					problems = append(problems, "decoded")
					t.Logf("Decode(%q, true) = %q, want %q", c.Text, got, c.Decoded)
				}
				if got := tok.Decode(c.IDs, false); got != c.DecodedSpecial {
					problems = append(problems, "decoded_special")
					t.Logf("Decode(%q, false) = %q, want %q", c.Text, got, c.DecodedSpecial)
				}
				if c.PreTokens != nil {
					// The library's pre_tokenize_str runs the pre-tokenizer
					// alone, on the raw text.
					pieces := tok.pre.preTokenize([]piece{textPiece(c.Text, firstCharLen(c.Text))})
					if got := pieceTexts(pieces); !slices.Equal(got, c.PreTokens) {
						problems = append(problems, "pre_tokens")
						t.Logf("pre-tokens of %q\n got %q\nwant %q", c.Text, got, c.PreTokens)
					}
				}
				if problems != nil {
					failed++
				}
			}
			for _, c := range v.DecodeCases {
				if got := tok.Decode(c.IDs, true); got != c.Decoded {
					failed++
					t.Logf("Decode(%v, true) = %q, want %q", c.IDs, got, c.Decoded)
				}
				if got := tok.Decode(c.IDs, false); got != c.DecodedSpecial {
					failed++
					t.Logf("Decode(%v, false) = %q, want %q", c.IDs, got, c.DecodedSpecial)
				}
			}
			if failed > 0 {
				t.Errorf("%d of %d cases differ from %s", failed, len(v.Cases)+2*len(v.DecodeCases), file.Library)
			}
		})
	}
}

// pieceTexts returns the text of each piece, or the token string of added
// tokens.
func pieceTexts(pieces []piece) []string {
	out := make([]string, len(pieces))
	for i, p := range pieces {
		out[i] = p.text
	}
	return out
}
