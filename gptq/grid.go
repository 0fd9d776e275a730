package gptq

import "github.com/qtk-dev/qtk/quant"

// Grid is the set of values a weight matrix may be rounded to, when it is
// not package quant's integer grid: a block format's, such as a GGUF
// type's. The sweep calls Fit for each row and group of GroupSize
// consecutive input channels (group g holds channels g·GroupSize onwards)
// when it reaches the group's first channel, with the group's weights as
// updated so far and each channel's importance (the diagonal of H); it
// then calls Round for every weight of the group, which returns the value
// chosen. Neither method is called concurrently for the same row.
type Grid interface {
	GroupSize() int
	Fit(row, group int, w, importance []float32)
	Round(row, col int, x float32) float32
}

// schemeGrid is package quant's grid: integers with a scale and zero point
// per group, recorded in a quant.Tensor.
type schemeGrid struct {
	t      *quant.Tensor
	groups int
	maxq   int
	clip   *quant.ClipSearch
}

func newSchemeGrid(out, in int, gidx []int32, o Options) *schemeGrid {
	groups := o.Scheme.Groups(in)
	return &schemeGrid{
		t: &quant.Tensor{
			Out: out, In: in, Scheme: o.Scheme,
			Q:     make([]uint8, out*in),
			Scale: make([]float32, out*groups),
			Zero:  make([]uint8, out*groups),
			GIdx:  gidx,
		},
		groups: groups,
		maxq:   o.Scheme.MaxQ(),
		clip:   o.Clip,
	}
}

// GroupSize is the scheme's group size, or the whole row.
func (g *schemeGrid) GroupSize() int {
	if gs := g.t.Scheme.GroupSize; gs > 0 {
		return gs
	}
	return g.t.In
}

// Fit finds one group's parameters: min-max, or the clip search weighted
// by importance.
func (g *schemeGrid) Fit(row, group int, w, importance []float32) {
	at := row*g.groups + group
	if g.clip == nil {
		g.t.Scale[at], g.t.Zero[at] = g.t.Scheme.Params(w)
		return
	}
	g.t.Scale[at], g.t.Zero[at] = g.t.Scheme.ClipParams(w, importance, *g.clip)
}

// Round quantizes one weight with its group's parameters.
func (g *schemeGrid) Round(row, col int, x float32) float32 {
	at := row*g.groups + int(g.t.GIdx[col])
	scale, zero := g.t.Scale[at], g.t.Zero[at]
	q := quant.Quantize(x, scale, zero, g.maxq)
	g.t.Q[row*g.t.In+col] = q
	return quant.Dequantize(q, scale, zero)
}
