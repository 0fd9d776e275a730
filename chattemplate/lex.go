package chattemplate

import (
	"fmt"
	"strings"
)

// The lexer cuts a template into text and tags, applying Jinja's whitespace
// control as Hugging Face configures it (transformers' chat-template
// environment sets trim_blocks and lstrip_blocks):
//
//   - trim_blocks: the first newline after a block or comment tag is removed.
//   - lstrip_blocks: spaces and tabs between the start of a line and a block
//     or comment tag are removed.
//   - "{%-" / "-%}" (and the same on {{ }} and {# #}) remove all whitespace
//     before / after the tag; "{%+" / "+%}" turn the two options off for one
//     tag.
//   - One newline at the very end of the template is dropped
//     (keep_trailing_newline is off).

type segmentKind int

const (
	textSegment   segmentKind = iota
	outputSegment             // {{ ... }}
	blockSegment              // {% ... %}
)

// segment is a piece of the template: literal text, or the tokens of a tag.
type segment struct {
	kind   segmentKind
	text   string
	tokens []token
	line   int
}

const whitespace = " \t\n\r\f\v"

// lexTemplate splits src into segments.
func lexTemplate(src string) ([]segment, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	src = strings.TrimSuffix(src, "\n")

	var segs []segment
	pos, line := 0, 1
	lineStarting := true // the previous tag's match ended with a newline (or none yet)
	trimAll, trimNewline := false, false
	for pos <= len(src) {
		rest := src[pos:]
		start := nextTagStart(rest)
		text := rest
		if start >= 0 {
			text = rest[:start]
		}
		// Whitespace the previous tag end swallows belongs to that tag.
		if trimAll {
			trimmed := strings.TrimLeft(text, whitespace)
			if n := len(text) - len(trimmed); n > 0 {
				lineStarting = text[n-1] == '\n'
			}
			text = trimmed
		} else if trimNewline && strings.HasPrefix(text, "\n") {
			text = text[1:]
			lineStarting = true
		}
		if start < 0 {
			if text != "" {
				segs = append(segs, segment{kind: textSegment, text: text, line: line})
			}
			break
		}
		open := rest[start : start+2]
		marker := byte(0)
		if start+2 < len(rest) {
			marker = rest[start+2]
		}
		switch {
		case marker == '-':
			text = strings.TrimRight(text, whitespace)
		case marker != '+' && open != "{{":
			// lstrip_blocks: drop the line's indentation before a block or comment.
			lineStart := strings.LastIndexByte(text, '\n') + 1
			if (lineStart > 0 || lineStarting) && strings.Trim(text[lineStart:], " \t") == "" {
				text = text[:lineStart]
			}
		}
		if text != "" {
			segs = append(segs, segment{kind: textSegment, text: text, line: line})
		}
		line += strings.Count(rest[:start], "\n")
		tagStart := start + 2
		if marker == '-' || marker == '+' {
			tagStart++
		}
		var end int
		var endMarker byte
		var seg segment
		var err error
		switch open {
		case "{#":
			end, endMarker, err = lexComment(rest, tagStart, line)
		case "{{":
			seg, end, endMarker, err = lexTag(rest, tagStart, "}}", line)
			seg.kind = outputSegment
		default:
			seg, end, endMarker, err = lexTag(rest, tagStart, "%}", line)
			seg.kind = blockSegment
		}
		if err != nil {
			return nil, err
		}
		trimAll = endMarker == '-'
		trimNewline = endMarker == 0 && open != "{{"
		if open != "{#" {
			segs = append(segs, seg)
		}
		line += strings.Count(rest[start:end], "\n")
		lineStarting = false
		pos += end
		if pos == len(src) {
			break
		}
	}
	return segs, nil
}

// nextTagStart returns the index of the next "{{", "{%" or "{#" in s, or -1.
func nextTagStart(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '{' && (s[i+1] == '{' || s[i+1] == '%' || s[i+1] == '#') {
			return i
		}
	}
	return -1
}

// lexComment finds the end of a comment opened before from; it returns the
// index just past "#}" and the '-' or '+' before it (0 for none).
func lexComment(s string, from, line int) (end int, endMarker byte, err error) {
	i := strings.Index(s[from:], "#}")
	if i < 0 {
		return 0, 0, fmt.Errorf("line %d: unclosed comment", line)
	}
	end = from + i + 2
	if i > 0 && (s[end-3] == '-' || s[end-3] == '+') {
		endMarker = s[end-3]
	}
	return end, endMarker, nil
}

// lexTag reads expression tokens from s[from:] up to the closing delimiter
// (outside brackets and strings). It returns the index just past the
// delimiter and the '-' or '+' before it (0 for none).
func lexTag(s string, from int, closing string, line int) (seg segment, end int, endMarker byte, err error) {
	seg.line = line
	depth := 0
	i := from
	for {
		for i < len(s) && strings.IndexByte(whitespace, s[i]) >= 0 {
			if s[i] == '\n' {
				line++
			}
			i++
		}
		if i >= len(s) {
			return seg, 0, 0, fmt.Errorf("line %d: tag not closed by %q", seg.line, closing)
		}
		if depth == 0 {
			if strings.HasPrefix(s[i:], closing) {
				return seg, i + 2, 0, nil
			}
			if (s[i] == '-' || s[i] == '+') && strings.HasPrefix(s[i+1:], closing) {
				return seg, i + 3, s[i], nil
			}
		}
		tok, n, err := lexToken(s[i:], line)
		if err != nil {
			return seg, 0, 0, err
		}
		switch tok.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth = max(depth-1, 0)
		}
		seg.tokens = append(seg.tokens, tok)
		i += n
	}
}
