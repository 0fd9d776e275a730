package chattemplate

import (
	"errors"
	"fmt"
	"strings"
)

// renderer holds the state of one rendering.
type renderer struct {
	out        strings.Builder
	scopes     []map[string]any // innermost last
	iterations int              // loop iterations so far, bounded by maxIterations
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

// iterate counts one loop iteration against maxIterations.
func (r *renderer) iterate() error {
	if r.iterations++; r.iterations > maxIterations {
		return fmt.Errorf("loops run more than %d iterations", maxIterations)
	}
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
			if err := r.iterate(); err != nil {
				return err
			}
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
		if err := r.iterate(); err != nil {
			return err
		}
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
