package tokenizer

import (
	"unicode/utf8"
)

// validUTF8 returns s with each maximal invalid byte sequence replaced by
// U+FFFD, as Rust's String::from_utf8_lossy does. Valid input is returned
// as is.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(appendLossy(make([]byte, 0, len(s)+8), []byte(s)))
}

// appendLossy appends b to dst, replacing invalid UTF-8 the way Rust's
// from_utf8_lossy does: one U+FFFD for every maximal prefix of a valid
// sequence (Unicode's "substitution of maximal subparts"). Go's decoder
// reports one error per byte instead, so the check is done here.
func appendLossy(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		if r, n := utf8.DecodeRune(b[i:]); r != utf8.RuneError || n > 1 {
			dst = append(dst, b[i:i+n]...)
			i += n
			continue
		}
		i += invalidPrefixLen(b[i:])
		dst = utf8.AppendRune(dst, utf8.RuneError)
	}
	return dst
}

// invalidPrefixLen returns the length (at least 1) of the maximal prefix of
// b that could start a valid UTF-8 sequence; b itself is known to be invalid.
func invalidPrefixLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 && (x < lo || x > hi) || k > 0 && (x < 0x80 || x > 0xBF) {
			break
		}
		n++
	}
	return n
}
