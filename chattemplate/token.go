package chattemplate

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokenKind int

const (
	nameToken tokenKind = iota
	stringToken
	intToken
	floatToken
	operatorToken
)

// token is one lexeme of an expression. For strings, text is the unescaped
// value.
type token struct {
	kind tokenKind
	text string
	line int
}

// operators, longest first so that "//" wins over "/".
var operators = []string{
	"**", "//", "==", "!=", "<=", ">=",
	"+", "-", "*", "/", "%", "~", "<", ">", "=",
	"(", ")", "[", "]", "{", "}", ",", ".", ":", "|",
}

// lexToken reads one token at the start of s.
func lexToken(s string, line int) (token, int, error) {
	c := s[0]
	switch {
	case c == '\'' || c == '"':
		return lexString(s, line)
	case c >= '0' && c <= '9':
		return lexNumber(s, line)
	case isNameStart(c):
		n := 1
		for n < len(s) && (isNameStart(s[n]) || s[n] >= '0' && s[n] <= '9') {
			n++
		}
		return token{kind: nameToken, text: s[:n], line: line}, n, nil
	}
	for _, op := range operators {
		if strings.HasPrefix(s, op) {
			return token{kind: operatorToken, text: op, line: line}, len(op), nil
		}
	}
	r, _ := utf8.DecodeRuneInString(s)
	return token{}, 0, fmt.Errorf("line %d: unexpected character %q", line, r)
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func lexNumber(s string, line int) (token, int, error) {
	n := 0
	digits := func() {
		for n < len(s) && (s[n] >= '0' && s[n] <= '9' || s[n] == '_') {
			n++
		}
	}
	digits()
	kind := intToken
	if n+1 < len(s) && s[n] == '.' && s[n+1] >= '0' && s[n+1] <= '9' {
		kind = floatToken
		n++
		digits()
	}
	if n < len(s) && (s[n] == 'e' || s[n] == 'E') {
		m := n + 1
		if m < len(s) && (s[m] == '+' || s[m] == '-') {
			m++
		}
		if m < len(s) && s[m] >= '0' && s[m] <= '9' {
			kind = floatToken
			n = m
			digits()
		}
	}
	text := strings.ReplaceAll(s[:n], "_", "")
	var err error
	if kind == intToken {
		_, err = strconv.ParseInt(text, 10, 64)
	} else {
		_, err = strconv.ParseFloat(text, 64)
	}
	if err != nil {
		return token{}, 0, fmt.Errorf("line %d: bad number %q", line, s[:n])
	}
	return token{kind: kind, text: text, line: line}, n, nil
}

// lexString reads a quoted string literal, resolving the escapes of Python
// string literals (an unknown escape keeps its backslash, as in Python).
func lexString(s string, line int) (token, int, error) {
	quote := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == quote:
			return token{kind: stringToken, text: b.String(), line: line}, i + 1, nil
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch e := s[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case '\\', '\'', '"':
			b.WriteByte(e)
		case '\n': // a backslash-newline continues the line
		case 'u', 'U', 'x':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+width >= len(s) {
				return token{}, 0, fmt.Errorf("line %d: truncated \\%c escape", line, e)
			}
			r, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32)
			if err != nil || r > utf8.MaxRune {
				return token{}, 0, fmt.Errorf("line %d: bad \\%c escape", line, e)
			}
			b.WriteRune(rune(r))
			i += width
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return token{}, 0, fmt.Errorf("line %d: unterminated string", line)
}
