package hf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/quant"
)

// A fuzz input describes one unpacking call: a header with the options,
// the caller's shape and scheme, then the layer's tensors, each as dtype,
// shape and data, so the fuzzer can vary any of them independently:
//
//	flags u8 (bit 0: 8-bit, 1: symmetric, 2: act-order, 3: v2), out u8, in u8, group i8
//	per tensor: dtype u8 (index into fuzzDTypes), ndim u8 (mod 4), dims u8×ndim, length u16 LE, data
//
// Tensors are served by suffix in the order of the layout; a truncated
// input leaves the remaining tensors missing.

var fuzzDTypes = []safetensors.DType{safetensors.I32, safetensors.F16, safetensors.BF16, safetensors.F32, safetensors.I64, safetensors.U8}

type fuzzCall struct {
	s            quant.Scheme
	actOrder, v2 bool
	out, in      int
	tensors      map[string]safetensors.Tensor
}

func decodeFuzz(data []byte, suffixes []string) fuzzCall {
	var c fuzzCall
	if len(data) < 4 {
		return c
	}
	flags := data[0]
	c.s = quant.Scheme{Bits: 4, GroupSize: int(int8(data[3])), Symmetric: flags&2 != 0}
	if flags&1 != 0 {
		c.s.Bits = 8
	}
	c.actOrder, c.v2 = flags&4 != 0, flags&8 != 0
	if !c.s.Symmetric && !c.v2 {
		c.s.MinZero = 1
	}
	c.out, c.in = int(data[1]), int(data[2])
	c.tensors = map[string]safetensors.Tensor{}
	rest := data[4:]
	for _, suffix := range suffixes {
		if len(rest) < 2 {
			break
		}
		dtype := fuzzDTypes[int(rest[0])%len(fuzzDTypes)]
		ndim := int(rest[1]) % 4
		rest = rest[2:]
		if len(rest) < ndim+2 {
			break
		}
		shape := make([]int, ndim)
		for i := range shape {
			shape[i] = int(rest[i])
		}
		n := int(binary.LittleEndian.Uint16(rest[ndim:]))
		rest = rest[ndim+2:]
		n = min(n, len(rest))
		c.tensors[suffix] = safetensors.Tensor{Name: suffix, DType: dtype, Shape: shape, Data: rest[:n]}
		rest = rest[n:]
	}
	return c
}

func (c fuzzCall) source(suffix string) (safetensors.Tensor, error) {
	t, ok := c.tensors[suffix]
	if !ok {
		return t, fmt.Errorf("no tensor %q", suffix)
	}
	return t, nil
}

// encodeFuzz is the inverse of decodeFuzz, for seeds.
func encodeFuzz(s quant.Scheme, actOrder, v2 bool, out, in int, ps []Packed) []byte {
	var flags byte
	if s.Bits == 8 {
		flags |= 1
	}
	if s.Symmetric {
		flags |= 2
	}
	if actOrder {
		flags |= 4
	}
	if v2 {
		flags |= 8
	}
	b := []byte{flags, byte(out), byte(in), byte(int8(s.GroupSize))}
	for _, p := range ps {
		i := 0
		for fuzzDTypes[i] != p.DType {
			i++
		}
		b = append(b, byte(i), byte(len(p.Shape)))
		for _, d := range p.Shape {
			b = append(b, byte(d))
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Data)))
		b = append(b, p.Data...)
	}
	return b
}

// FuzzUnpackGPTQ checks that UnpackGPTQ never panics on any tensors, that
// its errors are one line, and that whatever it accepts is a valid
// tensor which packs back into the same bytes (scales stored as F16 and,
// with act-order, the same g_idx). Seeds are in
// testdata/fuzz/FuzzUnpackGPTQ.
func FuzzUnpackGPTQ(f *testing.F) {
	suffixes := []string{"qweight", "qzeros", "scales", "g_idx"}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := decodeFuzz(data, suffixes)
		o := GPTQOptions{ActOrder: c.actOrder, V2: c.v2}
		q, err := UnpackGPTQ(c.source, c.out, c.in, c.s, o)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q spans lines", err)
			}
			return
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("unpacked an invalid tensor: %v", err)
		}
		q.Dequantize()
		if c.tensors["scales"].DType != safetensors.F16 {
			return
		}
		ps, err := PackGPTQ(q, o)
		if err != nil {
			t.Fatalf("unpacked tensor does not pack again: %v", err)
		}
		for _, p := range ps {
			if p.Suffix == "g_idx" && !c.actOrder {
				continue
			}
			if !bytes.Equal(p.Data, c.tensors[p.Suffix].Data) {
				t.Fatalf("%s packs back to %x, read from %x", p.Suffix, p.Data, c.tensors[p.Suffix].Data)
			}
		}
	})
}

// FuzzUnpackAWQ and FuzzUnpackCompressed check the other unpackers for
// panics and for valid results; they run from their inline seeds.
func FuzzUnpackAWQ(f *testing.F) {
	suffixes := []string{"qweight", "qzeros", "scales"}
	for _, gc := range goldenCases() {
		if gc.cfg.Format == AWQ {
			f.Add(encodeFuzz(gc.cfg.Scheme, false, false, gc.tensor.Out, gc.tensor.In, gc.want))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := decodeFuzz(data, suffixes)
		c.s.MinZero = 0
		checkFuzzResult(t, func() (*quant.Tensor, error) { return UnpackAWQ(c.source, c.out, c.in, c.s) })
	})
}

func FuzzUnpackCompressed(f *testing.F) {
	suffixes := []string{"weight_packed", "weight_scale", "weight_zero_point", "weight_shape", "weight_g_idx"}
	for _, gc := range goldenCases() {
		if gc.cfg.Format == CompressedTensors && !gc.cfg.Scheme.Symmetric {
			f.Add(encodeFuzz(gc.cfg.Scheme, gc.cfg.ActOrder, false, gc.tensor.Out, gc.tensor.In, gc.want))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := decodeFuzz(data, suffixes)
		c.s.MinZero = 0
		o := CompressedOptions{ActOrder: c.actOrder}
		checkFuzzResult(t, func() (*quant.Tensor, error) { return UnpackCompressed(c.source, c.out, c.in, c.s, o) })
	})
}

func checkFuzzResult(t *testing.T, unpack func() (*quant.Tensor, error)) {
	q, err := unpack()
	if err != nil {
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error %q spans lines", err)
		}
		if errors.Is(err, ErrFormat) && !strings.Contains(err.Error(), ": ") {
			t.Fatalf("error %q does not name the tensor", err)
		}
		return
	}
	if err := q.Validate(); err != nil {
		t.Fatalf("unpacked an invalid tensor: %v", err)
	}
	q.Dequantize()
}
