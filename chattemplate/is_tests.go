package chattemplate

import (
	"fmt"
	"math"
	"strings"
)

// Jinja tests: "x is name" and "x is name(args)".

// parity is the even (0) or odd (1) test: value % 2 == want, so numbers only.
func parity(want int) testFunc {
	return func(v any, _ []any) (bool, error) {
		if n, ok := integer(v); ok {
			return n%2 == want || n%2 == -want, nil
		}
		if f, ok := v.(float64); ok {
			return math.Mod(f, 2) == float64(want), nil
		}
		return false, fmt.Errorf("%s is not a number", typeName(v))
	}
}

// testFunc is a Jinja test ("x is defined").
type testFunc func(v any, args []any) (bool, error)

var tests map[string]testFunc

func init() {
	isType := func(f func(any) bool) testFunc {
		return func(v any, _ []any) (bool, error) { return f(v), nil }
	}
	eq := func(v any, args []any) (bool, error) {
		if len(args) != 1 {
			return false, fmt.Errorf("needs one argument")
		}
		return equal(v, args[0])
	}
	tests = map[string]testFunc{
		"defined":   isType(func(v any) bool { _, u := v.(undefined); return !u }),
		"undefined": isType(func(v any) bool { _, u := v.(undefined); return u }),
		"none":      isType(func(v any) bool { return v == nil }),
		"string":    isType(func(v any) bool { _, ok := v.(string); return ok }),
		"mapping":   isType(func(v any) bool { _, ok := v.(*Dict); return ok }),
		"boolean":   isType(func(v any) bool { _, ok := v.(bool); return ok }),
		"integer":   isType(func(v any) bool { _, ok := v.(int); return ok }),
		"float":     isType(func(v any) bool { _, ok := v.(float64); return ok }),
		"number":    isType(func(v any) bool { _, ok := number(v); return ok }),
		"true":      isType(func(v any) bool { return v == true }),
		"false":     isType(func(v any) bool { return v == false }),
		"callable":  isType(func(v any) bool { _, ok := v.(function); return ok }),
		"sequence": isType(func(v any) bool {
			switch v.(type) {
			case string, []any, *Dict, undefined:
				return true
			}
			return false
		}),
		"iterable": isType(func(v any) bool {
			switch v.(type) {
			case string, []any, *Dict, undefined:
				return true
			}
			return false
		}),
		"lower": isType(func(v any) bool { s, ok := v.(string); return ok && strings.ToLower(s) == s }),
		"upper": isType(func(v any) bool { s, ok := v.(string); return ok && strings.ToUpper(s) == s }),
		"even":  parity(0),
		"odd":   parity(1),
		"divisibleby": func(v any, args []any) (bool, error) {
			n, ok1 := integer(v)
			if len(args) != 1 {
				return false, fmt.Errorf("needs one argument")
			}
			d, ok2 := integer(args[0])
			if !ok1 || !ok2 || d == 0 {
				return false, fmt.Errorf("needs non-zero integers")
			}
			return n%d == 0, nil
		},
		"equalto": eq,
		"eq":      eq,
		"==":      eq,
		"ne": func(v any, args []any) (bool, error) {
			ok, err := eq(v, args)
			return !ok, err
		},
		"sameas": func(v any, args []any) (bool, error) {
			if len(args) != 1 {
				return false, fmt.Errorf("needs one argument")
			}
			// Python's "is": identity, which for the singletons None, True
			// and False is equality of kind and value.
			switch v.(type) {
			case nil, bool:
				return v == args[0], nil
			}
			return false, nil
		},
		"in": func(v any, args []any) (bool, error) {
			if len(args) != 1 {
				return false, fmt.Errorf("needs one argument")
			}
			return contains(args[0], v)
		},
	}
}
