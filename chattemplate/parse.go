package chattemplate

import (
	"fmt"
	"slices"
)

// parser turns segments into a tree of nodes.
type parser struct {
	segs  []segment
	pos   int
	depth int
}

// parseTemplate lexes and parses src.
func parseTemplate(src string) ([]node, error) {
	segs, err := lexTemplate(src)
	if err != nil {
		return nil, err
	}
	p := &parser{segs: segs}
	body, stop, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	if stop != nil {
		return nil, p.errorf(stop.line, "unexpected {%% %s %%}", stop.tokens[0].text)
	}
	return body, nil
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
}

// parseBody reads nodes until the end of the template or a block tag that
// closes or continues an enclosing block (endif, else, ...); it consumes that
// tag and returns it as stop.
func (p *parser) parseBody() (body []node, stop *segment, err error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, nil, fmt.Errorf("blocks nest more than %d deep", maxNesting)
	}
	for p.pos < len(p.segs) {
		seg := &p.segs[p.pos]
		p.pos++
		switch seg.kind {
		case textSegment:
			body = append(body, textNode(seg.text))
		case outputSegment:
			ts := &tokenStream{tokens: seg.tokens, line: seg.line}
			e, err := ts.parseFullExpression()
			if err != nil {
				return nil, nil, err
			}
			body = append(body, outputNode{e})
		case blockSegment:
			if len(seg.tokens) == 0 || seg.tokens[0].kind != nameToken {
				return nil, nil, p.errorf(seg.line, "empty or malformed block tag")
			}
			switch keyword := seg.tokens[0].text; keyword {
			case "endif", "elif", "else", "endfor", "endgeneration":
				return body, seg, nil
			default:
				n, err := p.parseStatement(seg)
				if err != nil {
					return nil, nil, err
				}
				body = append(body, n...)
			}
		}
	}
	return body, nil, nil
}

// parseStatement parses the block opened by seg.
func (p *parser) parseStatement(seg *segment) ([]node, error) {
	ts := &tokenStream{tokens: seg.tokens[1:], line: seg.line}
	switch keyword := seg.tokens[0].text; keyword {
	case "if":
		return p.parseIf(ts)
	case "for":
		return p.parseFor(ts)
	case "set":
		n, err := parseSet(ts)
		return []node{n}, err
	case "break", "continue":
		if !ts.done() {
			return nil, p.errorf(seg.line, "unexpected tokens after %s", keyword)
		}
		if keyword == "break" {
			return []node{breakNode{}}, nil
		}
		return []node{continueNode{}}, nil
	case "generation":
		// Hugging Face's {% generation %} marks assistant text for masks;
		// rendering passes its body through.
		body, stop, err := p.parseBody()
		if err != nil {
			return nil, err
		}
		if err := p.expectStop(stop, seg, "endgeneration"); err != nil {
			return nil, err
		}
		return body, nil
	default:
		return nil, p.errorf(seg.line, "unsupported tag {%% %s %%}", keyword)
	}
}

// expectStop checks that a body opened by open ended with one of names.
func (p *parser) expectStop(stop, open *segment, names ...string) error {
	if stop == nil {
		return p.errorf(open.line, "{%% %s %%} is never closed", open.tokens[0].text)
	}
	if !slices.Contains(names, stop.tokens[0].text) {
		return p.errorf(stop.line, "unexpected {%% %s %%} in {%% %s %%} opened on line %d", stop.tokens[0].text, open.tokens[0].text, open.line)
	}
	if len(stop.tokens) > 1 && stop.tokens[0].text != "elif" {
		return p.errorf(stop.line, "unexpected tokens after %s", stop.tokens[0].text)
	}
	return nil
}

func (p *parser) parseIf(ts *tokenStream) ([]node, error) {
	open := &p.segs[p.pos-1]
	var n ifNode
	for {
		cond, err := ts.parseFullExpression()
		if err != nil {
			return nil, err
		}
		body, stop, err := p.parseBody()
		if err != nil {
			return nil, err
		}
		if err := p.expectStop(stop, open, "elif", "else", "endif"); err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		switch stop.tokens[0].text {
		case "elif":
			ts = &tokenStream{tokens: stop.tokens[1:], line: stop.line}
			continue
		case "else":
			if n.elseBody, stop, err = p.parseBody(); err != nil {
				return nil, err
			}
			if err := p.expectStop(stop, open, "endif"); err != nil {
				return nil, err
			}
		}
		return []node{n}, nil
	}
}

func (p *parser) parseFor(ts *tokenStream) ([]node, error) {
	open := &p.segs[p.pos-1]
	var n forNode
	for {
		name, err := ts.expectName()
		if err != nil {
			return nil, err
		}
		n.targets = append(n.targets, name)
		if !ts.accept(",") {
			break
		}
	}
	if !ts.acceptName("in") {
		return nil, ts.errorf("expected 'in' in for loop")
	}
	var err error
	// The iterable stops before a loop filter ("for x in xs if cond").
	if n.iter, err = ts.parseOr(); err != nil {
		return nil, err
	}
	if ts.acceptName("if") {
		if n.filter, err = ts.parseOr(); err != nil {
			return nil, err
		}
	}
	if ts.acceptName("recursive") {
		return nil, ts.errorf("recursive loops are not supported")
	}
	if !ts.done() {
		return nil, ts.errorf("unexpected %q in for loop", ts.peek().text)
	}
	body, stop, err := p.parseBody()
	if err != nil {
		return nil, err
	}
	if err := p.expectStop(stop, open, "else", "endfor"); err != nil {
		return nil, err
	}
	n.body = body
	if stop.tokens[0].text == "else" {
		if n.elseBody, stop, err = p.parseBody(); err != nil {
			return nil, err
		}
		if err := p.expectStop(stop, open, "endfor"); err != nil {
			return nil, err
		}
	}
	return []node{n}, nil
}

func parseSet(ts *tokenStream) (node, error) {
	name, err := ts.expectName()
	if err != nil {
		return nil, err
	}
	n := setNode{name: name}
	if ts.accept(".") {
		if n.attr, err = ts.expectName(); err != nil {
			return nil, err
		}
	}
	if !ts.accept("=") {
		return nil, ts.errorf("expected '=' in set (block assignments are not supported)")
	}
	if n.value, err = ts.parseFullExpression(); err != nil {
		return nil, err
	}
	return n, nil
}
