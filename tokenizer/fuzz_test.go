package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncode runs random text through the tiny-llama (byte-level) and
// small-llama (SentencePiece-style) tokenizers. Besides not panicking, it
// checks, for valid UTF-8 text holding no special-token literal:
//
//   - tiny-llama: Decode(Encode(x)) == x (byte-level BPE loses nothing).
//   - small-llama: Decode(Encode(x)) == x less one leading space, for x
//     without '▁' (Metaspace turns spaces into ▁ and the decoder strips the
//     ▁ it prepends, or the first space when there was none to prepend).
//   - With special tokens, small-llama's ids are BOS followed by the ids
//     without; tiny-llama adds nothing.
//   - Cutting long pre-tokens into chunks (model_bpe.go) gives the tokens of
//     merging them whole: checked on x repeated past the cache limit.
func FuzzEncode(f *testing.F) {
	tiny := loadTokenizer(f, "../testdata/tokenizers/tiny-llama/tokenizer.json")
	small := loadTokenizer(f, "../testdata/tokenizers/small-llama/tokenizer.json")
	for _, s := range []string{"", " ", "Hello world", " Hello", "  x\n\ny", "I'm 12345 é 中文 😀", "<s>a</s>", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tinyIDs := tiny.Encode(text, true)
		smallIDs := small.Encode(text, true)
		if !slices.Equal(tinyIDs, tiny.Encode(text, false)) {
			t.Errorf("tiny-llama adds tokens to %q", text)
		}
		bos, _ := small.BOS()
		if noSpecial := small.Encode(text, false); len(smallIDs) == 0 || smallIDs[0] != bos || !slices.Equal(smallIDs[1:], noSpecial) {
			t.Errorf("small-llama: %v is not BOS + %v", smallIDs, noSpecial)
		}
		decodedTiny := tiny.Decode(tinyIDs, true)
		decodedSmall := small.Decode(smallIDs, true)
		tiny.Decode(tinyIDs, false)
		small.Decode(smallIDs, false)

		if !utf8.ValidString(text) || hasSpecialLiteral(text) {
			return
		}
		if decodedTiny != text {
			t.Errorf("tiny-llama: Decode(Encode(%q)) = %q", text, decodedTiny)
		}
		if want := strings.TrimPrefix(text, " "); !strings.Contains(text, "▁") && decodedSmall != want {
			t.Errorf("small-llama: Decode(Encode(%q)) = %q, want %q", text, decodedSmall, want)
		}
		if text != "" && len(text) < 4096 {
			long := strings.Repeat(text, cacheMaxWordLen/len(text)+1)
			for _, tok := range []*Tokenizer{tiny, small} {
				checkChunking(t, tok, long)
			}
		}
	})
}

// hasSpecialLiteral reports whether s holds the text of an added token of the
// fuzzed tokenizers.
func hasSpecialLiteral(s string) bool {
	for _, lit := range []string{"<|endoftext|>", "<s>", "</s>", "<unk>"} {
		if strings.Contains(s, lit) {
			return true
		}
	}
	return false
}

// checkChunking compares the model's output on each pre-token of text with
// merging the pre-token whole.
func checkChunking(t *testing.T, tok *Tokenizer, text string) {
	m := tok.model.(*bpeModel)
	for _, p := range tok.preTokenize(text) {
		if p.id >= 0 {
			continue
		}
		w := m.newWord(p.text)
		w.mergeAll(m.merges)
		var want []int
		for _, id := range w.ids() {
			want = append(want, int(id))
		}
		if got := m.tokenize(p.text, nil); !slices.Equal(got, want) {
			t.Fatalf("chunked tokenize(%q) = %v, merging whole gives %v", p.text, got, want)
		}
	}
}

// FuzzParse parses random tokenizer.json contents. Whatever parses must then
// encode and decode without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimalJSON))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := Parse(data)
		if err != nil {
			return
		}
		for _, text := range []string{"", "ab ba", " a\n\tb <s> ", "é中😀\xff", string(data[:min(len(data), 64)])} {
			for _, special := range []bool{false, true} {
				ids := tok.Encode(text, special)
				tok.Decode(ids, true)
				tok.Decode(ids, false)
			}
		}
		tok.Decode([]int{-1, 0, 1, 2, 3, 1 << 40}, false)
		tok.VocabSize()
		tok.BOS()
	})
}

// FuzzSplitGPT2 checks the hand-written GPT-2 splitter against regexp2
// running the pattern.
func FuzzSplitGPT2(f *testing.F) {
	re := mustRegex(f, GPT2Pattern)
	for _, s := range []string{"", "a  b", "'s'S", " \n x", "é\u0301 1²"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) || text == "" {
			return
		}
		p := textPiece(text, 0)
		want := splitTexts(p, re, isolated)
		if got := pieceTexts(splitGPT2(p, nil)); !slices.Equal(got, want) {
			t.Errorf("splitGPT2(%q) = %q, regexp2 gives %q", text, got, want)
		}
	})
}
