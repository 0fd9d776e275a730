package tokenizer

import (
	"os"
	"testing"
)

// wikiText returns the text the speed benchmark encodes: the full WikiText-2
// test split when $QTK_WIKI_TEST names it, else the excerpt in testdata.
func wikiText(tb testing.TB) (text string, full bool) {
	tb.Helper()
	path, full := os.LookupEnv("QTK_WIKI_TEST")
	if !full {
		path = "../testdata/text/wiki.test.excerpt.raw"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(data), full
}

// BenchmarkEncodeWiki encodes the WikiText-2 test text with each golden
// tokenizer. With small-llama (Metaspace, split false) the whole text is a
// single pre-token. The "warm" runs keep the word cache filled by the
// previous iteration, as a long-lived Tokenizer does; the "cold" runs empty
// it first, as for the first text a Tokenizer sees.
func BenchmarkEncodeWiki(b *testing.B) {
	text, _ := wikiText(b)
	for _, tc := range goldenTokenizers {
		for _, cold := range []bool{false, true} {
			name := tc.name + "/warm"
			if cold {
				name = tc.name + "/cold"
			}
			b.Run(name, func(b *testing.B) {
				tok := loadTokenizer(b, tc.tokenizer)
				tok.Encode("warm up once", true)
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					if cold {
						tok.model.(*bpeModel).cache = newWordCache()
					}
					tok.Encode(text, true)
				}
			})
		}
	}
}

// TestWikiTokenCount checks the token counts of the full WikiText-2 test
// split against the counts transformers got (reference.json "test_tokens"
// of each model, with BOS where the tokenizer adds it). It needs
// $QTK_WIKI_TEST.
func TestWikiTokenCount(t *testing.T) {
	text, full := wikiText(t)
	if !full {
		t.Skip("set QTK_WIKI_TEST to the path of wiki.test.raw")
	}
	tests := []struct {
		name, tokenizer string
		addSpecial      bool
		want            int
	}{
		{"tiny-llama", "../testdata/tokenizers/tiny-llama/tokenizer.json", false, 413466},
		{"small-llama", "../testdata/tokenizers/small-llama/tokenizer.json", true, 335688},
	}
	for _, tc := range tests {
		tok := loadTokenizer(t, tc.tokenizer)
		if got := len(tok.Encode(text, tc.addSpecial)); got != tc.want {
			t.Errorf("%s: %d tokens, want %d", tc.name, got, tc.want)
		}
	}
}
