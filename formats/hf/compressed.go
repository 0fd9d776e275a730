package hf

import (
	"fmt"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/internal/linalg"
	"github.com/qtk-dev/qtk/quant"
)

// compressed-tensors pack-quantized layout (compressed-tensors'
// pack_to_int32; vLLM's compressed_tensors_wNa16 reads it), with
// f = 32/bits values per int32, LSB first. Values are signed, q - 2^(bits-1),
// and packing adds 2^(bits-1) back, so a stored field holds exactly the
// unsigned Q (or zero point) of a quant.Tensor:
//
//	weight_packed     int32 [out, ceil(in/f)]      bits b·j.. of [n, k] = Q[n, k·f+j]
//	weight_scale      fp16 or bf16 [out, groups]
//	weight_zero_point int32 [ceil(out/f), groups]  bits b·j.. of [k, g] = zero[k·f+j, g]
//	weight_shape      int64 [2] = [out, in]
//	weight_g_idx      int32 [in]
//
// Rows and columns that do not fill a word are padded with zero bits.
// weight_zero_point is stored only for asymmetric schemes (symmetric ones
// have the implied zero 2^(bits-1)), weight_g_idx only with activation
// ordering "group".

// CompressedOptions selects what a compressed-tensors layer stores.
type CompressedOptions struct {
	// ActOrder is actorder "group": weight_g_idx is stored and used.
	// Without it, packing refuses act-order tensors and unpacking uses the
	// default c / group_size.
	ActOrder bool
	// ScaleDType is the dtype of weight_scale when packing, F16 or BF16
	// (the model's dtype); empty means F16. Unpacking takes the dtype from
	// the file.
	ScaleDType safetensors.DType
}

func (o CompressedOptions) scaleDType() safetensors.DType {
	if o.ScaleDType == "" {
		return safetensors.F16
	}
	return o.ScaleDType
}

// compressedLayout returns the tensors of a compressed-tensors layer of
// shape [out, in], without data.
func compressedLayout(out, in int, s quant.Scheme, o CompressedOptions) ([]Packed, error) {
	f, groups := 32/s.Bits, s.Groups(in)
	dtype := o.scaleDType()
	if dtype != safetensors.F16 && dtype != safetensors.BF16 {
		return nil, fmt.Errorf("scale dtype %s: want F16 or BF16", dtype)
	}
	if o.ActOrder && s.GroupSize <= 0 {
		return nil, fmt.Errorf("act-order needs groups, not one group per row")
	}
	ps := []Packed{
		{Suffix: "weight_packed", DType: safetensors.I32, Shape: []int{out, ceilDiv(in, f)}},
		{Suffix: "weight_scale", DType: dtype, Shape: []int{out, groups}},
	}
	if !s.Symmetric {
		ps = append(ps, Packed{Suffix: "weight_zero_point", DType: safetensors.I32, Shape: []int{ceilDiv(out, f), groups}})
	}
	ps = append(ps, Packed{Suffix: "weight_shape", DType: safetensors.I64, Shape: []int{2}})
	if o.ActOrder {
		ps = append(ps, Packed{Suffix: "weight_g_idx", DType: safetensors.I32, Shape: []int{in}})
	}
	return ps, nil
}

// PackCompressed packs t as a compressed-tensors pack-quantized layer:
// weight_packed, weight_scale, weight_zero_point (asymmetric schemes
// only), weight_shape and weight_g_idx (with o.ActOrder only), in that
// order. Every scale must be exact in o.ScaleDType.
func PackCompressed(t *quant.Tensor, o CompressedOptions) ([]Packed, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("compressed-tensors: %w", err)
	}
	ps, err := compressedLayout(t.Out, t.In, t.Scheme, o)
	if err != nil {
		return nil, fmt.Errorf("compressed-tensors: %w", err)
	}
	if !o.ActOrder && t.ActOrder() {
		return nil, fmt.Errorf("compressed-tensors: g_idx is not c / group_size (act-order) but actorder is not \"group\"")
	}
	if err := checkScales(t, o.scaleDType()); err != nil {
		return nil, fmt.Errorf("compressed-tensors: %w", err)
	}
	out, in, bits := t.Out, t.In, t.Scheme.Bits
	f, groups := 32/bits, t.Scheme.Groups(in)

	cols := ceilDiv(in, f)
	packed := make([]uint32, out*cols)
	for n := range out {
		for c, q := range t.Q[n*in : (n+1)*in] {
			packed[n*cols+c/f] |= uint32(q) << (bits * (c % f))
		}
	}
	ps[0].Data = encodeWords(packed)
	ps[1].Data = encodeScales(t.Scale, o.scaleDType())
	next := 2
	if !t.Scheme.Symmetric {
		zp := make([]uint32, ceilDiv(out, f)*groups)
		for n := range out {
			for g := range groups {
				zp[(n/f)*groups+g] |= uint32(t.Zero[n*groups+g]) << (bits * (n % f))
			}
		}
		ps[next].Data = encodeWords(zp)
		next++
	}
	ps[next].Data = encodeInt64s(out, in)
	if o.ActOrder {
		ps[next+1].Data = encodeGIdx(t.GIdx)
	}
	return ps, nil
}

// UnpackCompressed reads a compressed-tensors pack-quantized layer of
// shape [out, in] quantized with scheme s (as [ParseConfig] reports it);
// weight_shape must agree. weight_scale may be F16, BF16 or F32. Padding
// bits are ignored.
func UnpackCompressed(get Source, out, in int, s quant.Scheme, o CompressedOptions) (*quant.Tensor, error) {
	t, err := unpackCompressed(get, out, in, s, o)
	if err != nil {
		return nil, fmt.Errorf("compressed-tensors: %w", err)
	}
	return t, nil
}

func unpackCompressed(get Source, out, in int, s quant.Scheme, o CompressedOptions) (*quant.Tensor, error) {
	t, err := newTensor(out, in, s)
	if err != nil {
		return nil, err
	}
	o.ScaleDType = "" // the layout check needs no dtype; the file's is used
	if _, err := compressedLayout(out, in, s, o); err != nil {
		return nil, err
	}
	bits, maxq := s.Bits, uint32(s.MaxQ())
	f, groups := 32/bits, s.Groups(in)

	shape, err := storedTensor(get, "weight_shape", int64Types, 2)
	if err != nil {
		return nil, err
	}
	if so, si := int64(le.Uint64(shape.Data)), int64(le.Uint64(shape.Data[8:])); so != int64(out) || si != int64(in) {
		return nil, errFormat("weight_shape: [%d, %d], want [%d, %d]", so, si, out, in)
	}
	cols := ceilDiv(in, f)
	packed, err := readWords(get, "weight_packed", out, cols)
	if err != nil {
		return nil, err
	}
	scales, err := readScales(get, "weight_scale", out, groups)
	if err != nil {
		return nil, err
	}
	var zp []uint32
	if !s.Symmetric {
		zp, err = readWords(get, "weight_zero_point", ceilDiv(out, f), groups)
		if err != nil {
			return nil, err
		}
	}
	if o.ActOrder {
		t.GIdx, err = readGIdx(get, "weight_g_idx", in, groups)
		if err != nil {
			return nil, err
		}
	} else {
		t.GIdx = s.DefaultGIdx(in)
	}

	allocate(t)
	linalg.ParallelFor(out, unpackRows, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			words := packed[n*cols : (n+1)*cols]
			for c := range in {
				t.Q[n*in+c] = uint8(words[c/f] >> (bits * (c % f)) & maxq)
			}
		}
	})
	copy(t.Scale, scales)
	for i := range t.Zero {
		if s.Symmetric {
			t.Zero[i] = uint8(1 << (bits - 1))
			continue
		}
		n, g := i/groups, i%groups
		t.Zero[i] = uint8(zp[(n/f)*groups+g] >> (bits * (n % f)) & maxq)
	}
	if err := checkZeros(t, "weight_zero_point"); err != nil {
		return nil, err
	}
	return t, nil
}
