package chattemplate

import (
	"fmt"
)

// expr is an expression.
type expr interface {
	eval(r *renderer) (any, error)
}

type literal struct{ v any }

func (e literal) eval(*renderer) (any, error) { return e.v, nil }

type nameExpr string

func (e nameExpr) eval(r *renderer) (any, error) { return r.lookup(string(e)), nil }

type listExpr []expr

func (e listExpr) eval(r *renderer) (any, error) {
	list := make([]any, len(e))
	for i, x := range e {
		v, err := x.eval(r)
		if err != nil {
			return nil, err
		}
		list[i] = v
	}
	return list, nil
}

type dictExpr struct{ keys, values []expr }

func (e dictExpr) eval(r *renderer) (any, error) {
	d := NewDict()
	for i := range e.keys {
		k, err := e.keys[i].eval(r)
		if err != nil {
			return nil, err
		}
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("dict keys must be strings, not %s", typeName(k))
		}
		v, err := e.values[i].eval(r)
		if err != nil {
			return nil, err
		}
		d.Set(key, v)
	}
	return d, nil
}

type attrExpr struct {
	x    expr
	name string
}

func (e attrExpr) eval(r *renderer) (any, error) {
	v, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	if u, ok := v.(undefined); ok {
		return nil, fmt.Errorf("'%s' is undefined", u.name)
	}
	if m, ok := method(v, e.name); ok {
		return m, nil
	}
	return item(v, e.name), nil
}

type indexExpr struct{ x, index expr }

func (e indexExpr) eval(r *renderer) (any, error) {
	v, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	if u, ok := v.(undefined); ok {
		return nil, fmt.Errorf("'%s' is undefined", u.name)
	}
	k, err := e.index.eval(r)
	if err != nil {
		return nil, err
	}
	got := item(v, k)
	if _, missing := got.(undefined); missing {
		if name, ok := k.(string); ok {
			if m, ok := method(v, name); ok {
				return m, nil
			}
		}
	}
	return got, nil
}

// item is v[k], or undefined when there is no such item.
func item(v, k any) any {
	missing := undefined{toString(k)}
	switch v := v.(type) {
	case *Dict:
		if key, ok := k.(string); ok {
			if got, ok := v.values[key]; ok {
				return got
			}
		}
	case []any:
		if i, ok := integer(k); ok {
			if i < 0 {
				i += len(v)
			}
			if i >= 0 && i < len(v) {
				return v[i]
			}
		}
	case string:
		if i, ok := integer(k); ok {
			runes := []rune(v)
			if i < 0 {
				i += len(runes)
			}
			if i >= 0 && i < len(runes) {
				return string(runes[i])
			}
		}
	}
	return missing
}

type sliceExpr struct{ x, start, stop, step expr }

func (e sliceExpr) eval(r *renderer) (any, error) {
	v, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	var bounds [3]*int
	for i, x := range []expr{e.start, e.stop, e.step} {
		if x == nil {
			continue
		}
		b, err := x.eval(r)
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		n, ok := integer(b)
		if !ok {
			return nil, fmt.Errorf("slice bounds must be integers, not %s", typeName(b))
		}
		bounds[i] = &n
	}
	switch v := v.(type) {
	case []any:
		idx, err := sliceIndices(len(v), bounds)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(idx))
		for i, j := range idx {
			out[i] = v[j]
		}
		return out, nil
	case string:
		runes := []rune(v)
		idx, err := sliceIndices(len(runes), bounds)
		if err != nil {
			return nil, err
		}
		out := make([]rune, len(idx))
		for i, j := range idx {
			out[i] = runes[j]
		}
		return string(out), nil
	}
	return nil, fmt.Errorf("cannot slice %s", typeName(v))
}

// sliceIndices lists the indices Python's seq[start:stop:step] selects
// from a sequence of length n.
func sliceIndices(n int, bounds [3]*int) ([]int, error) {
	step := 1
	if bounds[2] != nil {
		step = *bounds[2]
	}
	if step == 0 {
		return nil, fmt.Errorf("slice step cannot be zero")
	}
	clampBound := func(b *int, def int) int {
		if b == nil {
			return def
		}
		i := *b
		if i < 0 {
			i += n
		}
		if step > 0 {
			return min(max(i, 0), n)
		}
		return min(max(i, -1), n-1)
	}
	var idx []int
	if step > 0 {
		for i := clampBound(bounds[0], 0); i < clampBound(bounds[1], n); i += step {
			idx = append(idx, i)
		}
	} else {
		for i := clampBound(bounds[0], n-1); i > clampBound(bounds[1], -1); i += step {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

type keywordArg struct {
	name  string
	value expr
}

// evalArgs evaluates call arguments.
func evalArgs(r *renderer, args []expr, kwargs []keywordArg) ([]any, map[string]any, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		v, err := a.eval(r)
		if err != nil {
			return nil, nil, err
		}
		vals[i] = v
	}
	kw := map[string]any{}
	for _, a := range kwargs {
		v, err := a.value.eval(r)
		if err != nil {
			return nil, nil, err
		}
		kw[a.name] = v
	}
	return vals, kw, nil
}

type callExpr struct {
	fn     expr
	args   []expr
	kwargs []keywordArg
}

func (e callExpr) eval(r *renderer) (any, error) {
	fv, err := e.fn.eval(r)
	if err != nil {
		return nil, err
	}
	f, ok := fv.(function)
	if !ok {
		if u, isUndefined := fv.(undefined); isUndefined {
			return nil, fmt.Errorf("'%s' is undefined", u.name)
		}
		return nil, fmt.Errorf("%s is not callable", typeName(fv))
	}
	args, kwargs, err := evalArgs(r, e.args, e.kwargs)
	if err != nil {
		return nil, err
	}
	return f(args, kwargs)
}

type filterExpr struct {
	x      expr
	name   string
	args   []expr
	kwargs []keywordArg
}

func (e filterExpr) eval(r *renderer) (any, error) {
	v, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	args, kwargs, err := evalArgs(r, e.args, e.kwargs)
	if err != nil {
		return nil, err
	}
	out, err := filters[e.name](v, args, kwargs)
	if err != nil {
		return nil, fmt.Errorf("filter %s: %w", e.name, err)
	}
	return out, nil
}

type testExpr struct {
	x      expr
	name   string
	args   []expr
	negate bool
}

func (e testExpr) eval(r *renderer) (any, error) {
	v, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	args, _, err := evalArgs(r, e.args, nil)
	if err != nil {
		return nil, err
	}
	ok, err := tests[e.name](v, args)
	if err != nil {
		return nil, fmt.Errorf("test %s: %w", e.name, err)
	}
	return ok != e.negate, nil
}

type condExpr struct{ cond, then, otherwise expr }

func (e condExpr) eval(r *renderer) (any, error) {
	c, err := e.cond.eval(r)
	if err != nil {
		return nil, err
	}
	if truth(c) {
		return e.then.eval(r)
	}
	if e.otherwise == nil {
		return undefined{"else"}, nil
	}
	return e.otherwise.eval(r)
}
