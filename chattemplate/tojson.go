package chattemplate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// filterToJSON is Hugging Face's tojson: json.dumps(v, ensure_ascii=False,
// indent=indent) — Python's separators (", " and ": "), keys in order, no
// HTML escaping.
func filterToJSON(v any, args []any, kwargs map[string]any) (any, error) {
	indentArg, ok := kwargs["indent"]
	if len(args) > 0 {
		indentArg, ok = args[0], true
	}
	indent := -1
	if ok && indentArg != nil {
		n, isInt := integer(indentArg)
		if !isInt || n < 0 || n > 64 {
			return nil, fmt.Errorf("indent must be a small non-negative integer")
		}
		indent = n
	}
	var b strings.Builder
	if err := writeJSON(&b, v, indent, 0); err != nil {
		return nil, err
	}
	return b.String(), nil
}

func writeJSON(b *strings.Builder, v any, indent, level int) error {
	if b.Len() > maxOutput {
		return fmt.Errorf("output exceeds %d bytes", maxOutput)
	}
	if level > maxNesting {
		return fmt.Errorf("value nests more than %d deep", maxNesting)
	}
	newline := func(level int) {
		if indent >= 0 {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", indent*level))
		}
	}
	itemSep := ", "
	if indent >= 0 {
		itemSep = ","
	}
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		switch {
		case math.IsNaN(v):
			b.WriteString("NaN")
		case math.IsInf(v, 1):
			b.WriteString("Infinity")
		case math.IsInf(v, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(formatFloat(v))
		}
	case string:
		writeJSONString(b, v)
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, it := range v {
			if i > 0 {
				b.WriteString(itemSep)
			}
			newline(level + 1)
			if err := writeJSON(b, it, indent, level+1); err != nil {
				return err
			}
		}
		newline(level)
		b.WriteByte(']')
	case *Dict:
		if len(v.keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteString(itemSep)
			}
			newline(level + 1)
			writeJSONString(b, k)
			b.WriteString(": ")
			if err := writeJSON(b, v.values[k], indent, level+1); err != nil {
				return err
			}
		}
		newline(level)
		b.WriteByte('}')
	default:
		return fmt.Errorf("%s is not JSON serializable", typeName(v))
	}
	return nil
}

// writeJSONString quotes s as Python's json.dumps(ensure_ascii=False) does.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
