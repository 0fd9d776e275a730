package hf

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/internal/half"
	"github.com/qtk-dev/qtk/quant"
)

// goldenTensor returns the tensor behind the golden vectors: out×in with
// groups of GroupSize input channels, Q[r, c] = (r+c) mod 16 for 4 bits
// and 16r+c for 8 bits (with Q[7, 15] = 255 when it exists), scales
// (r+1)/4 for group 0 and 3·2⁻ʳ for group 1, and zero points from zero.
func goldenTensor(out, in int, s quant.Scheme, zero func(r, g int) uint8) *quant.Tensor {
	groups := s.Groups(in)
	t := &quant.Tensor{
		Out: out, In: in, Scheme: s,
		Q:     make([]uint8, out*in),
		Scale: make([]float32, out*groups),
		Zero:  make([]uint8, out*groups),
		GIdx:  s.DefaultGIdx(in),
	}
	for r := range out {
		for c := range in {
			if s.Bits == 4 {
				t.Q[r*in+c] = uint8((r + c) % 16)
			} else {
				t.Q[r*in+c] = uint8(16*r + c)
			}
		}
		for g := range groups {
			t.Scale[r*groups+g] = float32(r+1) / 4
			if g == 1 {
				t.Scale[r*groups+g] = 3 * float32(math.Ldexp(1, -r))
			}
			t.Zero[r*groups+g] = zero(r, g)
		}
	}
	if s.Bits == 8 && out > 7 && in > 15 {
		t.Q[7*in+15] = 255
	}
	return t
}

// Zero-point patterns of the golden tensors.
func rowPlusOne(r, g int) uint8 { return [2]uint8{uint8(r + 1), uint8(15 - r)}[g] }
func rowOrReverse(r, g int) uint8 {
	return [2]uint8{uint8(r), uint8(15 - r)}[g]
}
func middle(bits int) func(r, g int) uint8 {
	return func(int, int) uint8 { return uint8(1 << (bits - 1)) }
}

// le32 returns words as little-endian bytes, rows one after another.
func le32(rows ...[]uint32) []byte {
	var b []byte
	for _, r := range rows {
		for _, w := range r {
			b = binary.LittleEndian.AppendUint32(b, w)
		}
	}
	return b
}

func le16(vals ...uint16) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

func le64(vals ...int64) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func gidxBytes(g ...int32) []byte {
	var b []byte
	for _, v := range g {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// interleave lays out per-group columns a and b as [n, 2] rows.
func interleave(a, b []uint16) []uint16 {
	var v []uint16
	for i := range a {
		v = append(v, a[i], b[i])
	}
	return v
}

// Scales of the 8-row golden tensors, as float16 and bfloat16 bits.
var (
	f16Group0  = []uint16{0x3400, 0x3800, 0x3A00, 0x3C00, 0x3D00, 0x3E00, 0x3F00, 0x4000}
	f16Group1  = []uint16{0x4200, 0x3E00, 0x3A00, 0x3600, 0x3200, 0x2E00, 0x2A00, 0x2600}
	bf16Group0 = []uint16{0x3E80, 0x3F00, 0x3F40, 0x3F80, 0x3FA0, 0x3FC0, 0x3FE0, 0x4000}
	bf16Group1 = []uint16{0x4040, 0x3FC0, 0x3F40, 0x3EC0, 0x3E40, 0x3DC0, 0x3D40, 0x3CC0}
)

// Words of the golden Q packed LSB-first along the input dimension, one
// row per output channel: 4 bits (8 per word) and 8 bits (4 per word).
var (
	q4Rows = [][]uint32{
		{0x76543210, 0xFEDCBA98},
		{0x87654321, 0x0FEDCBA9},
		{0x98765432, 0x10FEDCBA},
		{0xA9876543, 0x210FEDCB},
		{0xBA987654, 0x3210FEDC},
		{0xCBA98765, 0x43210FED},
		{0xDCBA9876, 0x543210FE},
		{0xEDCBA987, 0x6543210F},
	}
	q8Rows = [][]uint32{
		{0x03020100, 0x07060504, 0x0B0A0908, 0x0F0E0D0C},
		{0x13121110, 0x17161514, 0x1B1A1918, 0x1F1E1D1C},
		{0x23222120, 0x27262524, 0x2B2A2928, 0x2F2E2D2C},
		{0x33323130, 0x37363534, 0x3B3A3938, 0x3F3E3D3C},
		{0x43424140, 0x47464544, 0x4B4A4948, 0x4F4E4D4C},
		{0x53525150, 0x57565554, 0x5B5A5958, 0x5F5E5D5C},
		{0x63626160, 0x67666564, 0x6B6A6968, 0x6F6E6D6C},
		{0x73727170, 0x77767574, 0x7B7A7978, 0xFF7E7D7C},
	}
)

// transpose turns per-output-row words into GPTQ's [in/f, out] layout.
func transpose(rows [][]uint32) [][]uint32 {
	t := make([][]uint32, len(rows[0]))
	for k := range t {
		for _, r := range rows {
			t[k] = append(t[k], r[k])
		}
	}
	return t
}

// checkPacked compares packed tensors with the expected ones.
func checkPacked(t *testing.T, got, want []Packed) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors %v, want %d %v", len(got), suffixes(got), len(want), suffixes(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Suffix != w.Suffix || g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) {
			t.Errorf("tensor %d: %s %s %v, want %s %s %v", i, g.Suffix, g.DType, g.Shape, w.Suffix, w.DType, w.Shape)
			continue
		}
		if !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: data\n%x\nwant\n%x", w.Suffix, g.Data, w.Data)
		}
	}
}

func suffixes(ps []Packed) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Suffix)
	}
	return s
}

// checkSameTensor compares two quantized tensors field by field, and their
// dequantized values bit for bit.
func checkSameTensor(t *testing.T, got, want *quant.Tensor) {
	t.Helper()
	if got.Out != want.Out || got.In != want.In || got.Scheme != want.Scheme {
		t.Fatalf("got [%d, %d] %+v, want [%d, %d] %+v", got.Out, got.In, got.Scheme, want.Out, want.In, want.Scheme)
	}
	if !slices.Equal(got.Q, want.Q) {
		t.Errorf("Q differs:\n%v\nwant\n%v", got.Q, want.Q)
	}
	if !slices.Equal(got.Scale, want.Scale) {
		t.Errorf("Scale %v, want %v", got.Scale, want.Scale)
	}
	if !slices.Equal(got.Zero, want.Zero) {
		t.Errorf("Zero %v, want %v", got.Zero, want.Zero)
	}
	if !slices.Equal(got.GIdx, want.GIdx) {
		t.Errorf("GIdx %v, want %v", got.GIdx, want.GIdx)
	}
	gd, wd := got.Dequantize(), want.Dequantize()
	for i := range wd {
		if math.Float32bits(gd[i]) != math.Float32bits(wd[i]) {
			t.Fatalf("dequantized [%d] = %v, want %v", i, gd[i], wd[i])
		}
	}
}

// randomTensor returns a valid random tensor of the scheme, with random
// act-order groups when actOrder is set.
func randomTensor(rng *rand.Rand, out, in int, s quant.Scheme, actOrder bool) *quant.Tensor {
	groups := s.Groups(in)
	t := &quant.Tensor{
		Out: out, In: in, Scheme: s,
		Q:     make([]uint8, out*in),
		Scale: make([]float32, out*groups),
		Zero:  make([]uint8, out*groups),
		GIdx:  s.DefaultGIdx(in),
	}
	maxq := s.MaxQ()
	for i := range t.Q {
		t.Q[i] = uint8(rng.IntN(maxq + 1))
	}
	round := roundF16
	if s.BF16Scales {
		round = roundBF16
	}
	for i := range t.Scale {
		t.Scale[i] = round(float32(rng.ExpFloat64() * 0.01))
		switch {
		case s.Symmetric:
			t.Zero[i] = uint8(1 << (s.Bits - 1))
		default:
			t.Zero[i] = uint8(int(s.MinZero) + rng.IntN(maxq+1-int(s.MinZero)))
		}
	}
	if actOrder {
		for c := range t.GIdx {
			t.GIdx[c] = int32(rng.IntN(groups))
		}
	}
	return t
}

func roundF16(f float32) float32  { return half.F16ToF32(half.F32ToF16(f)) }
func roundBF16(f float32) float32 { return half.BF16ToF32(half.F32ToBF16(f)) }
