package hf

import (
	"fmt"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/internal/linalg"
	"github.com/qtk-dev/qtk/quant"
)

// AWQ GEMM layout (AutoAWQ's WQLinear_GEMM; vLLM's awq.py reads it),
// 4-bit only, packed along the output dimension in an interleaved order:
//
//	qweight int32 [in, out/8]     qweight[c, k] bits 4·i.. = Q[8k + awqOrder[i], c]
//	qzeros  int32 [groups, out/8] qzeros[g, k] bits 4·i.. = zero[8k + awqOrder[i], g]
//	scales  fp16  [groups, out]
//
// Zero points are stored as they are, and there is no g_idx: groups are
// always consecutive input channels.

// awqOrder is the output channel each nibble of an AWQ word holds, from
// the low nibble up.
var awqOrder = [8]int{0, 2, 4, 6, 1, 3, 5, 7}

// awqLayout returns the tensors of an AWQ layer of shape [out, in],
// without data.
func awqLayout(out, in int, s quant.Scheme) ([]Packed, error) {
	if s.Bits != 4 {
		return nil, fmt.Errorf("%d-bit weights: AWQ GEMM stores 4-bit only: %w", s.Bits, ErrUnsupported)
	}
	if out%8 != 0 {
		return nil, fmt.Errorf("%d output channels are not a multiple of 8 (qweight packs 8 per int32)", out)
	}
	groups := s.Groups(in)
	return []Packed{
		{Suffix: "qweight", DType: safetensors.I32, Shape: []int{in, out / 8}},
		{Suffix: "qzeros", DType: safetensors.I32, Shape: []int{groups, out / 8}},
		{Suffix: "scales", DType: safetensors.F16, Shape: []int{groups, out}},
	}, nil
}

// PackAWQ packs t as an AWQ GEMM layer: qweight, qzeros and scales (F16),
// in that order. t must be 4-bit, without act-order (AWQ has no g_idx),
// with float16 scales. A symmetric scheme's zero points (8) are stored
// like any others.
func PackAWQ(t *quant.Tensor) ([]Packed, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("awq: %w", err)
	}
	ps, err := awqLayout(t.Out, t.In, t.Scheme)
	if err != nil {
		return nil, fmt.Errorf("awq: %w", err)
	}
	if t.ActOrder() {
		return nil, fmt.Errorf("awq: g_idx is not c / group_size (act-order), which AWQ cannot store")
	}
	if err := checkScales(t, safetensors.F16); err != nil {
		return nil, fmt.Errorf("awq: %w", err)
	}
	out, in, groups := t.Out, t.In, t.Scheme.Groups(t.In)
	words := out / 8
	qweight := make([]uint32, in*words)
	qzeros := make([]uint32, groups*words)
	for k := range words {
		var rows [8][]uint8 // the 8 output rows of word column k, in nibble order
		for i, o := range awqOrder {
			rows[i] = t.Q[(8*k+o)*in : (8*k+o+1)*in]
		}
		for c := range in {
			var w uint32
			for i := range rows {
				w |= uint32(rows[i][c]) << (4 * i)
			}
			qweight[c*words+k] = w
		}
		for g := range groups {
			var w uint32
			for i, o := range awqOrder {
				w |= uint32(t.Zero[(8*k+o)*groups+g]) << (4 * i)
			}
			qzeros[g*words+k] = w
		}
	}
	scales := make([]float32, groups*out)
	for g := range groups {
		for n := range out {
			scales[g*out+n] = t.Scale[n*groups+g]
		}
	}
	ps[0].Data = encodeWords(qweight)
	ps[1].Data = encodeWords(qzeros)
	ps[2].Data = encodeScales(scales, safetensors.F16)
	return ps, nil
}

// UnpackAWQ reads an AWQ GEMM layer of shape [out, in] quantized with
// scheme s (as [ParseConfig] reports it). Scales may be stored as F16,
// BF16 or F32. GIdx is the default c / group_size.
func UnpackAWQ(get Source, out, in int, s quant.Scheme) (*quant.Tensor, error) {
	t, err := unpackAWQ(get, out, in, s)
	if err != nil {
		return nil, fmt.Errorf("awq: %w", err)
	}
	return t, nil
}

func unpackAWQ(get Source, out, in int, s quant.Scheme) (*quant.Tensor, error) {
	t, err := newTensor(out, in, s)
	if err != nil {
		return nil, err
	}
	if _, err := awqLayout(out, in, s); err != nil {
		return nil, err
	}
	groups, words := s.Groups(in), out/8
	qweight, err := readWords(get, "qweight", in, words)
	if err != nil {
		return nil, err
	}
	qzeros, err := readWords(get, "qzeros", groups, words)
	if err != nil {
		return nil, err
	}
	scales, err := readScales(get, "scales", groups, out)
	if err != nil {
		return nil, err
	}

	allocate(t)
	t.GIdx = s.DefaultGIdx(in)
	// A block of rows of Q (8 a word) at a time, over the cores, filled
	// front to back.
	linalg.ParallelFor(words, unpackRows/8, func(lo, hi int) {
		for c := range in {
			for k, w := range qweight[c*words+lo : c*words+hi] {
				for i, o := range awqOrder {
					t.Q[(8*(lo+k)+o)*in+c] = uint8(w >> (4 * i) & 0xf)
				}
			}
		}
	})
	for g := range groups {
		for k, w := range qzeros[g*words : (g+1)*words] {
			for i, o := range awqOrder {
				t.Zero[(8*k+o)*groups+g] = uint8(w >> (4 * i) & 0xf)
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
