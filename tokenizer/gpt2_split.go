package tokenizer

import (
	"slices"
	"unicode"
	"unicode/utf8"
)

// GPT2Pattern is the pattern the ByteLevel pre-tokenizer splits with. It is
// matched by splitGPT2 below, written by hand for speed; the tests check it
// against regexp2 running this expression.
const GPT2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// Character classes of the GPT-2 pattern.
const (
	classOther  = iota // [^\s\p{L}\p{N}]
	classLetter        // \p{L}
	classNumber        // \p{N}
	classSpace         // \s: the Unicode White_Space property
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		asciiClass[r] = uint8(slowClass(r))
	}
}

func slowClass(r rune) int {
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}

// classAt returns the class and the length of the character at s[i:].
func classAt(s string, i int) (class, size int) {
	if c := s[i]; c < utf8.RuneSelf {
		return int(asciiClass[c]), 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return slowClass(r), n
}

// splitGPT2 appends the pre-tokens of p under GPT2Pattern. Every character
// belongs to some alternative, so the pre-tokens cover the whole text.
func splitGPT2(p piece, out []piece) []piece {
	s := p.text
	out = slices.Grow(out, len(s)/4+1) // English averages about 4.5 bytes a pre-token
	for i := 0; i < len(s); {
		end := gpt2MatchEnd(s, i)
		out = append(out, p.sub(i, end))
		i = end
	}
	return out
}

// gpt2MatchEnd returns where the match of GPT2Pattern starting at i ends,
// trying the alternatives in order as a backtracking engine does.
func gpt2MatchEnd(s string, i int) int {
	if s[i] == '\'' {
		if n := contractionLen(s[i+1:]); n > 0 {
			return i + 1 + n
		}
	}
	class, size := classAt(s, i)
	// " ?\p{L}+", " ?\p{N}+" and " ?[^\s\p{L}\p{N}]+" with the space.
	if s[i] == ' ' && i+1 < len(s) {
		if next, n := classAt(s, i+1); next != classSpace {
			return runEnd(s, i+1+n, next)
		}
	}
	if class != classSpace {
		return runEnd(s, i+size, class)
	}
	// "\s+(?!\S)": the whitespace run, less its last character when
	// something follows; "\s+" when the run is that one character.
	last, j := i, i+size
	for j < len(s) {
		c, n := classAt(s, j)
		if c != classSpace {
			break
		}
		last, j = j, j+n
	}
	if j < len(s) && last > i {
		return last
	}
	return j
}

// runEnd returns the end of the run of class characters starting at i.
func runEnd(s string, i, class int) int {
	for i < len(s) {
		c, n := classAt(s, i)
		if c != class {
			break
		}
		i += n
	}
	return i
}

// contractionLen returns the length of the contraction suffix ('s, 't, 're,
// 've, 'm, 'll, 'd) that s starts with, without the apostrophe, or 0.
func contractionLen(s string) int {
	if s == "" {
		return 0
	}
	switch s[0] {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if len(s) > 1 && s[1] == 'e' {
			return 2
		}
	case 'l':
		if len(s) > 1 && s[1] == 'l' {
			return 2
		}
	}
	return 0
}
