package quant

import (
	"fmt"
	"math"
)

// Validate checks that the tensor is well formed: dimensions, slice
// lengths, every integer on its grid, every group index in range, finite
// scales, and symmetric zero points at the middle of the grid (asymmetric
// ones at or above Scheme.MinZero). Formats call it before packing; it
// says nothing about whether scales fit a given storage dtype.
func (t *Tensor) Validate() error {
	if t.Out <= 0 || t.In <= 0 {
		return fmt.Errorf("shape [%d, %d] is not positive", t.Out, t.In)
	}
	if err := t.Scheme.Validate(t.In); err != nil {
		return err
	}
	groups := t.Scheme.Groups(t.In)
	if t.Out > math.MaxInt/t.In || t.Out > math.MaxInt/groups {
		return fmt.Errorf("shape [%d, %d] is too large", t.Out, t.In)
	}
	for _, c := range []struct {
		name       string
		have, want int
	}{
		{"Q", len(t.Q), t.Out * t.In},
		{"Scale", len(t.Scale), t.Out * groups},
		{"Zero", len(t.Zero), t.Out * groups},
		{"GIdx", len(t.GIdx), t.In},
	} {
		if c.have != c.want {
			return fmt.Errorf("%s has %d values, want %d for shape [%d, %d] with %d groups", c.name, c.have, c.want, t.Out, t.In, groups)
		}
	}

	maxq := uint8(t.Scheme.MaxQ())
	for i, q := range t.Q {
		if q > maxq {
			return fmt.Errorf("Q[%d, %d] = %d is above %d", i/t.In, i%t.In, q, maxq)
		}
	}
	for c, g := range t.GIdx {
		if g < 0 || int(g) >= groups {
			return fmt.Errorf("GIdx[%d] = %d is not a group of %d", c, g, groups)
		}
	}
	for i, s := range t.Scale {
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("Scale[%d, %d] is %v", i/groups, i%groups, s)
		}
	}
	lo, hi := t.Scheme.MinZero, maxq
	if t.Scheme.Symmetric {
		lo = uint8(1 << (t.Scheme.Bits - 1))
		hi = lo
	}
	for i, z := range t.Zero {
		if z < lo || z > hi {
			return fmt.Errorf("Zero[%d, %d] = %d is outside [%d, %d]", i/groups, i%groups, z, lo, hi)
		}
	}
	return nil
}

// ActOrder reports whether GIdx differs from the default c / GroupSize.
func (t *Tensor) ActOrder() bool {
	for c, g := range t.GIdx {
		if int(g) != defaultGroup(c, t.Scheme.GroupSize) {
			return true
		}
	}
	return false
}

// defaultGroup is the group of input channel c without act-order.
func defaultGroup(c, groupSize int) int {
	if groupSize <= 0 {
		return 0
	}
	return c / groupSize
}

// DefaultGIdx returns the group index of every input channel without
// act-order: c / GroupSize, or all 0 for one group per row.
func (s Scheme) DefaultGIdx(in int) []int32 {
	g := make([]int32, in)
	for c := range g {
		g[c] = int32(defaultGroup(c, s.GroupSize))
	}
	return g
}
