package chattemplate

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// method returns the Python method name of v bound to v, for the methods
// chat templates call on strings and dicts.
func method(v any, name string) (function, bool) {
	switch v := v.(type) {
	case string:
		return stringMethod(v, name)
	case *Dict:
		return dictMethod(v, name)
	}
	return nil, false
}

func dictMethod(d *Dict, name string) (function, bool) {
	switch name {
	case "get":
		return func(args []any, _ map[string]any) (any, error) {
			if len(args) < 1 || len(args) > 2 {
				return nil, fmt.Errorf("get takes 1 or 2 arguments")
			}
			if key, ok := args[0].(string); ok {
				if v, ok := d.values[key]; ok {
					return v, nil
				}
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return nil, nil
		}, true
	case "items":
		return func([]any, map[string]any) (any, error) {
			items := make([]any, len(d.keys))
			for i, k := range d.keys {
				items[i] = []any{k, d.values[k]}
			}
			return items, nil
		}, true
	case "keys":
		return func([]any, map[string]any) (any, error) { return iterate(d) }, true
	case "values":
		return func([]any, map[string]any) (any, error) {
			values := make([]any, len(d.keys))
			for i, k := range d.keys {
				values[i] = d.values[k]
			}
			return values, nil
		}, true
	}
	return nil, false
}

func stringMethod(s, name string) (function, bool) {
	// strip-like methods take optional characters to remove.
	strip := func(trim func(string, string) string) function {
		return func(args []any, _ map[string]any) (any, error) {
			chars := whitespace
			if len(args) > 0 && args[0] != nil {
				c, ok := args[0].(string)
				if !ok {
					return nil, fmt.Errorf("%s: characters must be a string", name)
				}
				chars = c
			}
			return trim(s, chars), nil
		}
	}
	affix := func(has func(string, string) bool) function {
		return func(args []any, _ map[string]any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%s takes one argument", name)
			}
			// A tuple of candidates matches if any does.
			candidates, isList := args[0].([]any)
			if !isList {
				candidates = []any{args[0]}
			}
			for _, c := range candidates {
				cs, ok := c.(string)
				if !ok {
					return nil, fmt.Errorf("%s needs strings", name)
				}
				if has(s, cs) {
					return true, nil
				}
			}
			return false, nil
		}
	}
	switch name {
	case "strip":
		return strip(strings.Trim), true
	case "lstrip":
		return strip(strings.TrimLeft), true
	case "rstrip":
		return strip(strings.TrimRight), true
	case "startswith":
		return affix(strings.HasPrefix), true
	case "endswith":
		return affix(strings.HasSuffix), true
	case "upper":
		return func([]any, map[string]any) (any, error) { return strings.ToUpper(s), nil }, true
	case "lower":
		return func([]any, map[string]any) (any, error) { return strings.ToLower(s), nil }, true
	case "title":
		return func([]any, map[string]any) (any, error) { return title(s), nil }, true
	case "capitalize":
		return func([]any, map[string]any) (any, error) { return capitalize(s), nil }, true
	case "split":
		return func(args []any, _ map[string]any) (any, error) {
			var parts []string
			if len(args) == 0 || args[0] == nil {
				parts = strings.Fields(s)
			} else if sep, ok := args[0].(string); ok && sep != "" {
				parts = strings.Split(s, sep)
			} else {
				return nil, fmt.Errorf("split: bad separator")
			}
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, nil
		}, true
	case "replace":
		return func(args []any, _ map[string]any) (any, error) { return replace(s, args) }, true
	case "join":
		return func(args []any, _ map[string]any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("join takes one argument")
			}
			return join(args[0], s, "")
		}, true
	case "count", "find":
		return func(args []any, _ map[string]any) (any, error) {
			sub, ok := firstString(args)
			if !ok {
				return nil, fmt.Errorf("%s needs a string argument", name)
			}
			if name == "count" {
				return strings.Count(s, sub), nil
			}
			i := strings.Index(s, sub)
			if i < 0 {
				return -1, nil
			}
			return len([]rune(s[:i])), nil
		}, true
	}
	return nil, false
}

func firstString(args []any) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	s, ok := args[0].(string)
	return s, ok
}

// replace is str.replace(old, new[, count]).
func replace(s string, args []any) (any, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("replace needs old and new strings")
	}
	from, ok1 := args[0].(string)
	to, ok2 := args[1].(string)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("replace needs strings")
	}
	n := -1
	if len(args) > 2 {
		c, ok := integer(args[2])
		if !ok {
			return nil, fmt.Errorf("replace count must be an integer")
		}
		n = c
	}
	if from == "" && len(s)+1 > 0 && len(to) > maxOutput/(len(s)+1) {
		return nil, fmt.Errorf("string exceeds %d bytes", maxOutput)
	}
	if from != "" && len(to) > len(from) && strings.Count(s, from) > maxOutput/(len(to)-len(from)+1) {
		return nil, fmt.Errorf("string exceeds %d bytes", maxOutput)
	}
	return strings.Replace(s, from, to, n), nil
}

// title upper-cases the first letter of each word and lower-cases the rest.
func title(s string) string {
	var b strings.Builder
	prevLetter := false
	for _, r := range s {
		isLetter := strings.ToUpper(string(r)) != strings.ToLower(string(r))
		if isLetter && !prevLetter {
			b.WriteString(strings.ToUpper(string(r)))
		} else {
			b.WriteString(strings.ToLower(string(r)))
		}
		prevLetter = isLetter
	}
	return b.String()
}

// capitalize upper-cases the first character and lower-cases the rest.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	_, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(s[:n]) + strings.ToLower(s[n:])
}
