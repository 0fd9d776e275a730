package tokenizer

import (
	"slices"
	"sync"
	"testing"
)

func TestVocabularyAccessors(t *testing.T) {
	tests := []struct {
		name, path string
		vocabSize  int
		bos        int
		bosAdded   bool
		tokens     map[string]int
	}{
		{"tiny-llama", "../testdata/tokenizers/tiny-llama/tokenizer.json", 4096, -1, false,
			map[string]int{"<|endoftext|>": 0, "Ġ": 221, "!": 1}},
		{"small-llama", "../testdata/tokenizers/small-llama/tokenizer.json", 32000, 1, true,
			map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 13, "▁": 29871, "▁Hello": 15043}},
		{"llama-spm-tinyllama", "../testdata/tokenizers/llama-spm-tinyllama/tokenizer.json", 32000, 1, true,
			map[string]int{"<s>": 1, "\u2028": 31353}},
	}
	for _, tc := range tests {
		tok := loadTokenizer(t, tc.path)
		if got := tok.VocabSize(); got != tc.vocabSize {
			t.Errorf("%s: VocabSize = %d, want %d", tc.name, got, tc.vocabSize)
		}
		if id, added := tok.BOS(); id != tc.bos || added != tc.bosAdded {
			t.Errorf("%s: BOS = %d, %v; want %d, %v", tc.name, id, added, tc.bos, tc.bosAdded)
		}
		for token, id := range tc.tokens {
			if got, ok := tok.TokenID(token); !ok || got != id {
				t.Errorf("%s: TokenID(%q) = %d, %v; want %d", tc.name, token, got, ok, id)
			}
			if got, ok := tok.Token(id); !ok || got != token {
				t.Errorf("%s: Token(%d) = %q, %v; want %q", tc.name, id, got, ok, token)
			}
		}
		if _, ok := tok.TokenID("no such token, surely"); ok {
			t.Errorf("%s: TokenID of an unknown token succeeded", tc.name)
		}
		for _, id := range []int{-1, tc.vocabSize, 1 << 40} {
			if _, ok := tok.Token(id); ok {
				t.Errorf("%s: Token(%d) succeeded", tc.name, id)
			}
		}
	}
}

// TestConcurrentEncode encodes from several goroutines at once (run with
// -race to check the shared word cache).
func TestConcurrentEncode(t *testing.T) {
	tok := loadTokenizer(t, "../testdata/tokenizers/small-llama/tokenizer.json")
	text, _ := wikiText(t)
	text = text[:20000]
	want := tok.Encode(text, true)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			fresh := loadTokenizer(t, "../testdata/tokenizers/small-llama/tokenizer.json")
			for _, tk := range []*Tokenizer{tok, fresh} {
				if got := tk.Encode(text, true); !slices.Equal(got, want) {
					t.Error("concurrent Encode differs")
				}
			}
		})
	}
	wg.Wait()
}
