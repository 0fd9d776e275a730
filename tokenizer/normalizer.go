package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// A normalizer rewrites the text between added tokens before it is split
// into pre-tokens.
type normalizer interface {
	normalize(p piece) piece
}

// parseNormalizer builds the normalizer of a tokenizer.json "normalizer"
// object. A JSON null gives a nil normalizer.
func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	typ, err := componentType(raw)
	if err != nil || typ == "" {
		return nil, err
	}
	switch typ {
	case "Sequence":
		seq, err := parseSequence(raw, "normalizers", parseNormalizer)
		return normalizerSequence(seq), err
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "StripAccents":
		return stripAccents{}, nil
	case "Strip":
		var cfg struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		return strip{left: cfg.Left, right: cfg.Right}, nil
	case "Prepend":
		var cfg struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		return prependNormalizer(cfg.Prepend), nil
	case "Replace":
		r, err := parseReplace(raw)
		if err != nil {
			return nil, err
		}
		return r, nil
	case "ByteLevel":
		return byteLevelNormalizer{}, nil
	}
	return nil, fmt.Errorf("unknown normalizer type %q", typ)
}

// normalizerSequence applies its normalizers in order.
type normalizerSequence []normalizer

func (s normalizerSequence) normalize(p piece) piece {
	for _, n := range s {
		p = n.normalize(p)
	}
	return p
}

// unicodeNormalizer applies one of the Unicode normalization forms.
type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(p piece) piece {
	return p.mapText(u.form.String)
}

// lowercase maps every character to its lowercase form, one character at a
// time like Rust's char::to_lowercase (so a final sigma stays σ).
type lowercase struct{}

func (lowercase) normalize(p piece) piece {
	return p.mapText(func(s string) string {
		var b strings.Builder
		b.Grow(len(s))
		for _, r := range s {
			if r == 'İ' {
				// The one character whose full lowercase mapping is two
				// characters: i followed by a combining dot above.
				b.WriteString("i\u0307")
				continue
			}
			b.WriteRune(unicode.ToLower(r))
		}
		return b.String()
	})
}

// stripAccents removes combining marks, as the library's StripAccents does
// (it is meant to follow NFD).
type stripAccents struct{}

func (stripAccents) normalize(p piece) piece {
	return p.mapText(func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsMark(r) {
				return -1
			}
			return r
		}, s)
	})
}

// strip removes leading and/or trailing whitespace.
type strip struct{ left, right bool }

func (s strip) normalize(p piece) piece {
	text := p.text
	if s.right {
		text = strings.TrimRightFunc(text, unicode.IsSpace)
	}
	cut := 0
	if s.left {
		trimmed := strings.TrimLeftFunc(text, unicode.IsSpace)
		cut = len(text) - len(trimmed)
		text = trimmed
	}
	return textPiece(text, clamp(p.atStart-cut, 0, len(text)))
}

// prependNormalizer puts a string in front of non-empty text.
type prependNormalizer string

func (s prependNormalizer) normalize(p piece) piece {
	return p.prepend(string(s))
}

// byteLevelNormalizer shows every byte as its byte-level character.
type byteLevelNormalizer struct{}

func (byteLevelNormalizer) normalize(p piece) piece {
	return p.mapText(toByteLevel)
}

// replace replaces every match of a pattern with fixed content. It is both a
// normalizer and a decoder.
type replace struct {
	pat     pattern
	content string
}

func parseReplace(raw json.RawMessage) (replace, error) {
	var cfg struct {
		Pattern json.RawMessage `json:"pattern"`
		Content string          `json:"content"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return replace{}, err
	}
	pat, err := parsePattern(cfg.Pattern)
	if err != nil {
		return replace{}, err
	}
	return replace{pat: pat, content: cfg.Content}, nil
}

// apply returns s with the matches replaced, and how long the output is up
// to input offset mark (a match that starts before mark counts in full).
// With twiceAtStart an empty match at offset 0 is replaced by the content
// twice, as the library's NormalizedString::replace does (its Replace
// decoder does not).
func (r replace) apply(s string, mark int, twiceAtStart bool) (string, int) {
	var b strings.Builder
	b.Grow(len(s))
	markOut := -1
	for _, sp := range r.pat.find(s, nil) {
		switch {
		case markOut >= 0:
		case sp.start >= mark:
			markOut = b.Len()
		case !sp.match && sp.end > mark:
			markOut = b.Len() + mark - sp.start
		}
		if sp.match {
			b.WriteString(r.content)
			if twiceAtStart && sp.end == 0 {
				b.WriteString(r.content)
			}
		} else {
			b.WriteString(s[sp.start:sp.end])
		}
	}
	if markOut < 0 {
		markOut = b.Len()
	}
	return b.String(), markOut
}

func (r replace) normalize(p piece) piece {
	text, atStart := r.apply(p.text, p.atStart, true)
	if p.atStart == 0 {
		atStart = 0
	}
	return textPiece(text, atStart)
}

// componentType returns the "type" of a component object, or "" for JSON
// null.
// parseSequence parses the members of a Sequence component, listed under
// key, with parse; members that parse to nil are dropped.
func parseSequence[T comparable](raw json.RawMessage, key string, parse func(json.RawMessage) (T, error)) ([]T, error) {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	var members []json.RawMessage
	if list, ok := cfg[key]; ok {
		if err := json.Unmarshal(list, &members); err != nil {
			return nil, fmt.Errorf("Sequence: %q: %w", key, err)
		}
	}
	var zero T
	seq := make([]T, 0, len(members))
	for i, r := range members {
		m, err := parse(r)
		if err != nil {
			return nil, fmt.Errorf("Sequence[%d]: %w", i, err)
		}
		if m != zero {
			seq = append(seq, m)
		}
	}
	return seq, nil
}

func componentType(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", err
	}
	if head.Type == nil {
		return "", fmt.Errorf("missing \"type\"")
	}
	if *head.Type == "" {
		return "", fmt.Errorf("empty \"type\"")
	}
	return *head.Type, nil
}
