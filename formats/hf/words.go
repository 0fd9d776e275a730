package hf

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/internal/half"
	"github.com/qtk-dev/qtk/quant"
)

var le = binary.LittleEndian

// Conversions between the values of a layer and the little-endian bytes
// of its stored tensors.

func encodeWords(words []uint32) []byte {
	b := make([]byte, 4*len(words))
	for i, w := range words {
		le.PutUint32(b[4*i:], w)
	}
	return b
}

func encodeGIdx(gidx []int32) []byte {
	b := make([]byte, 4*len(gidx))
	for i, g := range gidx {
		le.PutUint32(b[4*i:], uint32(g))
	}
	return b
}

func encodeInt64s(vals ...int) []byte {
	b := make([]byte, 8*len(vals))
	for i, v := range vals {
		le.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

// encodeScales stores scales, already in stored order, as dtype (F16 or
// BF16); checkScales has verified that every value is exact in it.
func encodeScales(scales []float32, dtype safetensors.DType) []byte {
	b := make([]byte, 2*len(scales))
	if dtype == safetensors.BF16 {
		half.F32ToBF16Slice(b, scales)
	} else {
		half.F32ToF16Slice(b, scales)
	}
	return b
}

// checkScales verifies that every scale of t is exactly representable in
// dtype, F16 or BF16, so that the file dequantizes to what the quantizer
// decided.
func checkScales(t *quant.Tensor, dtype safetensors.DType) error {
	round := func(s float32) float32 { return half.F16ToF32(half.F32ToF16(s)) }
	hint := ""
	switch dtype {
	case safetensors.F16:
	case safetensors.BF16:
		round = func(s float32) float32 { return half.BF16ToF32(half.F32ToBF16(s)) }
		hint = " (quantize with Scheme.BF16Scales)"
	default:
		return fmt.Errorf("scale dtype %s: want F16 or BF16", dtype)
	}
	groups := len(t.Scale) / t.Out
	for i, s := range t.Scale {
		if round(s) != s {
			return fmt.Errorf("scale [%d, %d] = %v is not a %s value%s", i/groups, i%groups, s, dtype, hint)
		}
	}
	return nil
}

// storedTensor fetches a layer's tensor and checks that its dtype is one
// of dtypes and its shape is want, with data to match.
func storedTensor(get Source, suffix string, dtypes []safetensors.DType, want ...int) (safetensors.Tensor, error) {
	t, err := get(suffix)
	if err != nil {
		return t, fmt.Errorf("%s: %w", suffix, err)
	}
	if !slices.Contains(dtypes, t.DType) {
		return t, errFormat("%s: dtype %s, want %s", suffix, t.DType, dtypeList(dtypes))
	}
	if !slices.Equal(t.Shape, want) {
		return t, errFormat("%s: shape %v, want %v", suffix, t.Shape, want)
	}
	n := t.DType.Bits() / 8
	for _, d := range want {
		if d < 0 || d > 0 && n > math.MaxInt/d {
			return t, errFormat("%s: shape %v is too large", suffix, want)
		}
		n *= d
	}
	if len(t.Data) != n {
		return t, errFormat("%s: %d bytes of data for %s %v, want %d", suffix, len(t.Data), t.DType, want, n)
	}
	return t, nil
}

func dtypeList(dtypes []safetensors.DType) string {
	if len(dtypes) == 1 {
		return string(dtypes[0])
	}
	s := ""
	for i, d := range dtypes {
		switch {
		case i == len(dtypes)-1:
			s += " or "
		case i > 0:
			s += ", "
		}
		s += string(d)
	}
	return s
}

var (
	int32Types = []safetensors.DType{safetensors.I32}
	int64Types = []safetensors.DType{safetensors.I64}
	// Scales are read in any float dtype a writer might use: GPTQModel and
	// compressed-tensors store the model's dtype.
	scaleTypes = []safetensors.DType{safetensors.F16, safetensors.BF16, safetensors.F32}
)

// readWords fetches an I32 tensor of shape want as unsigned words.
func readWords(get Source, suffix string, want ...int) ([]uint32, error) {
	t, err := storedTensor(get, suffix, int32Types, want...)
	if err != nil {
		return nil, err
	}
	words := make([]uint32, len(t.Data)/4)
	for i := range words {
		words[i] = le.Uint32(t.Data[4*i:])
	}
	return words, nil
}

// readScales fetches a float tensor of shape want; every scale must be
// finite.
func readScales(get Source, suffix string, want ...int) ([]float32, error) {
	t, err := storedTensor(get, suffix, scaleTypes, want...)
	if err != nil {
		return nil, err
	}
	vals := make([]float32, t.NumElements())
	if err := t.Float32Into(vals); err != nil {
		return nil, errFormat("%s: %v", suffix, err)
	}
	for i, v := range vals {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, errFormat("%s: element %d is %v", suffix, i, v)
		}
	}
	return vals, nil
}

// readGIdx fetches an I32 g_idx of in entries, each a group below groups.
func readGIdx(get Source, suffix string, in, groups int) ([]int32, error) {
	words, err := readWords(get, suffix, in)
	if err != nil {
		return nil, err
	}
	gidx := make([]int32, in)
	for c, w := range words {
		g := int32(w)
		if g < 0 || int(g) >= groups {
			return nil, errFormat("%s: channel %d is in group %d, want one of 0..%d", suffix, c, g, groups-1)
		}
		gidx[c] = g
	}
	return gidx, nil
}

// newTensor allocates the tensor an unpacker fills, after checking the
// caller's dimensions against the scheme.
func newTensor(out, in int, s quant.Scheme) (*quant.Tensor, error) {
	if out <= 0 || in <= 0 {
		return nil, fmt.Errorf("shape [%d, %d] is not positive", out, in)
	}
	if err := s.Validate(in); err != nil {
		return nil, err
	}
	if out > math.MaxInt/in {
		return nil, fmt.Errorf("shape [%d, %d] is too large", out, in)
	}
	return &quant.Tensor{Out: out, In: in, Scheme: s}, nil
}

// unpackRows is the rows of Q an unpacker fills at a time on one core:
// a block's rows stay in the cache while their columns are filled in
// turn, and the blocks spread over the cores.
const unpackRows = 64

// allocate sizes the tensor's slices; unpackers call it once the stored
// tensors have been checked, so sizes are bounded by the data read.
func allocate(t *quant.Tensor) {
	groups := t.Scheme.Groups(t.In)
	t.Q = make([]uint8, t.Out*t.In)
	t.Scale = make([]float32, t.Out*groups)
	t.Zero = make([]uint8, t.Out*groups)
}

// ceilDiv is a/b rounded up, for positive a and b.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
