package chattemplate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TemplateError is raised by the template itself through raise_exception,
// typically because the conversation breaks the model's rules (roles that do
// not alternate, a system message where none is allowed).
type TemplateError struct{ Message string }

func (e *TemplateError) Error() string { return e.Message }

// globals are the functions Hugging Face makes available to chat templates,
// plus Jinja's namespace, range and dict.
func globals(now func() time.Time) map[string]any {
	return map[string]any{
		"raise_exception": function(func(args []any, _ map[string]any) (any, error) {
			msg := "the chat template raised an exception"
			if len(args) > 0 {
				msg = toString(args[0])
			}
			return nil, &TemplateError{msg}
		}),
		"namespace": function(func(args []any, kwargs map[string]any) (any, error) {
			ns := NewDict()
			ns.namespace = true
			if len(args) > 0 {
				d, ok := args[0].(*Dict)
				if !ok {
					return nil, errors.New("namespace takes a dict or keyword arguments")
				}
				for _, k := range d.keys {
					ns.Set(k, d.values[k])
				}
			}
			setSorted(ns, kwargs)
			return ns, nil
		}),
		"dict": function(func(_ []any, kwargs map[string]any) (any, error) {
			d := NewDict()
			setSorted(d, kwargs)
			return d, nil
		}),
		"range": function(rangeFunc),
		"strftime_now": function(func(args []any, _ map[string]any) (any, error) {
			format, ok := firstString(args)
			if !ok {
				return nil, errors.New("strftime_now needs a format string")
			}
			return strftime(now(), format)
		}),
	}
}

// setSorted copies keyword arguments into d in name order (Go maps have
// none; Python keeps the call's order).
func setSorted(d *Dict, kwargs map[string]any) {
	names := make([]string, 0, len(kwargs))
	for k := range kwargs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		d.Set(k, kwargs[k])
	}
}

func rangeFunc(args []any, _ map[string]any) (any, error) {
	var bounds [3]int
	bounds[2] = 1
	for i, a := range args {
		n, ok := integer(a)
		if !ok || len(args) > 3 {
			return nil, errors.New("range takes one to three integers")
		}
		bounds[i] = n
	}
	start, stop, step := 0, bounds[0], 1
	switch len(args) {
	case 0:
		return nil, errors.New("range takes one to three integers")
	case 2, 3:
		start, stop, step = bounds[0], bounds[1], bounds[2]
	}
	if step == 0 {
		return nil, errors.New("range step cannot be zero")
	}
	var out []any
	for i := start; step > 0 && i < stop || step < 0 && i > stop; i += step {
		if len(out) == maxRange {
			return nil, fmt.Errorf("range longer than %d", maxRange)
		}
		out = append(out, i)
	}
	return out, nil
}

// strftime formats t with the C strftime directives templates use.
func strftime(t time.Time, format string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch format[i] {
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'Y':
			fmt.Fprintf(&b, "%d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'b':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("strftime_now: unsupported directive %%%c", format[i])
		}
	}
	return b.String(), nil
}
