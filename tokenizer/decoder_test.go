package tokenizer

import (
	"encoding/json"
	"slices"
	"testing"
)

// The cases follow the library's own decoder tests where it has them.
func TestDecoders(t *testing.T) {
	tests := []struct {
		cfg    string
		tokens []string
		want   []string
	}{
		{`{"type": "ByteFallback"}`, []string{"Hey", "friend!"}, []string{"Hey", "friend!"}},
		{`{"type": "ByteFallback"}`, []string{"<0x61>"}, []string{"a"}},
		{`{"type": "ByteFallback"}`, []string{"<0xE5>"}, []string{"\uFFFD"}},
		{`{"type": "ByteFallback"}`, []string{"<0xE5>", "<0x8f>"}, []string{"\uFFFD", "\uFFFD"}},
		{`{"type": "ByteFallback"}`, []string{"<0xE5>", "<0x8f>", "<0xab>", "a"}, []string{"叫", "a"}},
		{`{"type": "ByteFallback"}`, []string{"<0xE5>", "<0x8f>", "a"}, []string{"\uFFFD", "\uFFFD", "a"}},
		{`{"type": "ByteFallback"}`, []string{"<0xZZ>", "<0x4>"}, []string{"<0xZZ>", "<0x4>"}},
		{`{"type": "Fuse"}`, []string{"Hey", " friend", "!"}, []string{"Hey friend!"}},
		{`{"type": "Strip", "content": "H", "start": 1, "stop": 0}`, []string{"Hey", " friend!", "HHH"}, []string{"ey", " friend!", "HH"}},
		{`{"type": "Strip", "content": "y", "start": 0, "stop": 1}`, []string{"Hey", " friend!"}, []string{"He", " friend!"}},
		{`{"type": "Strip", "content": " ", "start": 2, "stop": 2}`, []string{" ", "   "}, []string{"", ""}},
		{`{"type": "Replace", "pattern": {"String": "_"}, "content": " "}`, []string{"hello", "_hello"}, []string{"hello", " hello"}},
		{`{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}`, []string{"▁Hey", "▁friend!"}, []string{"Hey", " friend!"}},
		// In the first token every ▁ goes, not only the leading one.
		{`{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"}`, []string{"▁▁Hey", "▁▁"}, []string{"Hey", "  "}},
		{`{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never"}`, []string{"▁Hey", "▁friend!"}, []string{" Hey", " friend!"}},
		{`{"type": "ByteLevel"}`, []string{"Hello", "Ġmy", "Ġfriend", ","}, []string{"Hello my friend,"}},
		// Bytes cut mid-character are replaced as Rust's from_utf8_lossy does;
		// a token outside the byte alphabet stays as it is.
		{`{"type": "ByteLevel"}`, []string{"ä¸", "Ń", "âĸ", "x", "☃"}, []string{"中\uFFFDx☃"}},
		{`{"type": "BPEDecoder", "suffix": "</w>"}`, []string{"a</w>", "b", "c</w>"}, []string{"a ", "b", "c"}},
		{`{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}`,
			[]string{"▁Hey", "<0xE4>", "<0xB8>", "<0xAD>", "▁", "▁x"}, []string{"Hey中  x"}},
	}
	for _, tc := range tests {
		d, err := parseDecoder(json.RawMessage(tc.cfg))
		if err != nil {
			t.Fatalf("%s: %v", tc.cfg, err)
		}
		if got := d.decode(tc.tokens); !slices.Equal(got, tc.want) {
			t.Errorf("%s: decode(%q) = %q, want %q", tc.cfg, tc.tokens, got, tc.want)
		}
	}
}

func TestValidUTF8(t *testing.T) {
	// What Rust's String::from_utf8_lossy gives: one U+FFFD per maximal
	// prefix of a valid sequence.
	tests := []struct{ in, want string }{
		{"plain é 😀", "plain é 😀"},
		{"\xff\xfe", "\uFFFD\uFFFD"},
		{"\xe2\x82", "\uFFFD"},
		{"\xe2\x82a", "\uFFFDa"},
		{"\xf0\x9f\x98", "\uFFFD"},
		{"\xf0\x9f\x98\xf0\x9f\x98\x80", "\uFFFD😀"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"}, // a surrogate
		{"\xc0\xaf", "\uFFFD\uFFFD"},           // overlong
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xe0\x80\x80", "\uFFFD\uFFFD\uFFFD"},
		{"a\x80b", "a\uFFFDb"},
	}
	for _, tc := range tests {
		if got := validUTF8(tc.in); got != tc.want {
			t.Errorf("validUTF8(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
