package gguf

import (
	"fmt"
	"math"
)

// Rounder encodes a tensor of rows × cols values as a block type in two
// steps, so that a caller can choose each value after seeing where the
// ones before it landed, as GPTQ does. Fit fixes the parameters of one
// group of consecutive values of a row (a block's scale; a K-quant
// super-block's scales and mins) from the weights the group will hold;
// Round then puts one value on its group's grid and returns the value
// chosen. Decoding [Rounder.Bytes] gives back exactly the values Round
// returned.
//
// Fit takes an optional importance per value (the mean square of the
// activation that multiplies it). With it, the scale searches weigh each
// value's squared error by importance·√(σ² + x²), σ² the group's mean
// square, which is how llama.cpp's quantizers use an importance matrix
// (ggml-quants.c, quantize_row_q4_0_impl and quantize_row_q4_K_impl).
// Without it, Fit picks the parameters llama.cpp's reference quantizer
// would.
type Rounder struct {
	typ        Type
	rows, cols int
	group      int // values per Fit
	sub        int // values sharing one step and bias
	lo, hi     int32
	levels     []int8 // [rows × cols]
	// A value is float32(step·level) - bias, as the type's decoder
	// computes it; [rows × cols/sub].
	step, bias []float32
	blocks     []blockParams // [rows × cols/group]
	weights    []float32     // Fit's scratch
}

// blockParams is what a block stores besides its levels.
type blockParams struct {
	d, dmin float32   // F16 values
	scales  [16]uint8 // Q6_K: 16 int8 scales; Q4_K: 8 6-bit scales
	mins    [8]uint8  // Q4_K: 6-bit mins
}

// rounderTypes lists the types a Rounder supports: the values per Fit and
// per scale, and the level range.
var rounderTypes = map[Type]struct {
	group, sub int
	lo, hi     int32
}{
	TypeQ4_0: {32, 32, -8, 7},
	TypeQ5_0: {32, 32, -16, 15},
	TypeQ8_0: {32, 32, -128, 127},
	TypeQ4_K: {256, 32, 0, 15},
	TypeQ6_K: {256, 16, -32, 31},
}

// NewRounder returns a Rounder for a rows × cols tensor of type t, whose
// rows must hold whole blocks.
func NewRounder(t Type, rows, cols int) (*Rounder, error) {
	info, ok := rounderTypes[t]
	if !ok {
		return nil, fmt.Errorf("gguf: %s cannot be rounded value by value (Q4_0, Q5_0, Q8_0, Q4_K and Q6_K can)", t)
	}
	if rows <= 0 || cols <= 0 || cols%info.group != 0 || rows > math.MaxInt32/cols {
		return nil, fmt.Errorf("gguf: %s: a %d × %d tensor does not hold whole blocks of %d", t, rows, cols, info.group)
	}
	return &Rounder{
		typ: t, rows: rows, cols: cols, group: info.group, sub: info.sub, lo: info.lo, hi: info.hi,
		levels:  make([]int8, rows*cols),
		step:    make([]float32, rows*cols/info.sub),
		bias:    make([]float32, rows*cols/info.sub),
		blocks:  make([]blockParams, rows*cols/info.group),
		weights: make([]float32, info.group),
	}, nil
}

// GroupSize is the number of consecutive values of a row that one Fit
// covers.
func (r *Rounder) GroupSize() int { return r.group }

// Fit fixes the parameters of group g of row row from x, the GroupSize
// values it will hold, and their importance (nil for none).
func (r *Rounder) Fit(row, g int, x, importance []float32) {
	p := &r.blocks[row*r.cols/r.group+g]
	first := (row*r.cols + g*r.group) / r.sub
	step, bias := r.step[first:first+r.group/r.sub], r.bias[first:first+r.group/r.sub]
	w := r.searchWeights(x, importance)
	switch r.typ {
	case TypeQ4_0, TypeQ5_0:
		p.d = fitSymmetric(x, w, -r.lo)
		step[0], bias[0] = p.d, 0
	case TypeQ8_0:
		var amax float32
		for _, v := range x {
			amax = max(amax, abs32(v))
		}
		p.d = roundF16(amax / 127)
		step[0], bias[0] = p.d, 0
	case TypeQ6_K:
		fitQ6_K(p, x, w, step)
		clear(bias)
	case TypeQ4_K:
		fitQ4_K(p, x, w, step, bias)
	}
}

// searchWeights returns the weights of the scale searches: nil without
// importance, so that each type's reference search runs.
func (r *Rounder) searchWeights(x, importance []float32) []float32 {
	if importance == nil {
		return nil
	}
	var sumX2 float32
	for _, v := range x {
		sumX2 += float32(v * v)
	}
	sigma2 := sumX2 / float32(len(x))
	w := r.weights[:len(x)]
	for i, v := range x {
		w[i] = importance[i] * sqrt32(sigma2+float32(v*v))
	}
	return w
}

// fitSymmetric returns the F16 scale of a Q4_0 or Q5_0 block: the
// reference's largest-magnitude value over -nmax, or with weights the
// weighted least-squares search of make_qx_quants.
func fitSymmetric(x, weights []float32, nmax int32) float32 {
	if weights == nil {
		var amax, maxv float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, maxv = a, v
			}
		}
		return roundF16(maxv / -float32(nmax))
	}
	var L [32]uint8
	return roundF16(makeQXQuants(nmax, x, L[:len(x)], weights))
}

// fitQ6_K sets a Q6_K super-block's scales as quantize_row_q6_K_ref does
// (its sub-block searches weighted when weights is set), and the step of
// each of its 16 sub-blocks.
func fitQ6_K(p *blockParams, x, weights []float32, step []float32) {
	var (
		L      [16]uint8
		scales [16]float32
	)
	var maxScale, maxAbs float32
	for j := range 16 {
		var w []float32
		if weights != nil {
			w = weights[16*j : 16*j+16]
		}
		scales[j] = makeQXQuants(32, x[16*j:16*j+16], L[:], w)
		if a := abs32(scales[j]); a > maxAbs {
			maxAbs, maxScale = a, scales[j]
		}
	}
	*p = blockParams{}
	if maxAbs < groupMaxEps {
		clear(step)
		return
	}
	iscale := -128 / maxScale
	p.d = roundF16(1 / iscale)
	for j := range 16 {
		p.scales[j] = uint8(int8(min(127, nearestInt(iscale*scales[j]))))
		step[j] = p.d * float32(int8(p.scales[j]))
	}
}

// fitQ4_K sets a Q4_K super-block's 6-bit scales and mins as
// quantize_row_q4_K_ref does (its sub-block searches weighted by weights
// when set), and the step and bias of each of its 8 sub-blocks.
func fitQ4_K(p *blockParams, x, weights []float32, step, bias []float32) {
	var (
		L, aux       [32]uint8
		ref          [32]float32
		scales, mins [8]float32
	)
	var maxScale, maxMin float32
	for j := range 8 {
		xs := x[32*j : 32*j+32]
		w := ref[:]
		if weights != nil {
			w = weights[32*j : 32*j+32]
		} else {
			var sumX2 float32
			for _, v := range xs {
				sumX2 += float32(v * v)
			}
			avX := sqrt32(sumX2 / 32)
			for l, v := range xs {
				ref[l] = avX + abs32(v)
			}
		}
		scales[j], mins[j] = makeQKX2Quants(15, xs, w, L[:], aux[:], -1, 0.1, 20)
		maxScale = max(maxScale, scales[j])
		maxMin = max(maxMin, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	*p = blockParams{d: roundF16(maxScale / 63), dmin: roundF16(maxMin / 63)}
	for j := range 8 {
		p.scales[j] = min(63, uint8(nearestInt(invScale*scales[j])))
		p.mins[j] = min(63, uint8(nearestInt(invMin*mins[j])))
		step[j] = p.d * float32(p.scales[j])
		bias[j] = float32(p.dmin * float32(p.mins[j]))
	}
}

// Round puts x, the value of row row and column col, on its group's grid
// (fitted before) and returns the value chosen.
func (r *Rounder) Round(row, col int, x float32) float32 {
	i := row*r.cols + col
	k := i / r.sub
	step, bias := r.step[k], r.bias[k]
	var l int32
	if step != 0 {
		l = max(r.lo, min(r.hi, nearestInt((x+bias)/step)))
	}
	r.levels[i] = int8(l)
	return float32(step*float32(l)) - bias
}

// RoundAll fits and rounds every value of w [rows × cols] in one go, each
// group's search weighted by importance [cols] when it is not nil: the
// block quantization with an importance matrix, without error feedback.
func (r *Rounder) RoundAll(w, importance []float32) {
	for row := range r.rows {
		for g := range r.cols / r.group {
			lo, hi := g*r.group, (g+1)*r.group
			var imp []float32
			if importance != nil {
				imp = importance[lo:hi]
			}
			r.Fit(row, g, w[row*r.cols+lo:row*r.cols+hi], imp)
			for c := lo; c < hi; c++ {
				r.Round(row, c, w[row*r.cols+c])
			}
		}
	}
}

// Bytes encodes the tensor: every value must have been rounded.
func (r *Rounder) Bytes() []byte {
	rowSize, _ := r.typ.RowSize(int64(r.cols))
	out := make([]byte, int64(r.rows)*rowSize)
	size := r.typ.TypeSize()
	perBlock := r.typ.BlockSize() // 32 or 256, equal to r.group
	for b, p := range r.blocks {
		y := out[b*size : (b+1)*size]
		levels := r.levels[b*perBlock : (b+1)*perBlock]
		switch r.typ {
		case TypeQ4_0, TypeQ5_0:
			var q [32]uint8
			for j, l := range levels {
				q[j] = uint8(int32(l) - r.lo)
			}
			putF16(y, p.d)
			if r.typ == TypeQ4_0 {
				packNibbles(y[2:18], &q)
			} else {
				packQ5(y[2:22], &q)
			}
		case TypeQ8_0:
			putF16(y, p.d)
			for j, l := range levels {
				y[2+j] = uint8(l)
			}
		case TypeQ4_K:
			var L [256]uint8
			for j, l := range levels {
				L[j] = uint8(l)
			}
			putF16(y[0:], p.d)
			putF16(y[2:], p.dmin)
			var sc, mn [8]uint8
			copy(sc[:], p.scales[:8])
			mn = p.mins
			packScaleMinK4(y[4:16], &sc, &mn)
			packQ4_KQuants(y[16:144], &L)
		case TypeQ6_K:
			var L [256]uint8
			for j, l := range levels {
				L[j] = uint8(l + 32)
			}
			packQ6_KQuants(y[0:192], &L)
			copy(y[192:208], p.scales[:])
			putF16(y[208:], p.d)
		}
	}
	return out
}

// roundF16 returns x rounded to the F16 value a block stores.
func roundF16(x float32) float32 {
	var b [2]byte
	putF16(b[:], x)
	return getF16(b[:])
}
