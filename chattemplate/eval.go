package chattemplate

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// maxOutput bounds the rendered text and any string or list a template
// builds, so that a template cannot exhaust memory.
const maxOutput = 16 << 20

// renderer holds the state of one rendering.
type renderer struct {
	out    strings.Builder
	scopes []map[string]any // innermost last
}

var (
	errBreak    = errors.New("break outside a loop")
	errContinue = errors.New("continue outside a loop")
)

// lookup finds a variable, innermost scope first.
func (r *renderer) lookup(name string) any {
	for i := len(r.scopes) - 1; i >= 0; i-- {
		if v, ok := r.scopes[i][name]; ok {
			return v
		}
	}
	return undefined{name}
}

func (r *renderer) write(s string) error {
	if r.out.Len()+len(s) > maxOutput {
		return fmt.Errorf("output exceeds %d bytes", maxOutput)
	}
	r.out.WriteString(s)
	return nil
}

func (r *renderer) renderAll(nodes []node) error {
	for _, n := range nodes {
		if err := n.render(r); err != nil {
			return err
		}
	}
	return nil
}

// node is a statement of the template.
type node interface {
	render(r *renderer) error
}

type textNode string

func (n textNode) render(r *renderer) error { return r.write(string(n)) }

type outputNode struct{ x expr }

func (n outputNode) render(r *renderer) error {
	v, err := n.x.eval(r)
	if err != nil {
		return err
	}
	return r.write(toString(v))
}

type ifNode struct {
	conds    []expr
	bodies   [][]node
	elseBody []node
}

func (n ifNode) render(r *renderer) error {
	for i, c := range n.conds {
		v, err := c.eval(r)
		if err != nil {
			return err
		}
		if truth(v) {
			return r.renderAll(n.bodies[i])
		}
	}
	return r.renderAll(n.elseBody)
}

type forNode struct {
	targets        []string
	iter, filter   expr // filter is nil without "if"
	body, elseBody []node
}

func (n forNode) render(r *renderer) error {
	v, err := n.iter.eval(r)
	if err != nil {
		return err
	}
	items, err := iterate(v)
	if err != nil {
		return err
	}
	if n.filter != nil {
		var kept []any
		for _, item := range items {
			r.scopes = append(r.scopes, map[string]any{})
			err := n.bind(r, item)
			var ok any
			if err == nil {
				ok, err = n.filter.eval(r)
			}
			r.scopes = r.scopes[:len(r.scopes)-1]
			if err != nil {
				return err
			}
			if truth(ok) {
				kept = append(kept, item)
			}
		}
		items = kept
	}
	if len(items) == 0 {
		return r.renderAll(n.elseBody)
	}
	for i, item := range items {
		// Each iteration gets a fresh scope: a set inside the loop is not
		// seen by the next iteration or after the loop (Jinja's scoping).
		r.scopes = append(r.scopes, map[string]any{"loop": loopInfo(items, i)})
		err := n.bind(r, item)
		if err == nil {
			err = r.renderAll(n.body)
		}
		r.scopes = r.scopes[:len(r.scopes)-1]
		switch {
		case errors.Is(err, errBreak):
			return nil
		case errors.Is(err, errContinue):
		case err != nil:
			return err
		}
	}
	return nil
}

// bind assigns a loop item to the loop's target names, unpacking it when
// there are several ("for k, v in d.items()").
func (n forNode) bind(r *renderer, item any) error {
	scope := r.scopes[len(r.scopes)-1]
	if len(n.targets) == 1 {
		scope[n.targets[0]] = item
		return nil
	}
	parts, ok := item.([]any)
	if !ok || len(parts) != len(n.targets) {
		return fmt.Errorf("cannot unpack %s into %d names", typeName(item), len(n.targets))
	}
	for i, name := range n.targets {
		scope[name] = parts[i]
	}
	return nil
}

// loopInfo is the loop variable of iteration i.
func loopInfo(items []any, i int) *Dict {
	n := len(items)
	d := NewDict(
		"index", i+1, "index0", i, "revindex", n-i, "revindex0", n-i-1,
		"first", i == 0, "last", i == n-1, "length", n,
	)
	d.Set("previtem", undefined{"previtem"})
	if i > 0 {
		d.Set("previtem", items[i-1])
	}
	d.Set("nextitem", undefined{"nextitem"})
	if i < n-1 {
		d.Set("nextitem", items[i+1])
	}
	d.Set("cycle", function(func(args []any, _ map[string]any) (any, error) {
		if len(args) == 0 {
			return nil, fmt.Errorf("loop.cycle needs at least one value")
		}
		return args[i%len(args)], nil
	}))
	return d
}

type setNode struct {
	name  string
	attr  string // set on a namespace: {% set ns.attr = value %}
	value expr
}

func (n setNode) render(r *renderer) error {
	v, err := n.value.eval(r)
	if err != nil {
		return err
	}
	if n.attr == "" {
		r.scopes[len(r.scopes)-1][n.name] = v
		return nil
	}
	ns, ok := r.lookup(n.name).(*Dict)
	if !ok || !ns.namespace {
		return fmt.Errorf("cannot set %s.%s: %s is not a namespace", n.name, n.attr, n.name)
	}
	ns.Set(n.attr, v)
	return nil
}

type breakNode struct{}

func (breakNode) render(*renderer) error { return errBreak }

type continueNode struct{}

func (continueNode) render(*renderer) error { return errContinue }

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
	case "==":
		return equal(a, b), nil
	case "!=":
		return !equal(a, b), nil
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
		if n > 0 && len(s) > maxOutput/n {
			return nil, true, fmt.Errorf("list exceeds %d items", maxOutput)
		}
		var out []any
		for range n {
			out = append(out, s...)
		}
		return out, true, nil
	}
	return nil, false, nil
}
