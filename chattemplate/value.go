package chattemplate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Values are Go values standing for Python ones: nil (None), bool, int,
// float64, string, []any (list), *Dict, undefined and function.

// undefined is a name or key that does not exist. It prints as nothing, is
// false and iterates as empty; any other use is an error, as with Jinja's
// default Undefined.
type undefined struct{ name string }

// function is a callable: a global such as raise_exception, or a bound
// method such as message.get.
type function func(args []any, kwargs map[string]any) (any, error)

// Dict is an ordered mapping from strings to values (a Python dict, whose
// order Jinja keeps).
type Dict struct {
	keys   []string
	values map[string]any
	// namespace marks namespace() objects, whose attributes may be set.
	namespace bool
}

// NewDict returns a Dict holding the pairs key0, value0, key1, value1, ...
func NewDict(pairs ...any) *Dict {
	d := &Dict{values: map[string]any{}}
	for i := 0; i+1 < len(pairs); i += 2 {
		d.Set(pairs[i].(string), pairs[i+1])
	}
	return d
}

// Set adds or replaces key.
func (d *Dict) Set(key string, v any) {
	if _, ok := d.values[key]; !ok {
		d.keys = append(d.keys, key)
	}
	d.values[key] = v
}

// Get returns the value of key.
func (d *Dict) Get(key string) (any, bool) {
	v, ok := d.values[key]
	return v, ok
}

// truth is Python's bool().
func truth(v any) bool {
	switch v := v.(type) {
	case nil, undefined:
		return false
	case bool:
		return v
	case int:
		return v != 0
	case float64:
		return v != 0
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case *Dict:
		return len(v.keys) > 0
	}
	return true
}

// typeName names v's type in error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "none"
	case undefined:
		return "undefined"
	case bool:
		return "boolean"
	case int:
		return "integer"
	case float64:
		return "float"
	case string:
		return "string"
	case []any:
		return "list"
	case *Dict:
		return "dict"
	case function:
		return "function"
	}
	return fmt.Sprintf("%T", v)
}

// toString is Python's str(); undefined prints as "".
func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case undefined:
		return ""
	}
	var b strings.Builder
	writeRepr(&b, v, 0)
	return b.String()
}

// writeRepr writes Python's repr() of v. Past maxNesting it writes "..." for
// a list or dict, as Python does for one that holds itself, and it stops
// once b passes maxOutput: the caller's own bound then reports the error.
func writeRepr(b *strings.Builder, v any, depth int) {
	switch v := v.(type) {
	case nil:
		b.WriteString("None")
	case undefined:
	case bool:
		if v {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		b.WriteString(formatFloat(v))
	case string:
		writeStringRepr(b, v)
	case []any:
		b.WriteByte('[')
		for i, item := range v {
			if depth == maxNesting || b.Len() > maxOutput {
				b.WriteString("...")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, item, depth+1)
		}
		b.WriteByte(']')
	case *Dict:
		b.WriteByte('{')
		for i, k := range v.keys {
			if depth == maxNesting || b.Len() > maxOutput {
				b.WriteString("...")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			writeStringRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, v.values[k], depth+1)
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "<%s>", typeName(v))
	}
}

// writeStringRepr quotes s as Python's repr does: single quotes unless s
// holds a single quote and no double quote.
func writeStringRepr(b *strings.Builder, s string) {
	quote := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		quote = '"'
	}
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(quote)
}

// formatFloat is Python's repr of a float.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if a := math.Abs(f); a == 0 || a >= 1e-4 && a < 1e16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}

// number returns v as a float64 and whether it is a number (bools count, as
// in Python).
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case int:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// integer returns v as an int when it is an int or a bool.
func integer(v any) (int, bool) {
	switch v := v.(type) {
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case int:
		return v, true
	}
	return 0, false
}

// equal is Python's ==.
func equal(a, b any) (bool, error) {
	budget := maxComparisons
	return equalWithin(a, b, &budget, 0)
}

// equalWithin is equal spending one of *budget on each pair of values it
// visits. As Python does, it takes a list or dict to equal itself without
// looking inside, which also ends the walk of a namespace holding itself.
func equalWithin(a, b any, budget *int, depth int) (bool, error) {
	if *budget--; *budget < 0 {
		return false, errTooManyComparisons
	}
	if depth > maxNesting {
		return false, fmt.Errorf("value nests more than %d deep", maxNesting)
	}
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y, nil
	}
	switch a := a.(type) {
	case nil:
		return b == nil, nil
	case undefined:
		_, ok := b.(undefined)
		return ok, nil
	case string:
		s, ok := b.(string)
		return ok && a == s, nil
	case []any:
		l, ok := b.([]any)
		if !ok || len(a) != len(l) {
			return false, nil
		}
		if len(a) == 0 || &a[0] == &l[0] {
			return true, nil
		}
		for i := range a {
			if eq, err := equalWithin(a[i], l[i], budget, depth+1); !eq || err != nil {
				return false, err
			}
		}
		return true, nil
	case *Dict:
		d, ok := b.(*Dict)
		if !ok || len(a.keys) != len(d.keys) {
			return false, nil
		}
		if a == d {
			return true, nil
		}
		for k, v := range a.values {
			w, ok := d.values[k]
			if !ok {
				return false, nil
			}
			if eq, err := equalWithin(v, w, budget, depth+1); !eq || err != nil {
				return false, err
			}
		}
		return true, nil
	}
	return false, nil
}

// compare orders two numbers or two strings.
func compare(a, b any) (int, error) {
	if x, ok := number(a); ok {
		if y, ok := number(b); ok {
			switch {
			case x < y:
				return -1, nil
			case x > y:
				return 1, nil
			}
			return 0, nil
		}
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	}
	return 0, fmt.Errorf("cannot compare %s with %s", typeName(a), typeName(b))
}

// iterate returns the items a for loop visits: a list's items, a dict's
// keys, a string's characters; nothing for undefined.
func iterate(v any) ([]any, error) {
	switch v := v.(type) {
	case undefined:
		return nil, nil
	case []any:
		return v, nil
	case *Dict:
		keys := make([]any, len(v.keys))
		for i, k := range v.keys {
			keys[i] = k
		}
		return keys, nil
	case string:
		if utf8.RuneCountInString(v) > maxItems {
			return nil, fmt.Errorf("string of more than %d characters to iterate", maxItems)
		}
		var chars []any
		for _, r := range v {
			chars = append(chars, string(r))
		}
		return chars, nil
	}
	return nil, fmt.Errorf("%s is not iterable", typeName(v))
}

// length is Python's len().
func length(v any) (int, error) {
	switch v := v.(type) {
	case string:
		return len([]rune(v)), nil
	case []any:
		return len(v), nil
	case *Dict:
		return len(v.keys), nil
	case undefined:
		return 0, nil
	}
	return 0, fmt.Errorf("%s has no length", typeName(v))
}

// contains is Python's "item in container".
func contains(container, item any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := item.(string)
		if !ok {
			return false, fmt.Errorf("'in <string>' needs a string, not %s", typeName(item))
		}
		return strings.Contains(c, s), nil
	case []any:
		budget := maxComparisons
		for _, v := range c {
			if eq, err := equalWithin(v, item, &budget, 0); eq || err != nil {
				return eq, err
			}
		}
		return false, nil
	case *Dict:
		s, ok := item.(string)
		if !ok {
			return false, nil
		}
		_, found := c.values[s]
		return found, nil
	case undefined:
		return false, nil
	}
	return false, fmt.Errorf("'in' needs a string, list or dict, not %s", typeName(container))
}
