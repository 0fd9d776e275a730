package tokenizer

import "unicode/utf8"

// A piece is one part of the text on its way through the pipeline: first a
// stretch between added tokens, then a pre-token handed to the model.
type piece struct {
	text string
	// atStart is how many leading bytes of text come from the very first
	// character of the input (inserted text counts with the character it
	// was inserted before). It is zero for pieces that begin later. The
	// library tracks full offsets; Metaspace's prepend_scheme "first" only
	// needs to know whether a piece begins at offset 0, which is atStart > 0.
	atStart int
	// id is the token id of an added token found in the text, else -1.
	id int
}

// textPiece returns a piece of plain text.
func textPiece(text string, atStart int) piece {
	return piece{text: text, atStart: atStart, id: -1}
}

// sub returns the part text[start:end] of p as a new piece.
func (p piece) sub(start, end int) piece {
	return textPiece(p.text[start:end], clamp(p.atStart-start, 0, end-start))
}

// mapText returns p with its text replaced by f(p.text), keeping track of the
// bytes that come from the first character: f must map text
// character-by-character (the output for a prefix is a prefix of the output).
func (p piece) mapText(f func(string) string) piece {
	text := f(p.text)
	atStart := 0
	if p.atStart > 0 {
		atStart = min(len(f(p.text[:p.atStart])), len(text))
	}
	return textPiece(text, atStart)
}

// prepend returns p with s in front of its text. The library aligns inserted
// text with the character it precedes, so s belongs to the first character
// exactly when the text did.
func (p piece) prepend(s string) piece {
	if p.text == "" {
		return p
	}
	atStart := 0
	if p.atStart > 0 {
		atStart = p.atStart + len(s)
	}
	return textPiece(s+p.text, atStart)
}

// firstCharLen is the byte length of the first character of s (0 if empty).
func firstCharLen(s string) int {
	if s == "" {
		return 0
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// eachText applies split to every piece that is not an added token, and
// returns the resulting pieces, dropping empty ones as the library does.
func eachText(pieces []piece, split func(p piece, out []piece) []piece) []piece {
	out := make([]piece, 0, len(pieces))
	for _, p := range pieces {
		if p.id >= 0 {
			out = append(out, p)
			continue
		}
		n := len(out)
		out = split(p, out)
		// Drop empty pieces in place.
		kept := out[:n]
		for _, q := range out[n:] {
			if q.id >= 0 || q.text != "" {
				kept = append(kept, q)
			}
		}
		out = kept
	}
	return out
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
