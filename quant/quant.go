// Package quant is the quantizer core shared by RTN, GPTQ and AWQ: group
// parameters (scale and zero point), rounding to integers and dequantizing.
// Formats pack its Tensor; methods decide its values.
package quant

// Scheme is how a linear layer's weight is quantized.
type Scheme struct {
	Bits int // 4 or 8
	// GroupSize is the number of consecutive input channels sharing one
	// scale and zero point; -1 means one group per output channel (the
	// whole row).
	GroupSize int
	Symmetric bool

	// MinZero is the smallest zero point an asymmetric scheme may pick;
	// 0 means no constraint beyond the grid. GPTQ v1 checkpoints store
	// zero-1 and so cannot hold a zero point of 0: quantizers writing them
	// set MinZero to 1 (see [Scheme.RangeParams] for what it does to the
	// scale). At most 2^(Bits-1); symmetric schemes ignore it.
	MinZero uint8
	// BF16Scales rounds scales to bfloat16 instead of float16, for
	// formats that store scales in a bfloat16 model's dtype
	// (compressed-tensors). The zero value keeps float16 scales, which
	// GPTQ and AWQ checkpoints require.
	BF16Scales bool
}

// Tensor is a quantized weight matrix W[out×in] (the layout of a linear
// layer's weight), dequantized as W[r][c] = (Q[r][c] - Zero[r][g]) · Scale[r][g]
// with g = GIdx[c].
type Tensor struct {
	Out, In int
	Scheme  Scheme
	// Q holds the unsigned integer of every weight, [out×in], each in
	// [0, 2^Bits-1].
	Q []uint8
	// Scale and Zero hold one value per output row and group,
	// [out×groups]. Scales are exactly representable in float16 (the
	// dtype GPTQ and AWQ store them in), or in bfloat16 when
	// Scheme.BF16Scales is set. Symmetric schemes use Zero = 2^(Bits-1).
	Scale []float32
	Zero  []uint8
	// GIdx maps each input channel to its group, [in]. Without act-order
	// it is c / GroupSize.
	GIdx []int32
}

// MaxQ is the largest integer of the scheme, 2^Bits - 1.
func (s Scheme) MaxQ() int { return 1<<s.Bits - 1 }

// Groups is the number of groups a row of in channels has.
func (s Scheme) Groups(in int) int {
	if s.GroupSize <= 0 {
		return 1
	}
	return (in + s.GroupSize - 1) / s.GroupSize
}

// Dequantize returns the float32 weight matrix [out×in] the tensor stands for.
func (t *Tensor) Dequantize() []float32 {
	w := make([]float32, t.Out*t.In)
	groups := len(t.Scale) / t.Out
	forRows(t.Out, t.In, func(r int) {
		scale, zero := t.Scale[r*groups:(r+1)*groups], t.Zero[r*groups:(r+1)*groups]
		q, dst := t.Q[r*t.In:(r+1)*t.In], w[r*t.In:(r+1)*t.In]
		for c, g := range t.GIdx {
			dst[c] = Dequantize(q[c], scale[g], zero[g])
		}
	})
	return w
}

// Dequantize returns the value of one integer weight.
func Dequantize(q uint8, scale float32, zero uint8) float32 {
	return float32(int(q)-int(zero)) * scale
}
