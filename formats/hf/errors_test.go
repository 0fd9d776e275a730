package hf

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/quant"
)

func TestPackErrors(t *testing.T) {
	asym := quant.Scheme{Bits: 4, GroupSize: 8}
	tensor := func(out, in int, s quant.Scheme, change func(*quant.Tensor)) *quant.Tensor {
		q := goldenTensor(out, in, s, func(r, g int) uint8 { return uint8(1 + r%8) })
		if s.Symmetric {
			q = goldenTensor(out, in, s, middle(s.Bits))
		}
		if change != nil {
			change(q)
		}
		return q
	}
	sym := quant.Scheme{Bits: 4, GroupSize: 8, Symmetric: true}
	tests := []struct {
		name   string
		pack   func() ([]Packed, error)
		want   string
		target error
	}{
		{
			name: "gptq v1 zero point 0",
			pack: func() ([]Packed, error) {
				return PackGPTQ(tensor(8, 16, asym, func(q *quant.Tensor) { q.Zero[5] = 0 }), GPTQOptions{})
			},
			want: "gptq: row 2, group 1: GPTQ v1 cannot store a zero point of 0", target: ErrGPTQv1Zero,
		},
		{
			name: "gptq act-order without desc_act",
			pack: func() ([]Packed, error) {
				return PackGPTQ(tensor(8, 16, asym, func(q *quant.Tensor) { q.GIdx[0] = 1 }), GPTQOptions{})
			},
			want: "act-order) but desc_act is off",
		},
		{
			name: "gptq input channels",
			pack: func() ([]Packed, error) {
				return PackGPTQ(tensor(8, 12, quant.Scheme{Bits: 4, GroupSize: -1}, nil), GPTQOptions{})
			},
			want: "gptq: 12 input channels are not a multiple of 8",
		},
		{
			name: "gptq output channels",
			pack: func() ([]Packed, error) { return PackGPTQ(tensor(6, 16, asym, nil), GPTQOptions{}) },
			want: "gptq: 6 output channels are not a multiple of 8",
		},
		{
			name: "gptq scale not float16",
			pack: func() ([]Packed, error) {
				return PackGPTQ(tensor(8, 16, asym, func(q *quant.Tensor) { q.Scale[3] = 0.1 }), GPTQOptions{})
			},
			want: "gptq: scale [1, 1] = 0.1 is not a F16 value",
		},
		{
			name: "gptq symmetric zero point",
			pack: func() ([]Packed, error) {
				return PackGPTQ(tensor(8, 16, sym, func(q *quant.Tensor) { q.Zero[0] = 7 }), GPTQOptions{})
			},
			want: "gptq: Zero[0, 0] = 7 is outside [8, 8]",
		},
		{
			name: "invalid tensor",
			pack: func() ([]Packed, error) {
				return PackGPTQ(tensor(8, 16, asym, func(q *quant.Tensor) { q.Q[17] = 16 }), GPTQOptions{})
			},
			want: "gptq: Q[1, 1] = 16 is above 15",
		},
		{
			name:   "awq 8-bit",
			pack:   func() ([]Packed, error) { return PackAWQ(tensor(8, 16, quant.Scheme{Bits: 8, GroupSize: 8}, nil)) },
			want:   "awq: 8-bit weights: AWQ GEMM stores 4-bit only",
			target: ErrUnsupported,
		},
		{
			name: "awq act-order",
			pack: func() ([]Packed, error) {
				return PackAWQ(tensor(8, 16, asym, func(q *quant.Tensor) { q.GIdx[15] = 0 }))
			},
			want: "awq: g_idx is not c / group_size (act-order), which AWQ cannot store",
		},
		{
			name: "awq output channels",
			pack: func() ([]Packed, error) { return PackAWQ(tensor(12, 16, asym, nil)) },
			want: "awq: 12 output channels are not a multiple of 8",
		},
		{
			name: "compressed-tensors scale not bfloat16",
			pack: func() ([]Packed, error) {
				q := tensor(8, 16, asym, func(q *quant.Tensor) { q.Scale[2] = 1 + 0x1p-10 })
				return PackCompressed(q, CompressedOptions{ScaleDType: safetensors.BF16})
			},
			want: "compressed-tensors: scale [1, 0] = 1.0009766 is not a BF16 value (quantize with Scheme.BF16Scales)",
		},
		{
			name: "compressed-tensors scale dtype",
			pack: func() ([]Packed, error) {
				return PackCompressed(tensor(8, 16, asym, nil), CompressedOptions{ScaleDType: safetensors.F32})
			},
			want: "compressed-tensors: scale dtype F32: want F16 or BF16",
		},
		{
			name: "compressed-tensors act-order without actorder",
			pack: func() ([]Packed, error) {
				return PackCompressed(tensor(8, 16, asym, func(q *quant.Tensor) { q.GIdx[0] = 1 }), CompressedOptions{})
			},
			want: "act-order) but actorder is not \"group\"",
		},
		{
			name: "compressed-tensors act-order without groups",
			pack: func() ([]Packed, error) {
				return PackCompressed(tensor(8, 16, quant.Scheme{Bits: 4, GroupSize: -1}, nil), CompressedOptions{ActOrder: true})
			},
			want: "compressed-tensors: act-order needs groups",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.pack()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("error %v does not wrap %v", err, tt.target)
			}
		})
	}
}

// mutated serves ps with one tensor replaced (or removed, for a nil
// change result).
func mutated(ps []Packed, suffix string, change func(p Packed) *Packed) Source {
	var out []Packed
	for _, p := range ps {
		if p.Suffix == suffix {
			p.Shape = slices.Clone(p.Shape)
			p.Data = slices.Clone(p.Data)
			np := change(p)
			if np == nil {
				continue
			}
			p = *np
		}
		out = append(out, p)
	}
	return PackedSource(out)
}

func TestUnpackErrors(t *testing.T) {
	cases := goldenCases()
	golden := func(name string) goldenCase {
		for _, c := range cases {
			if c.name == name {
				return c
			}
		}
		panic(name)
	}
	gptq := golden("gptq 4-bit v1")
	gptqSym := golden("gptq 4-bit symmetric act-order")
	awq := golden("awq")
	ct := golden("compressed-tensors 4-bit asymmetric bf16 act-order")

	setWord := func(i int, w uint32) func(p Packed) *Packed {
		return func(p Packed) *Packed { le.PutUint32(p.Data[4*i:], w); return &p }
	}
	tests := []struct {
		name    string
		c       goldenCase
		get     Source
		out, in int
		want    string
		format  bool // the error wraps ErrFormat
	}{
		{
			name: "missing tensor", c: gptq,
			get:  mutated(gptq.want, "qzeros", func(Packed) *Packed { return nil }),
			want: `gptq: qzeros: no packed tensor "qzeros"`,
		},
		{
			name: "dtype", c: gptq,
			get:  mutated(gptq.want, "qweight", func(p Packed) *Packed { p.DType = safetensors.F32; return &p }),
			want: "gptq: qweight: dtype F32, want I32", format: true,
		},
		{
			name: "shape", c: gptq,
			get:  mutated(gptq.want, "qweight", func(p Packed) *Packed { p.Shape = []int{8, 2}; return &p }),
			want: "gptq: qweight: shape [8 2], want [2 8]", format: true,
		},
		{
			name: "short data", c: gptq,
			get:  mutated(gptq.want, "scales", func(p Packed) *Packed { p.Data = p.Data[:30]; return &p }),
			want: "gptq: scales: 30 bytes of data for F16 [2 8], want 32", format: true,
		},
		{
			name: "scale dtype", c: gptq,
			get:  mutated(gptq.want, "scales", func(p Packed) *Packed { p.DType = safetensors.I16; return &p }),
			want: "gptq: scales: dtype I16, want F16, BF16 or F32", format: true,
		},
		{
			name: "NaN scale", c: gptq,
			get: mutated(gptq.want, "scales", func(p Packed) *Packed {
				le.PutUint16(p.Data[6:], 0x7E00)
				return &p
			}),
			want: "gptq: scales: element 3 is NaN", format: true,
		},
		{
			name: "g_idx out of range", c: gptqSym,
			get:  mutated(gptqSym.want, "g_idx", setWord(4, 2)),
			want: "gptq: g_idx: channel 4 is in group 2, want one of 0..1", format: true,
		},
		{
			name: "negative g_idx", c: gptqSym,
			get:  mutated(gptqSym.want, "g_idx", setWord(0, math.MaxUint32)),
			want: "gptq: g_idx: channel 0 is in group -1", format: true,
		},
		{
			name: "v1 zero point overflow", c: gptq,
			get:  mutated(gptq.want, "qzeros", setWord(1, 0x789ABCDF)),
			want: "gptq: qzeros: row 0, group 1 holds 15: a v1 zero point of 16, beyond the 4-bit grid", format: true,
		},
		{
			name: "symmetric zero point", c: gptqSym,
			get:  mutated(gptqSym.want, "qzeros", setWord(0, 0x77777767)),
			want: "gptq: qzeros: row 1, group 0: zero point 7 in a symmetric checkpoint, want 8", format: true,
		},
		{
			name: "caller shape", c: gptq, get: PackedSource(gptq.want), out: -8, in: 16,
			want: "gptq: shape [-8, 16] is not positive",
		},
		{
			name: "caller group size", c: gptq, get: PackedSource(gptq.want), out: 8, in: 12,
			want: "gptq: group size 8 does not divide the 12 input channels",
		},
		{
			name: "awq output channels", c: awq, get: PackedSource(awq.want), out: 4, in: 16,
			want: "awq: 4 output channels are not a multiple of 8",
		},
		{
			name: "awq qzeros shape", c: awq,
			get:  mutated(awq.want, "qzeros", func(p Packed) *Packed { p.Shape = []int{1, 2}; return &p }),
			want: "awq: qzeros: shape [1 2], want [2 1]", format: true,
		},
		{
			name: "compressed-tensors weight_shape", c: ct,
			get:  mutated(ct.want, "weight_shape", func(p Packed) *Packed { p.Data = le64(16, 8); return &p }),
			want: "compressed-tensors: weight_shape: [16, 8], want [8, 16]", format: true,
		},
		{
			name: "compressed-tensors weight_shape dtype", c: ct,
			get:  mutated(ct.want, "weight_shape", func(p Packed) *Packed { p.DType = safetensors.I32; p.Shape = []int{4}; return &p }),
			want: "compressed-tensors: weight_shape: dtype I32, want I64", format: true,
		},
		{
			name: "compressed-tensors missing zero point", c: ct,
			get:  mutated(ct.want, "weight_zero_point", func(Packed) *Packed { return nil }),
			want: `compressed-tensors: weight_zero_point: no packed tensor "weight_zero_point"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, in := tt.out, tt.in
			if out == 0 && in == 0 {
				out, in = tt.c.tensor.Out, tt.c.tensor.In
			}
			_, err := Unpack(tt.c.cfg, tt.get, out, in)
			if err == nil || err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if errors.Is(err, ErrFormat) != tt.format {
				t.Errorf("errors.Is(%v, ErrFormat) = %v, want %v", err, !tt.format, tt.format)
			}
		})
	}
}

func ExamplePackGPTQ() {
	// One output row of 8 weights, 4-bit, one group: Q = 0..7, zero 1.
	q := &quant.Tensor{
		Out: 8, In: 8, Scheme: quant.Scheme{Bits: 4, GroupSize: -1, MinZero: 1},
		Q:     make([]uint8, 64),
		Scale: []float32{1, 1, 1, 1, 1, 1, 1, 1},
		Zero:  []uint8{1, 1, 1, 1, 1, 1, 1, 1},
		GIdx:  make([]int32, 8),
	}
	for c := range 8 {
		q.Q[c] = uint8(c)
	}
	ps, err := PackGPTQ(q, GPTQOptions{})
	if err != nil {
		panic(err)
	}
	for _, p := range ps {
		fmt.Printf("%s %s %v % x\n", p.Suffix, p.DType, p.Shape, p.Data[:4])
	}
	// Output:
	// qweight I32 [1 8] 10 32 54 76
	// qzeros I32 [1 1] 00 00 00 00
	// scales F16 [1 8] 00 3c 00 3c
	// g_idx I32 [8] 00 00 00 00
}
