package chattemplate

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// filterFunc applies a filter to v.
type filterFunc func(v any, args []any, kwargs map[string]any) (any, error)

// filters are the Jinja filters chat templates use. The parser rejects any
// other name, so an unsupported template fails when it is loaded.
var filters map[string]filterFunc

func init() {
	filters = map[string]filterFunc{
		"trim":       filterTrim,
		"length":     filterLength,
		"count":      filterLength,
		"upper":      stringFilter(strings.ToUpper),
		"lower":      stringFilter(strings.ToLower),
		"title":      stringFilter(titleWords),
		"capitalize": stringFilter(capitalize),
		"string":     func(v any, _ []any, _ map[string]any) (any, error) { return toString(v), nil },
		"safe":       func(v any, _ []any, _ map[string]any) (any, error) { return v, nil },
		"tojson":     filterToJSON,
		"items":      filterItems,
		"join":       filterJoin,
		"first":      filterFirst,
		"last":       filterLast,
		"default":    filterDefault,
		"d":          filterDefault,
		"list":       func(v any, _ []any, _ map[string]any) (any, error) { return iterate(v) },
		"reverse":    filterReverse,
		"replace":    filterReplace,
		"int":        filterInt,
		"float":      filterFloat,
		"abs":        filterAbs,
		"selectattr": selectAttr(true),
		"rejectattr": selectAttr(false),
		"map":        filterMap,
		"unique":     filterUnique,
	}
}

// titleWords is Jinja's title filter: words are split at whitespace and
// -({[<, and each gets its first character upper-cased and the rest
// lower-cased (unlike Python's str.title, "'word" keeps its lower w).
func titleWords(s string) string {
	var b strings.Builder
	wordStart := true
	for _, r := range s {
		if unicode.IsSpace(r) || strings.ContainsRune("-({[<", r) {
			b.WriteRune(r)
			wordStart = true
			continue
		}
		if wordStart {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		wordStart = false
	}
	return b.String()
}

func stringFilter(f func(string) string) filterFunc {
	return func(v any, _ []any, _ map[string]any) (any, error) { return f(toString(v)), nil }
}

func filterTrim(v any, args []any, _ map[string]any) (any, error) {
	chars := whitespace
	if len(args) > 0 && args[0] != nil {
		c, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("characters must be a string")
		}
		chars = c
	}
	return strings.Trim(toString(v), chars), nil
}

func filterLength(v any, _ []any, _ map[string]any) (any, error) { return length(v) }

func filterItems(v any, _ []any, _ map[string]any) (any, error) {
	switch d := v.(type) {
	case *Dict:
		items, _ := dictMethod(d, "items")
		return items(nil, nil)
	case undefined:
		return []any{}, nil
	}
	return nil, fmt.Errorf("items needs a dict, not %s", typeName(v))
}

func filterJoin(v any, args []any, kwargs map[string]any) (any, error) {
	sep := ""
	if len(args) > 0 {
		sep = toString(args[0])
	}
	attr, _ := kwargs["attribute"].(string)
	if len(args) > 1 {
		attr = toString(args[1])
	}
	return join(v, sep, attr)
}

// join concatenates the items of v (or their attribute attr) with sep.
func join(v any, sep, attr string) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(items))
	total := 0
	for i, it := range items {
		if attr != "" {
			it = item(it, attr)
		}
		parts[i] = toString(it)
		total += len(parts[i]) + len(sep)
		if total > maxOutput {
			return nil, fmt.Errorf("string exceeds %d bytes", maxOutput)
		}
	}
	return strings.Join(parts, sep), nil
}

func filterFirst(v any, _ []any, _ map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil || len(items) == 0 {
		return undefined{"first"}, err
	}
	return items[0], nil
}

func filterLast(v any, _ []any, _ map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil || len(items) == 0 {
		return undefined{"last"}, err
	}
	return items[len(items)-1], nil
}

// filterDefault is default(value, boolean=false): value when v is undefined
// (or, with boolean, false).
func filterDefault(v any, args []any, kwargs map[string]any) (any, error) {
	var def any = ""
	if len(args) > 0 {
		def = args[0]
	}
	boolean := len(args) > 1 && truth(args[1]) || truth(kwargs["boolean"])
	if _, isUndefined := v.(undefined); isUndefined || boolean && !truth(v) {
		return def, nil
	}
	return v, nil
}

func filterReverse(v any, _ []any, _ map[string]any) (any, error) {
	if s, ok := v.(string); ok {
		runes := []rune(s)
		slices.Reverse(runes)
		return string(runes), nil
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(items)
	slices.Reverse(out)
	return out, nil
}

func filterReplace(v any, args []any, _ map[string]any) (any, error) {
	if len(args) > 0 {
		args[0] = toString(args[0])
	}
	if len(args) > 1 {
		args[1] = toString(args[1])
	}
	return replace(toString(v), args)
}

func filterInt(v any, args []any, _ map[string]any) (any, error) {
	def := 0
	if len(args) > 0 {
		def, _ = integer(args[0])
	}
	switch v := v.(type) {
	case bool, int:
		n, _ := integer(v)
		return n, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return def, nil
		}
		return int(v), nil
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return int(f), nil
		}
	}
	return def, nil
}

func filterFloat(v any, args []any, _ map[string]any) (any, error) {
	def := 0.0
	if len(args) > 0 {
		def, _ = number(args[0])
	}
	if f, ok := number(v); ok {
		return f, nil
	}
	if s, ok := v.(string); ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f, nil
		}
	}
	return def, nil
}

func filterAbs(v any, _ []any, _ map[string]any) (any, error) {
	switch n := v.(type) {
	case int:
		if n < 0 {
			return -n, nil
		}
		return n, nil
	case float64:
		return math.Abs(n), nil
	case bool:
		n2, _ := integer(n)
		return n2, nil
	}
	return nil, fmt.Errorf("bad operand for abs: %s", typeName(v))
}

func filterUnique(v any, _ []any, _ map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var out []any
	budget := maxComparisons
	for _, it := range items {
		seen := false
		for _, o := range out {
			eq, err := equalWithin(o, it, &budget, 0)
			if err != nil {
				return nil, err
			}
			if seen = eq; seen {
				break
			}
		}
		if !seen {
			out = append(out, it)
		}
	}
	return out, nil
}

// selectAttr is selectattr(attr[, test, args...]) (keep) or rejectattr.
func selectAttr(keep bool) filterFunc {
	return func(v any, args []any, _ map[string]any) (any, error) {
		if len(args) == 0 {
			return nil, fmt.Errorf("needs an attribute name")
		}
		attr := toString(args[0])
		test := func(x any, _ []any) (bool, error) { return truth(x), nil }
		var testArgs []any
		if len(args) > 1 {
			name := toString(args[1])
			var ok bool
			if test, ok = tests[name]; !ok {
				return nil, fmt.Errorf("unsupported test %q", name)
			}
			testArgs = args[2:]
		}
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, it := range items {
			ok, err := test(item(it, attr), testArgs)
			if err != nil {
				return nil, err
			}
			if ok == keep {
				out = append(out, it)
			}
		}
		return out, nil
	}
}

// filterMap supports map(attribute=name) and map(filter_name, args...).
func filterMap(v any, args []any, kwargs map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	if attr, ok := kwargs["attribute"].(string); ok {
		def, hasDefault := kwargs["default"]
		for i, it := range items {
			out[i] = item(it, attr)
			if _, missing := out[i].(undefined); missing && hasDefault {
				out[i] = def
			}
		}
		return out, nil
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("needs a filter name or attribute=")
	}
	name := toString(args[0])
	f, ok := filters[name]
	if !ok || name == "map" {
		return nil, fmt.Errorf("unsupported filter %q", name)
	}
	for i, it := range items {
		if out[i], err = f(it, args[1:], nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
