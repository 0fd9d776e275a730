package tokenizer

import (
	"slices"
	"testing"
)

// testdata/llama3-split/tokenizer.json is a small hand-made tokenizer shaped
// like Llama-3's: a Split pre-tokenizer with the Llama-3 pattern, then
// ByteLevel without its own regex, ignore_merges, and <|begin_of_text|> put
// in front by a TemplateProcessing inside a Sequence. Its vocabulary is the
// 256 byte-level characters (id = byte value) and the merges for "Hello",
// " world", "'s" and "123".
const llama3Tokenizer = "testdata/llama3-split/tokenizer.json"

// TestLlama3Split checks the pre-tokens of the Llama-3 pattern
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// At each position the first alternative that matches wins; the comments
// name the alternative (1 to 7) behind each pre-token.
func TestLlama3Split(t *testing.T) {
	tok := loadTokenizer(t, llama3Tokenizer)
	tests := []struct {
		text string
		want []string
	}{
		// 2 takes "Hello" and " world" (the space is the optional
		// non-letter); 1 takes "'s"; before "123" the two spaces split as
		// " " by 6 (a space must stay in front of the digit, which \S
		// forbids) and " " by 7; 3 takes at most three digits.
		{"Hello world's  123456", []string{"Hello", " world", "'s", " ", " ", "123", "456"}},
		// 1 is case-insensitive.
		{"I'M SHOUTING, DON'T", []string{"I", "'M", " SHOUTING", ",", " DON", "'T"}},
		{"we'll they're you've 'LL", []string{"we", "'ll", " they", "'re", " you", "'ve", " '", "LL"}},
		// Under (?i) Oniguruma folds ſ (long s) to s.
		{"'ſa 'ſT", []string{"'ſ", "a", " '", "ſT"}},
		// 4 keeps the newlines that follow punctuation.
		{"hello!!!\n\nworld", []string{"hello", "!!!\n\n", "world"}},
		// 5 takes whitespace up to the last newline, then 6 and 2.
		{"  \n\n  x", []string{"  \n\n", " ", " x"}},
		{"\r\n\r\nfoo\r\nbar \r\n", []string{"\r\n\r\n", "foo", "\r\n", "bar", " \r\n"}},
		// 2 takes one non-letter in front of letters ("(x", "$hello" only
		// without a space: " $" goes to 4).
		{"f(x) $hello a1b", []string{"f", "(x", ")", " $", "hello", " a", "1", "b"}},
		{"x.5", []string{"x", ".", "5"}},
		// Trailing whitespace is one pre-token (6 with nothing after it).
		{"end  ", []string{"end", "  "}},
		{"中文，标点。", []string{"中文", "，标点", "。"}},
	}
	for _, tc := range tests {
		pieces := tok.pre.preTokenize([]piece{textPiece(tc.text, firstCharLen(tc.text))})
		var got []string
		for _, p := range pieces {
			got = append(got, string(appendFromByteLevel(nil, p.text)))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("pre-tokens of %q:\n got %q\nwant %q", tc.text, got, tc.want)
		}
	}
}

func TestLlama3Encode(t *testing.T) {
	tok := loadTokenizer(t, llama3Tokenizer)
	const bot = 268 // <|begin_of_text|>
	tests := []struct {
		text       string
		addSpecial bool
		want       []int
	}{
		// "Hello" and "Ġworld" are whole tokens (ignore_merges), "'s" and
		// "123" merge, the spaces are byte 32, and "456" has no merges.
		{"Hello world's  123456", true, []int{bot, 259, 264, 265, 32, 32, 267, 52, 53, 54}},
		{"Hello world's  123456", false, []int{259, 264, 265, 32, 32, 267, 52, 53, 54}},
		{"<|begin_of_text|>Hello", true, []int{bot, bot, 259}},
		{"", true, []int{bot}},
	}
	for _, tc := range tests {
		if got := tok.Encode(tc.text, tc.addSpecial); !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q, %v) = %v, want %v", tc.text, tc.addSpecial, got, tc.want)
		}
	}
	if id, added := tok.BOS(); id != bot || !added {
		t.Errorf("BOS() = %d, %v, want %d, true", id, added, bot)
	}
	ids := tok.Encode("<|begin_of_text|>Hello world's  123456<|end_of_text|>", true)
	if got, want := tok.Decode(ids, true), "Hello world's  123456"; got != want {
		t.Errorf("Decode(skipSpecial) = %q, want %q", got, want)
	}
	if got, want := tok.Decode(ids, false), "<|begin_of_text|><|begin_of_text|>Hello world's  123456<|end_of_text|>"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
}
