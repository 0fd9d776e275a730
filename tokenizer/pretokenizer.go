package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A preTokenizer splits the normalized text into the pre-tokens the model
// encodes one by one. Pieces that are added tokens pass through untouched.
type preTokenizer interface {
	preTokenize(pieces []piece) []piece
}

// parsePreTokenizer builds the pre-tokenizer of a tokenizer.json
// "pre_tokenizer" object. A JSON null gives a nil pre-tokenizer.
func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	typ, err := componentType(raw)
	if err != nil || typ == "" {
		return nil, err
	}
	switch typ {
	case "Sequence":
		seq, err := parseSequence(raw, "pretokenizers", parsePreTokenizer)
		return preTokenizerSequence(seq), err
	case "Metaspace":
		return parseMetaspace(raw)
	case "ByteLevel":
		cfg := struct {
			AddPrefixSpace bool `json:"add_prefix_space"`
			UseRegex       bool `json:"use_regex"`
		}{AddPrefixSpace: true, UseRegex: true}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		return byteLevelPre{addPrefixSpace: cfg.AddPrefixSpace, useRegex: cfg.UseRegex}, nil
	case "Split":
		var cfg struct {
			Pattern  json.RawMessage `json:"pattern"`
			Behavior string          `json:"behavior"`
			Invert   bool            `json:"invert"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		pat, err := parsePattern(cfg.Pattern)
		if err != nil {
			return nil, err
		}
		b, err := parseBehavior(cfg.Behavior)
		if err != nil {
			return nil, err
		}
		if cfg.Invert {
			pat = invertPattern{pat}
		}
		return splitPre{pat: pat, behavior: b}, nil
	case "Digits":
		var cfg struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		b := contiguous
		if cfg.Individual {
			b = isolated
		}
		return splitPre{pat: charPattern(unicode.IsNumber), behavior: b}, nil
	case "Punctuation":
		cfg := struct {
			Behavior string `json:"behavior"`
		}{Behavior: "Isolated"}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		b, err := parseBehavior(cfg.Behavior)
		if err != nil {
			return nil, err
		}
		return splitPre{pat: charPattern(isPunctuation), behavior: b}, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return splitPre{pat: charPattern(unicode.IsSpace), behavior: removed}, nil
	case "BertPreTokenizer":
		return preTokenizerSequence{
			splitPre{pat: charPattern(unicode.IsSpace), behavior: removed},
			splitPre{pat: charPattern(isPunctuation), behavior: isolated},
		}, nil
	}
	return nil, fmt.Errorf("unknown pre-tokenizer type %q", typ)
}

// preTokenizerSequence applies its pre-tokenizers in order.
type preTokenizerSequence []preTokenizer

func (s preTokenizerSequence) preTokenize(pieces []piece) []piece {
	for _, p := range s {
		pieces = p.preTokenize(pieces)
	}
	return pieces
}

// splitPre splits every piece where a pattern matches.
type splitPre struct {
	pat      pattern
	behavior splitBehavior
}

func (s splitPre) preTokenize(pieces []piece) []piece {
	return eachText(pieces, func(p piece, out []piece) []piece {
		return splitPiece(p, s.pat, s.behavior, out)
	})
}

// prependScheme says when Metaspace puts the replacement character in front
// of a piece.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependNever
	prependFirst // only for the piece at the start of the input
)

// metaspace replaces spaces by a visible character (▁) and, optionally,
// prepends one and splits in front of each.
type metaspace struct {
	replacement string // one character
	scheme      prependScheme
	split       bool
}

func parseMetaspace(raw json.RawMessage) (metaspace, error) {
	var cfg struct {
		Replacement    string  `json:"replacement"`
		PrependScheme  *string `json:"prepend_scheme"`
		Split          *bool   `json:"split"`
		AddPrefixSpace *bool   `json:"add_prefix_space"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return metaspace{}, err
	}
	if utf8.RuneCountInString(cfg.Replacement) != 1 {
		return metaspace{}, fmt.Errorf("Metaspace: replacement %q is not one character", cfg.Replacement)
	}
	m := metaspace{replacement: cfg.Replacement, scheme: prependAlways, split: true}
	if cfg.Split != nil {
		m.split = *cfg.Split
	}
	if cfg.PrependScheme != nil {
		switch *cfg.PrependScheme {
		case "always":
			m.scheme = prependAlways
		case "never":
			m.scheme = prependNever
		case "first":
			m.scheme = prependFirst
		default:
			return metaspace{}, fmt.Errorf("Metaspace: unknown prepend_scheme %q", *cfg.PrependScheme)
		}
	}
	// Files written before prepend_scheme existed say add_prefix_space.
	if cfg.AddPrefixSpace != nil && !*cfg.AddPrefixSpace {
		if cfg.PrependScheme != nil && m.scheme != prependNever {
			return metaspace{}, fmt.Errorf("Metaspace: add_prefix_space false contradicts prepend_scheme %q", *cfg.PrependScheme)
		}
		m.scheme = prependNever
	}
	return m, nil
}

func (m metaspace) preTokenize(pieces []piece) []piece {
	return eachText(pieces, func(p piece, out []piece) []piece {
		p = p.mapText(func(s string) string { return strings.ReplaceAll(s, " ", m.replacement) })
		if !strings.HasPrefix(p.text, m.replacement) &&
			(m.scheme == prependAlways || m.scheme == prependFirst && p.atStart > 0) {
			p = p.prepend(m.replacement)
		}
		if !m.split {
			return append(out, p)
		}
		return splitPiece(p, literalPattern(m.replacement), mergedWithNext, out)
	})
}

// byteLevelPre is GPT-2's pre-tokenizer: optionally a space in front of each
// piece, a split with GPT2Pattern, then every byte shown as its byte-level
// character.
type byteLevelPre struct {
	addPrefixSpace bool
	useRegex       bool
}

func (b byteLevelPre) preTokenize(pieces []piece) []piece {
	pieces = eachText(pieces, func(p piece, out []piece) []piece {
		if b.addPrefixSpace && !strings.HasPrefix(p.text, " ") {
			p = p.prepend(" ")
		}
		if !b.useRegex {
			return append(out, p)
		}
		return splitGPT2(p, out)
	})
	for i, p := range pieces {
		if p.id < 0 {
			pieces[i] = p.mapText(toByteLevel)
		}
	}
	return pieces
}

// whitespacePre keeps the runs of word characters and the runs of other
// non-space characters (the library's `\w+|[^\w\s]+`), dropping whitespace.
type whitespacePre struct{}

func (whitespacePre) preTokenize(pieces []piece) []piece {
	return eachText(pieces, func(p piece, out []piece) []piece {
		s := p.text
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) {
				i += n
				continue
			}
			word := isWordChar(r)
			j := i + n
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if unicode.IsSpace(r) || isWordChar(r) != word {
					break
				}
				j += n
			}
			out = append(out, p.sub(i, j))
			i = j
		}
		return out
	})
}

// isWordChar reports whether r is in the Unicode \w class of Rust's regex
// crate: alphabetic, marks, decimal digits, connector punctuation and the
// joiners.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) ||
		unicode.In(r, unicode.Nd, unicode.Nl, unicode.Pc, unicode.Other_Alphabetic, unicode.Join_Control)
}

// isPunctuation is the library's punctuation test: ASCII punctuation
// (symbols such as $ and + included) or any Unicode punctuation.
func isPunctuation(r rune) bool {
	if r < utf8.RuneSelf {
		return r > ' ' && r < 0x7F && !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}
	return unicode.IsPunct(r)
}
