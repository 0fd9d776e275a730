package hf

import (
	"fmt"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/internal/linalg"
	"github.com/qtk-dev/qtk/quant"
)

// GPTQ layout (AutoGPTQ's qlinear pack; vLLM's gptq.py reads it), with
// f = 32/bits values per int32, LSB first:
//
//	qweight int32 [in/f, out]     qweight[k, n] bits b·j.. = Q[n, k·f+j]
//	qzeros  int32 [groups, out/f] qzeros[g, k] bits b·j.. = zero[k·f+j, g] - 1
//	scales  fp16  [groups, out]
//	g_idx   int32 [in]
//
// v1 (checkpoint_format "gptq") stores zero-1 and readers add 1 back, so a
// zero point of 0 cannot be stored (it would wrap to maxq and read back as
// maxq+1); gptq_v2 stores zero points as they are.

// GPTQOptions selects the GPTQ variant.
type GPTQOptions struct {
	// ActOrder is desc_act: the checkpoint's g_idx is meaningful. Loaders
	// ignore g_idx without it, so then packing refuses act-order tensors
	// (g_idx is still written, as c / group_size) and unpacking does not
	// read g_idx.
	ActOrder bool
	// V2 stores zero points as they are (checkpoint_format "gptq_v2")
	// instead of v1's zero-1.
	V2 bool
}

// gptqLayout returns the tensors of a GPTQ layer of shape [out, in],
// without data.
func gptqLayout(out, in int, s quant.Scheme) ([]Packed, error) {
	f := 32 / s.Bits
	if in%f != 0 {
		return nil, fmt.Errorf("%d input channels are not a multiple of %d (qweight packs %d per int32)", in, f, f)
	}
	if out%f != 0 {
		return nil, fmt.Errorf("%d output channels are not a multiple of %d (qzeros packs %d per int32)", out, f, f)
	}
	groups := s.Groups(in)
	return []Packed{
		{Suffix: "qweight", DType: safetensors.I32, Shape: []int{in / f, out}},
		{Suffix: "qzeros", DType: safetensors.I32, Shape: []int{groups, out / f}},
		{Suffix: "scales", DType: safetensors.F16, Shape: []int{groups, out}},
		{Suffix: "g_idx", DType: safetensors.I32, Shape: []int{in}},
	}, nil
}

// PackGPTQ packs t as a GPTQ layer: qweight, qzeros, scales (F16) and
// g_idx, in that order. Scales must be float16 values; v1 needs every
// zero point at least 1 (the error wraps [ErrGPTQv1Zero]); a symmetric
// scheme must have every zero point at 2^(bits-1), which is what loaders
// assume for sym checkpoints.
func PackGPTQ(t *quant.Tensor, o GPTQOptions) ([]Packed, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("gptq: %w", err)
	}
	ps, err := gptqLayout(t.Out, t.In, t.Scheme)
	if err != nil {
		return nil, fmt.Errorf("gptq: %w", err)
	}
	if !o.ActOrder && t.ActOrder() {
		return nil, fmt.Errorf("gptq: g_idx is not c / group_size (act-order) but desc_act is off")
	}
	if err := checkScales(t, safetensors.F16); err != nil {
		return nil, fmt.Errorf("gptq: %w", err)
	}
	offset := uint8(1)
	if o.V2 {
		offset = 0
	}
	out, in, bits := t.Out, t.In, t.Scheme.Bits
	f, groups := 32/bits, t.Scheme.Groups(in)
	for i, z := range t.Zero {
		if z < offset {
			return nil, fmt.Errorf("gptq: row %d, group %d: %w (it stores zero-1; quantize with Scheme.MinZero = 1)", i/groups, i%groups, ErrGPTQv1Zero)
		}
	}

	qweight := make([]uint32, in/f*out)
	for n := range out {
		row := t.Q[n*in : (n+1)*in]
		for k := range in / f {
			var w uint32
			for j, q := range row[k*f : (k+1)*f] {
				w |= uint32(q) << (bits * j)
			}
			qweight[k*out+n] = w
		}
	}
	qzeros := make([]uint32, groups*(out/f))
	scales := make([]float32, groups*out)
	for g := range groups {
		for k := range out / f {
			var w uint32
			for j := range f {
				w |= uint32(t.Zero[(k*f+j)*groups+g]-offset) << (bits * j)
			}
			qzeros[g*(out/f)+k] = w
		}
		for n := range out {
			scales[g*out+n] = t.Scale[n*groups+g]
		}
	}
	ps[0].Data = encodeWords(qweight)
	ps[1].Data = encodeWords(qzeros)
	ps[2].Data = encodeScales(scales, safetensors.F16)
	ps[3].Data = encodeGIdx(t.GIdx)
	return ps, nil
}

// UnpackGPTQ reads a GPTQ layer of shape [out, in] quantized with scheme s
// (as [ParseConfig] reports it). Scales may be stored as F16, BF16 or F32.
// A v1 zero point that reads back as maxq+1 (a zero of 0 wrapped by the
// writer) is an error, as is a symmetric scheme whose zero points are not
// all 2^(bits-1).
func UnpackGPTQ(get Source, out, in int, s quant.Scheme, o GPTQOptions) (*quant.Tensor, error) {
	t, err := unpackGPTQ(get, out, in, s, o)
	if err != nil {
		return nil, fmt.Errorf("gptq: %w", err)
	}
	return t, nil
}

func unpackGPTQ(get Source, out, in int, s quant.Scheme, o GPTQOptions) (*quant.Tensor, error) {
	t, err := newTensor(out, in, s)
	if err != nil {
		return nil, err
	}
	if _, err := gptqLayout(out, in, s); err != nil {
		return nil, err
	}
	bits, maxq := s.Bits, uint32(s.MaxQ())
	f, groups := 32/bits, s.Groups(in)
	qweight, err := readWords(get, "qweight", in/f, out)
	if err != nil {
		return nil, err
	}
	qzeros, err := readWords(get, "qzeros", groups, out/f)
	if err != nil {
		return nil, err
	}
	scales, err := readScales(get, "scales", groups, out)
	if err != nil {
		return nil, err
	}
	if o.ActOrder {
		t.GIdx, err = readGIdx(get, "g_idx", in, groups)
		if err != nil {
			return nil, err
		}
	} else {
		t.GIdx = s.DefaultGIdx(in)
	}

	allocate(t)
	// A block of rows of Q at a time, over the cores: the block reads a
	// run of each qweight row and fills its rows of Q front to back.
	linalg.ParallelFor(out, unpackRows, func(lo, hi int) {
		for k := range in / f {
			for n, w := range qweight[k*out+lo : k*out+hi] {
				codes := t.Q[(lo+n)*in+k*f : (lo+n)*in+(k+1)*f]
				for j := range codes {
					codes[j] = uint8(w >> (bits * j) & maxq)
				}
			}
		}
	})
	offset := uint32(1)
	if o.V2 {
		offset = 0
	}
	for g := range groups {
		for k, w := range qzeros[g*(out/f) : (g+1)*(out/f)] {
			for j := range f {
				z := w>>(bits*j)&maxq + offset
				if z > maxq {
					return nil, errFormat("qzeros: row %d, group %d holds %d: a v1 zero point of %d, beyond the %d-bit grid (written from a zero point of 0)", k*f+j, g, z-1, z, bits)
				}
				t.Zero[(k*f+j)*groups+g] = uint8(z)
			}
		}
		for n := range out {
			t.Scale[n*groups+g] = scales[g*out+n]
		}
	}
	if err := checkZeros(t, "qzeros"); err != nil {
		return nil, err
	}
	return t, nil
}

// checkZeros verifies the unpacked zero points against the scheme:
// 2^(bits-1) everywhere for a symmetric scheme, at least MinZero
// otherwise.
func checkZeros(t *quant.Tensor, suffix string) error {
	groups := t.Scheme.Groups(t.In)
	mid := uint8(1 << (t.Scheme.Bits - 1))
	for i, z := range t.Zero {
		switch {
		case t.Scheme.Symmetric && z != mid:
			return errFormat("%s: row %d, group %d: zero point %d in a symmetric checkpoint, want %d", suffix, i/groups, i%groups, z, mid)
		case !t.Scheme.Symmetric && z < t.Scheme.MinZero:
			return errFormat("%s: row %d, group %d: zero point %d below the scheme's minimum %d", suffix, i/groups, i%groups, z, t.Scheme.MinZero)
		}
	}
	return nil
}
