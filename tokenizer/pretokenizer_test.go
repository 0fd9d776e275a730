package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func splitTexts(p piece, pat pattern, b splitBehavior) []string {
	return pieceTexts(splitPiece(p, pat, b, nil))
}

// TestSplitBehaviors uses the example of the library's documentation for
// NormalizedString::split: "the-final--countdown" split on '-'.
func TestSplitBehaviors(t *testing.T) {
	tests := []struct {
		behavior splitBehavior
		want     []string
	}{
		{removed, []string{"the", "final", "countdown"}},
		{isolated, []string{"the", "-", "final", "-", "-", "countdown"}},
		{mergedWithPrevious, []string{"the-", "final-", "-", "countdown"}},
		{mergedWithNext, []string{"the", "-final", "-", "-countdown"}},
		{contiguous, []string{"the", "-", "final", "--", "countdown"}},
	}
	p := textPiece("the-final--countdown", 1)
	for _, tc := range tests {
		for name, pat := range map[string]pattern{
			"literal": literalPattern("-"),
			"char":    charPattern(func(r rune) bool { return r == '-' }),
			"regex":   mustRegex(t, "-"),
		} {
			got := slices.DeleteFunc(splitTexts(p, pat, tc.behavior), func(s string) bool { return s == "" })
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s %v: got %q, want %q", name, tc.behavior, got, tc.want)
			}
		}
	}
}

func mustRegex(t testing.TB, expr string) regexPattern {
	t.Helper()
	re, err := compileRegex(expr)
	if err != nil {
		t.Fatal(err)
	}
	return re
}

func TestPatternFind(t *testing.T) {
	tests := []struct {
		name string
		pat  pattern
		text string
		want []span
	}{
		{"literal", literalPattern("ab"), "aabbab", []span{{0, 1, false}, {1, 3, true}, {3, 4, false}, {4, 6, true}}},
		{"literal empty text", literalPattern("a"), "", []span{{0, 0, false}}},
		{"empty literal", literalPattern(""), "abc", []span{{0, 3, false}}},
		{"regex multibyte", mustRegex(t, `\s+`), "𝔾𝕠 𝕞", []span{{0, 8, false}, {8, 9, true}, {9, 13, false}}},
		// Like Oniguruma, no empty match right after a match.
		{"regex empty matches", mustRegex(t, `a*`), "baab", []span{{0, 0, true}, {0, 1, false}, {1, 3, true}, {3, 4, false}, {4, 4, true}}},
		{"invert", invertPattern{literalPattern("-")}, "a-b", []span{{0, 1, true}, {1, 2, false}, {2, 3, true}}},
	}
	for _, tc := range tests {
		if got := tc.pat.find(tc.text, nil); !slices.Equal(got, tc.want) {
			t.Errorf("%s: find(%q) = %v, want %v", tc.name, tc.text, got, tc.want)
		}
	}
}

// gpt2Pool holds the characters that matter to the GPT-2 pattern: each
// class, apostrophes and the letters of the contractions, several kinds of
// whitespace, marks and non-ASCII letters and digits.
var gpt2Pool = []string{
	"a", "s", "t", "r", "e", "v", "m", "l", "d", "S", "Z", "'", "'", "1", "9", " ", " ", " ", "\n", "\r", "\t",
	"\u00a0", "\u3000", "\u2028", "\u0085", ".", "!", "$", "_", "é", "e\u0301", "\u0301", "中", "😀", "\u200d",
	"²", "٣", "Ⅳ", "ſ", "\x00", "\x7f",
}

func randomText(rng *rand.Rand, pool []string, maxLen int) string {
	var b strings.Builder
	for range rng.IntN(maxLen + 1) {
		b.WriteString(pool[rng.IntN(len(pool))])
	}
	return b.String()
}

// TestSplitGPT2MatchesRegex checks the hand-written GPT-2 splitter against
// regexp2 running the pattern itself.
func TestSplitGPT2MatchesRegex(t *testing.T) {
	re := mustRegex(t, GPT2Pattern)
	texts := []string{
		"", " ", "  ", "a  b", "a \n b", "\n\n\nx", "'s 'S 'll 'lL 're've", "''s", " 's", "hello  ", "x\t\ty",
		" \u00a0x", "1,000 12a3", "é e\u0301 \u0301x", "!! ?? 中文", "a\u2028b", "  \n  indented\n    block\n",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		texts = append(texts, randomText(rng, gpt2Pool, 12))
	}
	for _, text := range texts {
		p := textPiece(text, 0)
		want := splitTexts(p, re, isolated)
		if text == "" {
			want = nil
		}
		if got := pieceTexts(splitGPT2(p, nil)); !slices.Equal(got, want) {
			t.Fatalf("splitGPT2(%q) = %q, regexp2 gives %q", text, got, want)
		}
	}
}

func TestMetaspace(t *testing.T) {
	tests := []struct {
		name   string
		m      metaspace
		pieces []piece
		want   []string
	}{
		{"always split", metaspace{"▁", prependAlways, true},
			[]piece{textPiece("Hey   friend!", 1)}, []string{"▁Hey", "▁", "▁", "▁friend!"}},
		{"always no split", metaspace{"▁", prependAlways, false},
			[]piece{textPiece("Hey friend", 1)}, []string{"▁Hey▁friend"}},
		{"never", metaspace{"▁", prependNever, true},
			[]piece{textPiece("Hey friend", 1)}, []string{"Hey", "▁friend"}},
		// "first" prepends only to the piece at the start of the input.
		{"first", metaspace{"▁", prependFirst, false},
			[]piece{textPiece("Hey ", 1), {id: 1}, textPiece("how", 0)}, []string{"▁Hey▁", "", "how"}},
		{"first, leading space", metaspace{"▁", prependFirst, false},
			[]piece{textPiece(" Hey", 1)}, []string{"▁Hey"}},
	}
	for _, tc := range tests {
		if got := pieceTexts(tc.m.preTokenize(tc.pieces)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestByteLevelPre(t *testing.T) {
	tests := []struct {
		b    byteLevelPre
		text string
		want []string
	}{
		{byteLevelPre{addPrefixSpace: false, useRegex: true}, "Hello my friend, how?",
			[]string{"Hello", "Ġmy", "Ġfriend", ",", "Ġhow", "?"}},
		{byteLevelPre{addPrefixSpace: true, useRegex: true}, "Hello there\n",
			[]string{"ĠHello", "Ġthere", "Ċ"}},
		{byteLevelPre{addPrefixSpace: false, useRegex: false}, "i⭢j", []string{"iâŃ¢j"}},
	}
	for _, tc := range tests {
		if got := pieceTexts(tc.b.preTokenize([]piece{textPiece(tc.text, 1)})); !slices.Equal(got, tc.want) {
			t.Errorf("%+v %q: got %q, want %q", tc.b, tc.text, got, tc.want)
		}
	}
}

func TestWhitespacePre(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"Hey man!", []string{"Hey", "man", "!"}},
		{"How are you doing?", []string{"How", "are", "you", "doing", "?"}},
		{"\n", nil},
		{"naïve_x ...—ok", []string{"naïve_x", "...—", "ok"}},
	}
	for _, tc := range tests {
		if got := pieceTexts(whitespacePre{}.preTokenize([]piece{textPiece(tc.text, 0)})); !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestFoldLongS(t *testing.T) {
	tests := []struct{ in, want string }{
		{`(?i:'s|'t|'re)|\s+`, `(?i:'[sſ]|'t|'re)|\s+`},
		{`(?i:S)x(?i:ms)`, `(?i:[Sſ])x(?i:m[sſ])`},
		{`(?i:[s])|s`, `(?i:[s])|s`}, // classes are left alone
		{`\(?i:s)`, `\(?i:s)`},       // not a group
		{`\s(?i:'s`, `\s(?i:'s`},     // unclosed
		{`[^\r\n]+s`, `[^\r\n]+s`},   // no (?i:
	}
	for _, tc := range tests {
		if got := foldLongS(tc.in); got != tc.want {
			t.Errorf("foldLongS(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOnigOnlySyntax(t *testing.T) {
	tests := []struct{ expr, want string }{
		{GPT2Pattern, ""},
		{`(?i:'s|'t)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}`, ""},
		{`[[:alpha:]]+`, "[:"},
		{`[\p{L}&&[^a]]`, "&&"},
		{`a&&b|[&]`, ""},
		{`a{,2}`, "{,"},
		{`\{,\[[:x`, ""},
		{`[]&&]`, "&&"},
	}
	for _, tc := range tests {
		if got := onigOnlySyntax(tc.expr); got != tc.want {
			t.Errorf("onigOnlySyntax(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}
