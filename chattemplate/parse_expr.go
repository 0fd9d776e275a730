package chattemplate

import (
	"fmt"
	"slices"
	"strconv"
)

// tokenStream parses the expression tokens of one tag.
type tokenStream struct {
	tokens []token
	pos    int
	line   int
	depth  int
}

func (ts *tokenStream) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", ts.line, fmt.Sprintf(format, args...))
}

func (ts *tokenStream) done() bool { return ts.pos >= len(ts.tokens) }

func (ts *tokenStream) peek() token {
	if ts.done() {
		return token{kind: operatorToken, text: "end of tag", line: ts.line}
	}
	return ts.tokens[ts.pos]
}

func (ts *tokenStream) peekIs(kind tokenKind, text string) bool {
	t := ts.peek()
	return !ts.done() && t.kind == kind && t.text == text
}

// accept consumes the operator op if it comes next.
func (ts *tokenStream) accept(op string) bool {
	if ts.peekIs(operatorToken, op) {
		ts.pos++
		return true
	}
	return false
}

// acceptName consumes the keyword name if it comes next.
func (ts *tokenStream) acceptName(name string) bool {
	if ts.peekIs(nameToken, name) {
		ts.pos++
		return true
	}
	return false
}

func (ts *tokenStream) expect(op string) error {
	if !ts.accept(op) {
		return ts.errorf("expected %q, found %q", op, ts.peek().text)
	}
	return nil
}

func (ts *tokenStream) expectName() (string, error) {
	t := ts.peek()
	if ts.done() || t.kind != nameToken {
		return "", ts.errorf("expected a name, found %q", t.text)
	}
	ts.pos++
	return t.text, nil
}

// parseFullExpression parses an expression that must fill the rest of the tag.
func (ts *tokenStream) parseFullExpression() (expr, error) {
	e, err := ts.parseExpression()
	if err != nil {
		return nil, err
	}
	if !ts.done() {
		return nil, ts.errorf("unexpected %q", ts.peek().text)
	}
	return e, nil
}

// Precedence, lowest first, as in Jinja: conditional expression, or, and,
// not, comparisons (in, ==, <, ...), + -, ~, * / // %, **, unary minus,
// then postfix (.attr, [index], call), filters and tests.

func (ts *tokenStream) parseExpression() (expr, error) {
	ts.depth++
	defer func() { ts.depth-- }()
	if ts.depth > maxNesting {
		return nil, ts.errorf("expression nests more than %d deep", maxNesting)
	}
	e, err := ts.parseOr()
	if err != nil {
		return nil, err
	}
	for ts.acceptName("if") {
		cond, err := ts.parseOr()
		if err != nil {
			return nil, err
		}
		c := condExpr{cond: cond, then: e}
		if ts.acceptName("else") {
			if c.otherwise, err = ts.parseOr(); err != nil {
				return nil, err
			}
		}
		e = c
	}
	return e, nil
}

func (ts *tokenStream) parseOr() (expr, error) {
	return ts.parseLeftAssoc(ts.parseAnd, nameToken, "or")
}

func (ts *tokenStream) parseAnd() (expr, error) {
	return ts.parseLeftAssoc(ts.parseNot, nameToken, "and")
}

func (ts *tokenStream) parseNot() (expr, error) {
	if ts.acceptName("not") {
		x, err := ts.parseNot()
		if err != nil {
			return nil, err
		}
		return unaryExpr{op: "not", x: x}, nil
	}
	return ts.parseCompare()
}

func (ts *tokenStream) parseCompare() (expr, error) {
	left, err := ts.parseMath1()
	if err != nil {
		return nil, err
	}
	for {
		var op string
		switch t := ts.peek(); {
		case ts.done():
			return left, nil
		case t.kind == operatorToken && slices.Contains([]string{"==", "!=", "<", "<=", ">", ">="}, t.text):
			op = t.text
			ts.pos++
		case ts.acceptName("in"):
			op = "in"
		case t.kind == nameToken && t.text == "not" && ts.pos+1 < len(ts.tokens) && ts.tokens[ts.pos+1].kind == nameToken && ts.tokens[ts.pos+1].text == "in":
			ts.pos += 2
			op = "not in"
		default:
			return left, nil
		}
		right, err := ts.parseMath1()
		if err != nil {
			return nil, err
		}
		left = binaryExpr{op: op, left: left, right: right}
	}
}

func (ts *tokenStream) parseMath1() (expr, error) {
	return ts.parseLeftAssoc(ts.parseConcat, operatorToken, "+", "-")
}

func (ts *tokenStream) parseConcat() (expr, error) {
	return ts.parseLeftAssoc(ts.parseMath2, operatorToken, "~")
}

func (ts *tokenStream) parseMath2() (expr, error) {
	return ts.parseLeftAssoc(ts.parsePow, operatorToken, "*", "/", "//", "%")
}

func (ts *tokenStream) parsePow() (expr, error) {
	return ts.parseLeftAssoc(ts.parseUnary, operatorToken, "**")
}

// parseLeftAssoc parses operands joined by any of ops, left to right.
func (ts *tokenStream) parseLeftAssoc(operand func() (expr, error), kind tokenKind, ops ...string) (expr, error) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for {
		t := ts.peek()
		if ts.done() || t.kind != kind || !slices.Contains(ops, t.text) {
			return left, nil
		}
		ts.pos++
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = binaryExpr{op: t.text, left: left, right: right}
	}
}

func (ts *tokenStream) parseUnary() (expr, error) {
	ts.depth++
	defer func() { ts.depth-- }()
	if ts.depth > maxNesting {
		return nil, ts.errorf("expression nests more than %d deep", maxNesting)
	}
	e, err := ts.parseSigned()
	if err != nil {
		return nil, err
	}
	return ts.parseFilters(e)
}

// parseSigned parses an operand with optional signs; as in Jinja, filters
// after it apply to the signed value ("-1|abs" is 1).
func (ts *tokenStream) parseSigned() (expr, error) {
	ts.depth++
	defer func() { ts.depth-- }()
	if ts.depth > maxNesting {
		return nil, ts.errorf("expression nests more than %d deep", maxNesting)
	}
	for _, op := range []string{"-", "+"} {
		if ts.accept(op) {
			x, err := ts.parseSigned()
			if err != nil {
				return nil, err
			}
			return unaryExpr{op: op, x: x}, nil
		}
	}
	e, err := ts.parsePrimary()
	if err != nil {
		return nil, err
	}
	return ts.parsePostfix(e)
}

func (ts *tokenStream) parsePrimary() (expr, error) {
	t := ts.peek()
	if ts.done() {
		return nil, ts.errorf("unexpected end of tag")
	}
	ts.pos++
	switch t.kind {
	case stringToken:
		s := t.text
		// Adjacent string literals are joined, as in Python.
		for !ts.done() && ts.peek().kind == stringToken {
			s += ts.peek().text
			ts.pos++
		}
		return literal{s}, nil
	case intToken:
		v, _ := strconv.ParseInt(t.text, 10, 64)
		return literal{int(v)}, nil
	case floatToken:
		v, _ := strconv.ParseFloat(t.text, 64)
		return literal{v}, nil
	case nameToken:
		switch t.text {
		case "true", "True":
			return literal{true}, nil
		case "false", "False":
			return literal{false}, nil
		case "none", "None":
			return literal{nil}, nil
		}
		return nameExpr(t.text), nil
	}
	switch t.text {
	case "(":
		if ts.accept(")") {
			return listExpr{}, nil
		}
		e, err := ts.parseExpression()
		if err != nil {
			return nil, err
		}
		if ts.peekIs(operatorToken, ",") {
			// A tuple: evaluated as a list.
			items := []expr{e}
			for ts.accept(",") && !ts.peekIs(operatorToken, ")") {
				item, err := ts.parseExpression()
				if err != nil {
					return nil, err
				}
				items = append(items, item)
			}
			e = listExpr(items)
		}
		return e, ts.expect(")")
	case "[":
		var items listExpr
		for !ts.accept("]") {
			if len(items) > 0 {
				if err := ts.expect(","); err != nil {
					return nil, err
				}
				if ts.accept("]") {
					break
				}
			}
			item, err := ts.parseExpression()
			if err != nil {
				return nil, err
			}
			items = append(items, item)
		}
		return items, nil
	case "{":
		var d dictExpr
		for !ts.accept("}") {
			if len(d.keys) > 0 {
				if err := ts.expect(","); err != nil {
					return nil, err
				}
				if ts.accept("}") {
					break
				}
			}
			k, err := ts.parseExpression()
			if err != nil {
				return nil, err
			}
			if err := ts.expect(":"); err != nil {
				return nil, err
			}
			v, err := ts.parseExpression()
			if err != nil {
				return nil, err
			}
			d.keys = append(d.keys, k)
			d.values = append(d.values, v)
		}
		return d, nil
	}
	return nil, ts.errorf("unexpected %q", t.text)
}

// parsePostfix parses attribute access, subscripts, slices and calls.
func (ts *tokenStream) parsePostfix(e expr) (expr, error) {
	for {
		switch {
		case ts.accept("."):
			t := ts.peek()
			if ts.done() || (t.kind != nameToken && t.kind != intToken) {
				return nil, ts.errorf("expected an attribute name after '.'")
			}
			ts.pos++
			if t.kind == intToken {
				v, _ := strconv.Atoi(t.text)
				e = indexExpr{x: e, index: literal{v}}
			} else {
				e = attrExpr{x: e, name: t.text}
			}
		case ts.accept("["):
			sub, err := ts.parseSubscript(e)
			if err != nil {
				return nil, err
			}
			e = sub
		case ts.accept("("):
			args, kwargs, err := ts.parseArgs()
			if err != nil {
				return nil, err
			}
			e = callExpr{fn: e, args: args, kwargs: kwargs}
		default:
			return e, nil
		}
	}
}

// parseSubscript parses x[i] or x[start:stop:step] after the '['.
func (ts *tokenStream) parseSubscript(x expr) (expr, error) {
	var parts [3]expr
	colons := 0
	for {
		if ts.accept("]") {
			break
		}
		if ts.accept(":") {
			colons++
			if colons > 2 {
				return nil, ts.errorf("too many ':' in slice")
			}
			continue
		}
		if parts[colons] != nil {
			return nil, ts.errorf("expected ']' or ':'")
		}
		e, err := ts.parseExpression()
		if err != nil {
			return nil, err
		}
		parts[colons] = e
	}
	if colons == 0 {
		if parts[0] == nil {
			return nil, ts.errorf("empty subscript")
		}
		return indexExpr{x: x, index: parts[0]}, nil
	}
	return sliceExpr{x: x, start: parts[0], stop: parts[1], step: parts[2]}, nil
}

// parseArgs parses call arguments after the '(' up to and including ')'.
func (ts *tokenStream) parseArgs() (args []expr, kwargs []keywordArg, err error) {
	for !ts.accept(")") {
		if len(args)+len(kwargs) > 0 {
			if err := ts.expect(","); err != nil {
				return nil, nil, err
			}
			if ts.accept(")") {
				break
			}
		}
		if ts.peek().kind == nameToken && ts.pos+1 < len(ts.tokens) && ts.tokens[ts.pos+1].kind == operatorToken && ts.tokens[ts.pos+1].text == "=" {
			name := ts.peek().text
			ts.pos += 2
			v, err := ts.parseExpression()
			if err != nil {
				return nil, nil, err
			}
			kwargs = append(kwargs, keywordArg{name, v})
			continue
		}
		if len(kwargs) > 0 {
			return nil, nil, ts.errorf("positional argument after keyword argument")
		}
		v, err := ts.parseExpression()
		if err != nil {
			return nil, nil, err
		}
		args = append(args, v)
	}
	return args, kwargs, nil
}

// parseFilters parses "| filter(args)" and "is [not] test args" suffixes.
func (ts *tokenStream) parseFilters(e expr) (expr, error) {
	for {
		switch {
		case ts.accept("|"):
			name, err := ts.expectName()
			if err != nil {
				return nil, err
			}
			f := filterExpr{x: e, name: name}
			if ts.accept("(") {
				if f.args, f.kwargs, err = ts.parseArgs(); err != nil {
					return nil, err
				}
			}
			if _, ok := filters[name]; !ok {
				return nil, ts.errorf("unsupported filter %q", name)
			}
			e = f
		case ts.acceptName("is"):
			t := testExpr{x: e, negate: ts.acceptName("not")}
			var err error
			if t.name, err = ts.expectName(); err != nil {
				return nil, err
			}
			if _, ok := tests[t.name]; !ok {
				return nil, ts.errorf("unsupported test %q", t.name)
			}
			if ts.accept("(") {
				if t.args, _, err = ts.parseArgs(); err != nil {
					return nil, err
				}
			} else if ts.startsTestArgument() {
				// "x is sameas false": one argument without parentheses.
				arg, err := ts.parsePrimary()
				if err != nil {
					return nil, err
				}
				if arg, err = ts.parsePostfix(arg); err != nil {
					return nil, err
				}
				t.args = []expr{arg}
			}
			e = t
		default:
			return e, nil
		}
	}
}

// startsTestArgument reports whether the next token can begin the single
// unparenthesized argument of a test.
func (ts *tokenStream) startsTestArgument() bool {
	t := ts.peek()
	switch {
	case ts.done():
		return false
	case t.kind == nameToken:
		return !slices.Contains([]string{"else", "or", "and", "if", "in", "is", "not"}, t.text)
	case t.kind == operatorToken:
		return t.text == "[" || t.text == "{"
	}
	return true
}
