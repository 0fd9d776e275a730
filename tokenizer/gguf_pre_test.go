package tokenizer

import (
	"encoding/json"
	"testing"
)

// TestGGUFPreTokenizers: every named pre-tokenizer is found by its regex,
// and the components it is read back as parse and split with that regex.
func TestGGUFPreTokenizers(t *testing.T) {
	for _, p := range ggufPreTokenizers {
		name, nfc, ok := GGUFPreTokenizer(p.regex)
		if !ok || name != p.name || nfc != p.nfc {
			t.Errorf("%s: GGUFPreTokenizer gives %q, nfc %v, %v", p.name, name, nfc, ok)
		}
		norm, pre, ok := ggufPreTokenizerJSON(p.name)
		if !ok {
			t.Fatalf("%s: no components", p.name)
		}
		if _, err := parsePreTokenizer(json.RawMessage(pre)); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
		if (norm != "") != p.nfc {
			t.Errorf("%s: normalizer %q, NFC %v", p.name, norm, p.nfc)
		}
		if norm != "" {
			if _, err := parseNormalizer(json.RawMessage(norm)); err != nil {
				t.Errorf("%s: %v", p.name, err)
			}
		}
		if p.regex != GPT2Pattern {
			var parsed struct {
				PreTokenizers []struct {
					Pattern struct{ Regex string }
				}
			}
			if err := json.Unmarshal([]byte(pre), &parsed); err != nil || parsed.PreTokenizers[0].Pattern.Regex != p.regex {
				t.Errorf("%s: the Split component holds another regex (%v)", p.name, err)
			}
		}
	}
	if _, _, ok := GGUFPreTokenizer(`\s+`); ok {
		t.Error("an unknown regex has a name")
	}
	if _, _, ok := ggufPreTokenizerJSON("falcon"); ok {
		t.Error("an unknown name has components")
	}
}
