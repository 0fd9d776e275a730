package hf

import (
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/quant"
)

// The golden vectors are written from the layouts' specifications, not
// from the packers: each expected word was worked out from the reference
// pack loops (AutoGPTQ's qlinear pack, AutoAWQ's WQLinear_GEMM.from_linear,
// compressed-tensors' pack_to_int32) and is easy to check by eye, e.g. the
// 4-bit row Q = 0, 1, ..., 7 packs LSB-first into 0x76543210, and AWQ's
// nibble order [0,2,4,6,1,3,5,7] turns output channels 0..7 into
// 0x75316420. Packing must produce them exactly; unpacking them must give
// the tensor back.

type goldenCase struct {
	name   string
	cfg    Config
	tensor *quant.Tensor
	want   []Packed
}

func goldenCases() []goldenCase {
	i32, f16, bf16, i64 := safetensors.I32, safetensors.F16, safetensors.BF16, safetensors.I64
	gptqScales := Packed{"scales", f16, []int{2, 8}, le16(slices.Concat(f16Group0, f16Group1)...)}
	defaultGIdx := gidxBytes(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
	alternating := []int32{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}
	withGIdx := func(t *quant.Tensor, g []int32) *quant.Tensor { t.GIdx = g; return t }

	asym4v1 := quant.Scheme{Bits: 4, GroupSize: 8, MinZero: 1}
	sym4 := quant.Scheme{Bits: 4, GroupSize: 8, Symmetric: true}
	asym4 := quant.Scheme{Bits: 4, GroupSize: 8}
	asym8v1 := quant.Scheme{Bits: 8, GroupSize: 8, MinZero: 1}
	sym8 := quant.Scheme{Bits: 8, GroupSize: 8, Symmetric: true}
	asym8 := quant.Scheme{Bits: 8, GroupSize: 8}
	bf16Asym4 := quant.Scheme{Bits: 4, GroupSize: 8, BF16Scales: true}
	perRow4 := quant.Scheme{Bits: 4, GroupSize: -1}

	return []goldenCase{
		{
			name:   "gptq 4-bit v1",
			cfg:    Config{Format: GPTQ, Scheme: asym4v1, ActOrder: true},
			tensor: goldenTensor(8, 16, asym4v1, rowPlusOne),
			want: []Packed{
				{"qweight", i32, []int{2, 8}, le32(transpose(q4Rows)...)},
				// zero-1: 0..7 and 14..7
				{"qzeros", i32, []int{2, 1}, le32([]uint32{0x76543210}, []uint32{0x789ABCDE})},
				gptqScales,
				{"g_idx", i32, []int{16}, defaultGIdx},
			},
		},
		{
			name:   "gptq 4-bit symmetric act-order",
			cfg:    Config{Format: GPTQ, Scheme: sym4, ActOrder: true},
			tensor: withGIdx(goldenTensor(8, 16, sym4, middle(4)), alternating),
			want: []Packed{
				{"qweight", i32, []int{2, 8}, le32(transpose(q4Rows)...)},
				{"qzeros", i32, []int{2, 1}, le32([]uint32{0x77777777}, []uint32{0x77777777})},
				gptqScales,
				{"g_idx", i32, []int{16}, gidxBytes(alternating...)},
			},
		},
		{
			name:   "gptq 4-bit v2",
			cfg:    Config{Format: GPTQ, Scheme: asym4, GPTQv2: true},
			tensor: goldenTensor(8, 16, asym4, rowOrReverse),
			want: []Packed{
				{"qweight", i32, []int{2, 8}, le32(transpose(q4Rows)...)},
				{"qzeros", i32, []int{2, 1}, le32([]uint32{0x76543210}, []uint32{0x89ABCDEF})},
				gptqScales,
				{"g_idx", i32, []int{16}, defaultGIdx},
			},
		},
		{
			name: "gptq 8-bit v1",
			cfg:  Config{Format: GPTQ, Scheme: asym8v1},
			tensor: goldenTensor(8, 16, asym8v1, func(r, g int) uint8 {
				return [2]uint8{uint8(r + 1), uint8(200 + r)}[g]
			}),
			want: []Packed{
				{"qweight", i32, []int{4, 8}, le32(transpose(q8Rows)...)},
				{"qzeros", i32, []int{2, 2}, le32([]uint32{0x03020100, 0x07060504}, []uint32{0xCAC9C8C7, 0xCECDCCCB})},
				gptqScales,
				{"g_idx", i32, []int{16}, defaultGIdx},
			},
		},
		{
			name:   "gptq 8-bit symmetric",
			cfg:    Config{Format: GPTQ, Scheme: sym8},
			tensor: goldenTensor(8, 16, sym8, middle(8)),
			want: []Packed{
				{"qweight", i32, []int{4, 8}, le32(transpose(q8Rows)...)},
				{"qzeros", i32, []int{2, 2}, le32([]uint32{0x7F7F7F7F, 0x7F7F7F7F}, []uint32{0x7F7F7F7F, 0x7F7F7F7F})},
				gptqScales,
				{"g_idx", i32, []int{16}, defaultGIdx},
			},
		},
		{
			name:   "awq",
			cfg:    Config{Format: AWQ, Scheme: asym4},
			tensor: goldenTensor(8, 16, asym4, rowOrReverse),
			want: []Packed{
				// input channel c: output channels in nibble order 0,2,4,6,1,3,5,7, each (r+c) mod 16
				{"qweight", i32, []int{16, 1}, le32([]uint32{
					0x75316420, 0x86427531, 0x97538642, 0xA8649753, 0xB975A864, 0xCA86B975, 0xDB97CA86, 0xECA8DB97,
					0xFDB9ECA8, 0x0ECAFDB9, 0x1FDB0ECA, 0x20EC1FDB, 0x31FD20EC, 0x420E31FD, 0x531F420E, 0x6420531F,
				})},
				// zeros as they are: 0..7 and 15..8, in nibble order
				{"qzeros", i32, []int{2, 1}, le32([]uint32{0x75316420}, []uint32{0x8ACE9BDF})},
				gptqScales,
			},
		},
		{
			name:   "compressed-tensors 4-bit symmetric",
			cfg:    Config{Format: CompressedTensors, Scheme: sym4, ScaleDType: f16},
			tensor: goldenTensor(8, 16, sym4, middle(4)),
			want: []Packed{
				// signed q-8 stored with offset +8: the unsigned Q
				{"weight_packed", i32, []int{8, 2}, le32(q4Rows...)},
				{"weight_scale", f16, []int{8, 2}, le16(interleave(f16Group0, f16Group1)...)},
				{"weight_shape", i64, []int{2}, le64(8, 16)},
			},
		},
		{
			name:   "compressed-tensors 4-bit asymmetric bf16 act-order",
			cfg:    Config{Format: CompressedTensors, Scheme: bf16Asym4, ScaleDType: bf16, ActOrder: true},
			tensor: withGIdx(goldenTensor(8, 16, bf16Asym4, rowOrReverse), alternating),
			want: []Packed{
				{"weight_packed", i32, []int{8, 2}, le32(q4Rows...)},
				{"weight_scale", bf16, []int{8, 2}, le16(interleave(bf16Group0, bf16Group1)...)},
				// packed along the output dimension: rows 0..7 of each group
				{"weight_zero_point", i32, []int{1, 2}, le32([]uint32{0x76543210, 0x89ABCDEF})},
				{"weight_shape", i64, []int{2}, le64(8, 16)},
				{"weight_g_idx", i32, []int{16}, gidxBytes(alternating...)},
			},
		},
		{
			name: "compressed-tensors 8-bit asymmetric",
			cfg:  Config{Format: CompressedTensors, Scheme: asym8, ScaleDType: f16},
			tensor: goldenTensor(8, 16, asym8, func(r, g int) uint8 {
				return [2]uint8{uint8(r), uint8(200 + r)}[g]
			}),
			want: []Packed{
				{"weight_packed", i32, []int{8, 4}, le32(q8Rows...)},
				{"weight_scale", f16, []int{8, 2}, le16(interleave(f16Group0, f16Group1)...)},
				{"weight_zero_point", i32, []int{2, 2}, le32([]uint32{0x03020100, 0xCBCAC9C8}, []uint32{0x07060504, 0xCFCECDCC})},
				{"weight_shape", i64, []int{2}, le64(8, 16)},
			},
		},
		{
			// 12 values per row and column: the second word holds 4 and
			// zero padding
			name:   "compressed-tensors padded 12x12",
			cfg:    Config{Format: CompressedTensors, Scheme: perRow4, ScaleDType: f16},
			tensor: goldenTensor(12, 12, perRow4, func(r, _ int) uint8 { return uint8(r) }),
			want: []Packed{
				{"weight_packed", i32, []int{12, 2}, le32(
					[]uint32{0x76543210, 0x0000BA98}, []uint32{0x87654321, 0x0000CBA9},
					[]uint32{0x98765432, 0x0000DCBA}, []uint32{0xA9876543, 0x0000EDCB},
					[]uint32{0xBA987654, 0x0000FEDC}, []uint32{0xCBA98765, 0x00000FED},
					[]uint32{0xDCBA9876, 0x000010FE}, []uint32{0xEDCBA987, 0x0000210F},
					[]uint32{0xFEDCBA98, 0x00003210}, []uint32{0x0FEDCBA9, 0x00004321},
					[]uint32{0x10FEDCBA, 0x00005432}, []uint32{0x210FEDCB, 0x00006543},
				)},
				{"weight_scale", f16, []int{12, 1}, le16(0x3400, 0x3800, 0x3A00, 0x3C00, 0x3D00, 0x3E00, 0x3F00, 0x4000, 0x4080, 0x4100, 0x4180, 0x4200)},
				{"weight_zero_point", i32, []int{2, 1}, le32([]uint32{0x76543210}, []uint32{0x0000BA98})},
				{"weight_shape", i64, []int{2}, le64(12, 12)},
			},
		},
	}
}

func TestGoldenPack(t *testing.T) {
	for _, tt := range goldenCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Pack(tt.cfg, tt.tensor)
			if err != nil {
				t.Fatal(err)
			}
			checkPacked(t, got, tt.want)

			plan, err := Plan(tt.cfg, tt.tensor.Out, tt.tensor.In)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				tt.want[i].Data = nil
			}
			checkPacked(t, plan, tt.want)
		})
	}
}

func TestGoldenUnpack(t *testing.T) {
	for _, tt := range goldenCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Unpack(tt.cfg, PackedSource(tt.want), tt.tensor.Out, tt.tensor.In)
			if err != nil {
				t.Fatal(err)
			}
			checkSameTensor(t, got, tt.tensor)
		})
	}
}
