package tokenizer

import (
	"encoding/json"
	"testing"
)

func mustNormalizer(t *testing.T, cfg string) normalizer {
	t.Helper()
	n, err := parseNormalizer(json.RawMessage(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNormalizers(t *testing.T) {
	tests := []struct {
		cfg         string
		in          string
		want        string
		wantAtStart int // with the input piece at the start of the text
	}{
		// atStart counts what the first character alone normalizes to; the
		// library also counts the mark composed into it, which makes no
		// difference: nothing splits inside a character.
		{`{"type": "NFC"}`, "e\u0301x", "éx", 1},
		{`{"type": "NFD"}`, "éx", "e\u0301x", 3},
		{`{"type": "NFKC"}`, "ﬁ①", "fi1", 2},
		{`{"type": "NFKD"}`, "ﬁé", "fie\u0301", 2},
		// Rust lowercases one character at a time: İ becomes i + U+0307 and
		// a final Σ stays σ.
		{`{"type": "Lowercase"}`, "İSTANBUL ΟΔΟΣ", "i\u0307stanbul οδοσ", 3},
		{`{"type": "StripAccents"}`, "e\u0301a\u0308", "ea", 1},
		{`{"type": "Strip", "strip_left": true, "strip_right": true}`, " \t hi \n", "hi", 0},
		{`{"type": "Strip", "strip_left": false, "strip_right": true}`, "hi  ", "hi", 1},
		{`{"type": "Prepend", "prepend": "▁"}`, "hi", "▁hi", 4},
		{`{"type": "Prepend", "prepend": "▁"}`, "", "", 0},
		{`{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}`, " a b", "▁a▁b", 3},
		{`{"type": "Replace", "pattern": {"String": "''"}, "content": "\""}`, "This is a ''test''", `This is a "test"`, 1},
		{`{"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}`, "This     is   a  test", "This is a test", 1},
		// The content is literal: no $1 group expansion.
		{`{"type": "Replace", "pattern": {"Regex": "(l)(e)"}, "content": "$2$1"}`, "le", "$2$1", 4},
		{`{"type": "ByteLevel"}`, "a é", "aĠÃ©", 1},
		// The library writes the content twice for an empty match at the
		// start; ^ and $ match at line breaks, as in Oniguruma.
		{`{"type": "Replace", "pattern": {"Regex": "^|$"}, "content": "#"}`, "ab\ncd", "##ab#\n#cd#", 3},
		{`{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}`,
			" Hey", "▁▁Hey", 6},
	}
	for _, tc := range tests {
		n := mustNormalizer(t, tc.cfg)
		got := n.normalize(textPiece(tc.in, firstCharLen(tc.in)))
		if got.text != tc.want || got.atStart != tc.wantAtStart {
			t.Errorf("%s on %q = %q (atStart %d), want %q (atStart %d)", tc.cfg, tc.in, got.text, got.atStart, tc.want, tc.wantAtStart)
		}
		if later := n.normalize(textPiece(tc.in, 0)); later.atStart != 0 {
			t.Errorf("%s on %q: a piece that starts later gets atStart %d", tc.cfg, tc.in, later.atStart)
		}
	}
}
