package runtime

import (
	"slices"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
)

// quantSource is a checkpoint that stores linear weights quantized
// (model.Checkpoint): their integers can be held by a backend as they
// are instead of widened to float32.
type quantSource interface {
	// QuantTensor returns a role's quantized tensor, or nil when the role
	// is not stored quantized.
	QuantTensor(role model.Role, layer int) (*quant.Tensor, error)
}

// quantWeight is t as the compute backends take it; the slices are
// shared.
func quantWeight(t *quant.Tensor) *compute.QuantWeight {
	return &compute.QuantWeight{
		Out: t.Out, In: t.In, Bits: t.Scheme.Bits, GroupSize: t.Scheme.GroupSize,
		Q: t.Q, Scale: t.Scale, Zero: t.Zero, GIdx: t.GIdx,
	}
}

// projection is one of the projections of a fused linear: its float32
// weight, or its quantized one when the checkpoint stores it quantized.
type projection struct {
	w []float32
	q *compute.QuantWeight
}

// newFusedLinear holds parts, stacked by rows into one [out×in] weight,
// on be: quantized when every part is and all quantize their columns
// alike (same bits, groups and group of each column), else in float32.
func newFusedLinear(be compute.Backend, parts []projection, out, in int) (compute.Linear, error) {
	if q, ok := stackQuantized(parts); ok {
		return be.NewQuantLinear(*q)
	}
	if sb, ok := be.(compute.StackedLinearer); ok && !slices.ContainsFunc(parts, func(p projection) bool { return p.q != nil }) {
		rows := make([][]float32, len(parts))
		for i, p := range parts {
			rows[i] = p.w
		}
		return sb.NewStackedLinear(rows, out, in)
	}
	w := make([]float32, 0, out*in)
	for _, p := range parts {
		if p.q != nil {
			w = append(w, p.q.Dequantize()...)
		} else {
			w = append(w, p.w...)
		}
	}
	return be.NewLinear(w, out, in)
}

// stackQuantized stacks the rows of quantized parts that group their
// columns alike; it reports false when they do not, or a part is not
// quantized.
func stackQuantized(parts []projection) (*compute.QuantWeight, bool) {
	first := parts[0].q
	for _, p := range parts {
		q := p.q
		if q == nil || q.In != first.In || q.Bits != first.Bits || q.GroupSize != first.GroupSize ||
			q.Groups() != first.Groups() || !slices.Equal(q.GIdx, first.GIdx) {
			return nil, false
		}
	}
	if len(parts) == 1 {
		return first, true
	}
	s := &compute.QuantWeight{In: first.In, Bits: first.Bits, GroupSize: first.GroupSize, GIdx: first.GIdx}
	for _, p := range parts {
		s.Out += p.q.Out
	}
	// Sized once: the parts of a 7B layer's gate and up are 90M codes.
	s.Q = make([]uint8, 0, s.Out*s.In)
	s.Scale = make([]float32, 0, s.Out*first.Groups())
	s.Zero = make([]uint8, 0, s.Out*first.Groups())
	for _, p := range parts {
		s.Q = append(s.Q, p.q.Q...)
		s.Scale = append(s.Scale, p.q.Scale...)
		s.Zero = append(s.Zero, p.q.Zero...)
	}
	return s, true
}
