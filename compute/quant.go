package compute

import (
	"cmp"
	"fmt"
	"slices"
)

// QuantWeight is a linear layer's weight W[out×in] stored as unsigned
// integers in groups of input channels, each group of a row with its own
// scale and zero point (the layout of quant.Tensor, which formats unpack
// GPTQ, AWQ and compressed-tensors checkpoints to):
//
//	W[r][c] = (Q[r][c] - Zero[r][g]) · Scale[r][g],  g = GIdx[c].
type QuantWeight struct {
	Out, In int
	Bits    int
	// GroupSize is the number of input channels of a group; -1 means one
	// group per row. With act-order GIdx does not follow it column by
	// column, but each group still has GroupSize channels (the last one
	// fewer).
	GroupSize int
	Q         []uint8   // [out×in], each in [0, 2^Bits-1]
	Scale     []float32 // [out×groups]
	Zero      []uint8   // [out×groups]
	GIdx      []int32   // [in], the group of each input channel
}

// Groups is the number of groups of a row.
func (w *QuantWeight) Groups() int {
	if w.Out == 0 {
		return 0
	}
	return len(w.Scale) / w.Out
}

// check verifies that the slices hold the shape and that every code and
// group index is in range.
func (w *QuantWeight) check() error {
	groups := w.Groups()
	switch {
	case w.Out <= 0 || w.In <= 0:
		return fmt.Errorf("compute: quantized linear [%d×%d]", w.Out, w.In)
	case w.Bits < 1 || w.Bits > 8:
		return fmt.Errorf("compute: quantized linear of %d bits", w.Bits)
	case len(w.Q) != w.Out*w.In || len(w.GIdx) != w.In || groups == 0 ||
		len(w.Scale) != w.Out*groups || len(w.Zero) != w.Out*groups:
		return fmt.Errorf("compute: quantized linear [%d×%d] with %d codes, %d scales, %d zeros, %d group indices",
			w.Out, w.In, len(w.Q), len(w.Scale), len(w.Zero), len(w.GIdx))
	}
	for i, q := range w.Q {
		if int(q) >= 1<<w.Bits {
			return fmt.Errorf("compute: code %d of a %d-bit weight at %d", q, w.Bits, i)
		}
	}
	for c, g := range w.GIdx {
		if g < 0 || int(g) >= groups {
			return fmt.Errorf("compute: input channel %d in group %d of %d", c, g, groups)
		}
	}
	return nil
}

// Dequantize returns the float32 weight [out×in] the codes stand for.
func (w *QuantWeight) Dequantize() []float32 {
	d := make([]float32, w.Out*w.In)
	groups := w.Groups()
	for r := range w.Out {
		for c, g := range w.GIdx {
			at := r*groups + int(g)
			d[r*w.In+c] = float32(int(w.Q[r*w.In+c])-int(w.Zero[at])) * w.Scale[at]
		}
	}
	return d
}

// groupOrder returns the input channels sorted by group, keeping their
// order within a group (nil when that is the identity), and the channels of
// a group. It reports false unless, in that order, the groups are runs of
// groupLen channels (the last one possibly shorter), which holds for
// act-order weights too.
func (w *QuantWeight) groupOrder() (order []int32, groupLen int, ok bool) {
	groups := w.Groups()
	groupLen = w.GroupSize
	if groups == 1 {
		groupLen = w.In
	}
	if groupLen <= 0 || groups != (w.In+groupLen-1)/groupLen {
		return nil, 0, false
	}
	order = make([]int32, w.In)
	for c := range order {
		order[c] = int32(c)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(w.GIdx[a], w.GIdx[b]) })
	identity := true
	for j, c := range order {
		if int(w.GIdx[c]) != j/groupLen {
			return nil, 0, false
		}
		identity = identity && int(c) == j
	}
	if identity {
		order = nil
	}
	return order, groupLen, true
}
