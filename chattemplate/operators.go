package chattemplate

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// The operators follow Python's semantics: and/or return an operand, ==
// compares numbers across int and float, / is true division, // and %
// floor, + and * also join and repeat strings and lists.

type unaryExpr struct {
	op string
	x  expr
}

func (e unaryExpr) eval(r *renderer) (any, error) {
	v, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "not":
		return !truth(v), nil
	case "+":
		if _, ok := number(v); !ok {
			return nil, fmt.Errorf("bad operand for unary +: %s", typeName(v))
		}
		return v, nil
	}
	switch v := v.(type) {
	case int:
		return -v, nil
	case float64:
		return -v, nil
	case bool:
		if v {
			return -1, nil
		}
		return 0, nil
	}
	return nil, fmt.Errorf("bad operand for unary -: %s", typeName(v))
}

type binaryExpr struct {
	op          string
	left, right expr
}

func (e binaryExpr) eval(r *renderer) (any, error) {
	a, err := e.left.eval(r)
	if err != nil {
		return nil, err
	}
	// and/or short-circuit and return an operand, as in Python.
	switch e.op {
	case "and":
		if !truth(a) {
			return a, nil
		}
		return e.right.eval(r)
	case "or":
		if truth(a) {
			return a, nil
		}
		return e.right.eval(r)
	}
	b, err := e.right.eval(r)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "==", "!=":
		eq, err := equal(a, b)
		return eq == (e.op == "=="), err
	case "<", "<=", ">", ">=":
		c, err := compare(a, b)
		if err != nil {
			return nil, err
		}
		return map[string]bool{"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[e.op], nil
	case "in", "not in":
		found, err := contains(b, a)
		return found != (e.op == "not in"), err
	case "~":
		s := toString(a) + toString(b)
		if len(s) > maxOutput {
			return nil, fmt.Errorf("string exceeds %d bytes", maxOutput)
		}
		return s, nil
	}
	return arithmetic(e.op, a, b)
}

// arithmetic applies + - * / // % ** with Python's rules.
func arithmetic(op string, a, b any) (any, error) {
	if op == "+" || op == "*" {
		if out, ok, err := sequenceArithmetic(op, a, b); ok {
			return out, err
		}
	}
	x, okA := number(a)
	y, okB := number(b)
	if !okA || !okB {
		return nil, fmt.Errorf("unsupported operands for %s: %s and %s", op, typeName(a), typeName(b))
	}
	i, intA := integer(a)
	j, intB := integer(b)
	ints := intA && intB
	switch op {
	case "+":
		if ints {
			return i + j, nil
		}
		return x + y, nil
	case "-":
		if ints {
			return i - j, nil
		}
		return x - y, nil
	case "*":
		if ints {
			return i * j, nil
		}
		return x * y, nil
	case "/":
		if y == 0 {
			return nil, fmt.Errorf("division by zero")
		}
		return x / y, nil
	case "//", "%":
		if y == 0 {
			return nil, fmt.Errorf("division by zero")
		}
		if ints {
			q, m := i/j, i%j
			if m != 0 && (m < 0) != (j < 0) { // floor, as in Python
				q--
				m += j
			}
			if op == "//" {
				return q, nil
			}
			return m, nil
		}
		q := math.Floor(x / y)
		if op == "//" {
			return q, nil
		}
		return x - q*y, nil
	case "**":
		if ints && j >= 0 {
			return int(math.Pow(float64(i), float64(j))), nil
		}
		return math.Pow(x, y), nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

// sequenceArithmetic handles string and list + and *; ok is false when
// neither operand is a sequence.
func sequenceArithmetic(op string, a, b any) (out any, ok bool, err error) {
	if op == "+" {
		switch a := a.(type) {
		case string:
			s, isString := b.(string)
			if !isString {
				return nil, true, fmt.Errorf("cannot add %s to a string", typeName(b))
			}
			if len(a)+len(s) > maxOutput {
				return nil, true, fmt.Errorf("string exceeds %d bytes", maxOutput)
			}
			return a + s, true, nil
		case []any:
			l, isList := b.([]any)
			if !isList {
				return nil, true, fmt.Errorf("cannot add %s to a list", typeName(b))
			}
			if len(a)+len(l) > maxItems {
				return nil, true, fmt.Errorf("list exceeds %d items", maxItems)
			}
			return append(append([]any{}, a...), l...), true, nil
		}
		return nil, false, nil
	}
	seq, count := a, b
	if _, isInt := integer(a); isInt {
		seq, count = b, a
	}
	n, isInt := integer(count)
	if !isInt {
		return nil, false, nil
	}
	n = max(n, 0)
	switch s := seq.(type) {
	case string:
		if n > 0 && len(s) > maxOutput/n {
			return nil, true, fmt.Errorf("string exceeds %d bytes", maxOutput)
		}
		return strings.Repeat(s, n), true, nil
	case []any:
		if n > 0 && len(s) > maxItems/n {
			return nil, true, fmt.Errorf("list exceeds %d items", maxItems)
		}
		return slices.Repeat(s, n), true, nil
	}
	return nil, false, nil
}
