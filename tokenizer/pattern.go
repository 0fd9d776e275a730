package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// A span is the stretch [start, end) of a text, and whether a pattern
// matched it.
type span struct {
	start, end int
	match      bool
}

// A pattern finds what it matches in a text. find appends spans that cover
// the whole text in order, alternating between matches and the text between
// them, like the library's Pattern::find_matches.
type pattern interface {
	find(s string, dst []span) []span
}

// literalPattern matches every non-overlapping occurrence of a string.
type literalPattern string

func (p literalPattern) find(s string, dst []span) []span {
	if p == "" {
		return append(dst, span{0, len(s), false})
	}
	dst = slices.Grow(dst, 2*strings.Count(s, string(p))+1)
	prev := 0
	for {
		i := strings.Index(s[prev:], string(p))
		if i < 0 {
			break
		}
		start := prev + i
		if start > prev {
			dst = append(dst, span{prev, start, false})
		}
		prev = start + len(p)
		dst = append(dst, span{start, prev, true})
	}
	if prev < len(s) || len(dst) == 0 {
		dst = append(dst, span{prev, len(s), false})
	}
	return dst
}

// charPattern matches every character for which the function is true, each
// character on its own.
type charPattern func(rune) bool

func (p charPattern) find(s string, dst []span) []span {
	prev := 0
	for i, r := range s {
		if !p(r) {
			continue
		}
		if i > prev {
			dst = append(dst, span{prev, i, false})
		}
		prev = i + utf8.RuneLen(r)
		dst = append(dst, span{i, prev, true})
	}
	if prev < len(s) || len(dst) == 0 {
		dst = append(dst, span{prev, len(s), false})
	}
	return dst
}

// regexPattern matches a regular expression. The library uses Oniguruma;
// regexp2 accepts the same syntax for the patterns tokenizer files use,
// lookaround and inline flags included.
type regexPattern struct {
	re *regexp2.Regexp
}

// compileRegex compiles a pattern of a tokenizer.json. Oniguruma (Ruby
// syntax) makes ^ and $ match at line breaks, hence regexp2.Multiline.
// Oniguruma-only syntax that regexp2 would read differently without
// complaint is refused; the rest of it (possessive quantifiers, \h, \R, \X,
// \p{^...}) regexp2 refuses itself.
func compileRegex(expr string) (regexPattern, error) {
	if s := onigOnlySyntax(expr); s != "" {
		return regexPattern{}, fmt.Errorf("invalid regex %q: Oniguruma syntax %q is not supported", expr, s)
	}
	re, err := regexp2.Compile(foldLongS(expr), regexp2.Multiline)
	if err != nil {
		return regexPattern{}, fmt.Errorf("invalid regex %q: %w", expr, err)
	}
	return regexPattern{re}, nil
}

// onigOnlySyntax returns the first piece of Oniguruma syntax in expr that
// regexp2 would silently read otherwise: POSIX brackets and intersections
// inside character classes, and the {,n} quantifier. It returns "" if there
// is none.
func onigOnlySyntax(expr string) string {
	inClass := false
	for i := 0; i < len(expr); i++ {
		rest := expr[i:]
		switch {
		case rest[0] == '\\':
			i++ // skip the escaped character
		case inClass && (strings.HasPrefix(rest, "&&") || strings.HasPrefix(rest, "[:")):
			return rest[:2]
		case inClass && rest[0] == ']':
			inClass = false
		case !inClass && rest[0] == '[':
			inClass = true
			if strings.HasPrefix(rest, "[^]") || strings.HasPrefix(rest, "[]") {
				i += strings.Index(rest, "]") // a leading ] is literal
			}
		case !inClass && strings.HasPrefix(rest, "{,"):
			return "{,"
		}
	}
	return ""
}

// foldLongS rewrites the (?i:...) groups of a pattern so that regexp2
// matches what Oniguruma does there: Oniguruma case-folds ſ (U+017F, long s)
// to s, regexp2 compares lowercase forms and ſ is already lowercase. Only
// groups of plain literals are rewritten, such as the contraction group
// (?i:'s|'t|'re|'ve|'m|'ll|'d) of the Llama-3 pattern; s is the only ASCII
// letter whose folding the two engines disagree on that such groups use.
func foldLongS(expr string) string {
	var b strings.Builder
	for {
		i := strings.Index(expr, "(?i:")
		if i < 0 || strings.HasSuffix(expr[:i], `\`) {
			b.WriteString(expr)
			return b.String()
		}
		i += len("(?i:")
		end := strings.IndexByte(expr[i:], ')')
		if end < 0 {
			b.WriteString(expr)
			return b.String()
		}
		b.WriteString(expr[:i])
		body := expr[i : i+end]
		if !strings.ContainsAny(body, `\[](`) {
			body = strings.NewReplacer("s", "[sſ]", "S", "[Sſ]").Replace(body)
		}
		b.WriteString(body)
		expr = expr[i+end:]
	}
}

func (p regexPattern) find(s string, dst []span) []span {
	if s == "" {
		return append(dst, span{0, 0, false})
	}
	// regexp2 works on runes; offs maps rune indexes to byte offsets.
	runes := make([]rune, 0, len(s))
	offs := make([]int, 0, len(s)+1)
	for i, r := range s {
		runes = append(runes, r)
		offs = append(offs, i)
	}
	offs = append(offs, len(s))

	prev, lastEnd := 0, -1
	m, err := p.re.FindRunesMatch(runes)
	for ; m != nil && err == nil; m, err = p.re.FindNextMatch(m) {
		start, end := offs[m.Index], offs[m.Index+m.Length]
		// Like Oniguruma's iterator, refuse an empty match right where the
		// previous match ended.
		if start == end && start == lastEnd {
			continue
		}
		if start > prev {
			dst = append(dst, span{prev, start, false})
		}
		dst = append(dst, span{start, end, true})
		prev, lastEnd = end, end
	}
	if prev < len(s) {
		dst = append(dst, span{prev, len(s), false})
	}
	return dst
}

// invertPattern flips which spans count as matches.
type invertPattern struct{ pattern }

func (p invertPattern) find(s string, dst []span) []span {
	n := len(dst)
	dst = p.pattern.find(s, dst)
	for i := n; i < len(dst); i++ {
		dst[i].match = !dst[i].match
	}
	return dst
}

// parsePattern reads the {"String": "..."} or {"Regex": "..."} form the
// library writes for Split and Replace patterns.
func parsePattern(raw json.RawMessage) (pattern, error) {
	var p struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	switch {
	case p.String != nil:
		return literalPattern(*p.String), nil
	case p.Regex != nil:
		return compileRegex(*p.Regex)
	}
	return nil, errors.New(`pattern: want {"String": ...} or {"Regex": ...}`)
}

// splitBehavior says what a split does with the text a pattern matched.
type splitBehavior int

const (
	removed splitBehavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

var splitBehaviors = map[string]splitBehavior{
	"Removed":            removed,
	"Isolated":           isolated,
	"MergedWithPrevious": mergedWithPrevious,
	"MergedWithNext":     mergedWithNext,
	"Contiguous":         contiguous,
}

func parseBehavior(name string) (splitBehavior, error) {
	b, ok := splitBehaviors[name]
	if !ok {
		return 0, fmt.Errorf("unknown split behavior %q", name)
	}
	return b, nil
}

// splitPiece splits p where pat matches, handling the matched text as b
// says (the library's NormalizedString::split), and appends the parts to out.
func splitPiece(p piece, pat pattern, b splitBehavior, out []piece) []piece {
	spans := pat.find(p.text, nil)
	for _, s := range applyBehavior(spans, b) {
		out = append(out, p.sub(s.start, s.end))
	}
	return out
}

// applyBehavior turns the spans of a pattern into the parts to keep.
func applyBehavior(spans []span, b splitBehavior) []span {
	var out []span
	switch b {
	case isolated:
		return spans
	case removed:
		for _, s := range spans {
			if !s.match {
				out = append(out, s)
			}
		}
	case contiguous:
		prevMatch := false
		for _, s := range spans {
			if s.match == prevMatch && len(out) > 0 {
				out[len(out)-1].end = s.end
			} else {
				out = append(out, s)
			}
			prevMatch = s.match
		}
	case mergedWithPrevious:
		prevMatch := false
		for _, s := range spans {
			if s.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].end = s.end
			} else {
				out = append(out, s)
			}
			prevMatch = s.match
		}
	case mergedWithNext:
		prevMatch := false
		for i := len(spans) - 1; i >= 0; i-- {
			s := spans[i]
			if s.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].start = s.start
			} else {
				out = append(out, s)
			}
			prevMatch = s.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}
