package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// int4Kernels is a family of kernels for products of a few rows of A with
// a 4-bit weight (gemm.Int4), computed from the codes without widening the
// weight to float32. Each kernel computes `panels` panels of 16 weight rows
// for m rows of A, one vector lane per weight row, so that a group's scale
// and zero point are one vector per panel and no horizontal sums are
// needed.
//
// A word holds 8 codes, nibble i being code i. Nibble i < 7 is isolated by
// a mask, which leaves code·2^(4i), and nibble 7 by a shift; the Go driver
// scales the column of A that meets nibble i by 2^(-4i) (1 for nibble 7),
// so each fused multiply-add sees code·x exactly.
type int4Kernels struct {
	name     string
	vecs     int // vectors per panel of 16 lanes: 1 for half-panel kernels
	vecBytes int
	vec      func() VecVirtual
	zero     func(x VecVirtual)
	// avx512 kernels keep the masks in registers and broadcast x from
	// memory operands; AVX2 ones read the masks from memory and broadcast
	// x into registers.
	avx512 bool
	// shapes lists (m, panels) for each kernel emitted.
	shapes [][2]int
}

// int4AVX2: a panel is two YMM vectors.
var int4AVX2 = int4Kernels{
	name: "int4AVX2", vecs: 2, vecBytes: 32, vec: YMM,
	zero:   func(x VecVirtual) { VXORPS(x, x, x) },
	shapes: [][2]int{{1, 1}},
}

// int4AVX2Half computes the 8 rows of one half of a panel, its stream and
// output offset by 8 lanes for the upper half: with 16 YMM registers, up
// to three rows of A fit then.
var int4AVX2Half = int4Kernels{
	name: "int4AVX2Half", vecs: 1, vecBytes: 32, vec: YMM,
	zero:   func(x VecVirtual) { VXORPS(x, x, x) },
	shapes: [][2]int{{3, 1}, {2, 1}},
}

// int4AVX512: a panel is one ZMM vector; four panels keep four independent
// accumulator chains in flight for one row of A.
var int4AVX512 = int4Kernels{
	name: "int4AVX512", vecs: 1, vecBytes: 64, vec: ZMM,
	zero:   func(x VecVirtual) { VPXORD(x, x, x) },
	avx512: true,
	shapes: [][2]int{{1, 4}, {1, 1}, {2, 2}, {2, 1}, {3, 2}, {3, 1}, {4, 1}},
}

// int4Prefetch is how far ahead of its reads a kernel prefetches each
// panel's stream, in bytes.
const int4Prefetch = 1024

// int4Masks isolates nibble i of each dword, i < 7: eight dwords per mask.
var int4Masks Mem

func int4MaskTable() {
	int4Masks = GLOBL("int4masks", RODATA|NOPTR)
	for i := 0; i < 7; i++ {
		for l := 0; l < 8; l++ {
			DATA(32*i+4*l, U32(uint32(0xF)<<(4*i)))
		}
	}
}

func (f int4Kernels) emit() {
	for _, s := range f.shapes {
		f.kernel(s[0], s[1])
	}
}

// kernel emits {name}{m}x{panels}. The stream of a panel holds, for each
// group, 16 negated zero points (float32 bits), the group's chunks of 16
// words (one word of 8 codes per weight row) and 16 scales, so that the
// kernel reads it front to back. x holds A's columns in the order of the
// codes, the m rows interleaved (x[j*m+b], nibble-scaled), and sums each
// group's plain sum of A's row b at sums[g*m+b].
//
// Per row of A and weight row, a group sums -zero·Σx and then code·x over
// its even columns, in order, code·x over its odd columns apart, and adds
// the two; the groups' sums times their scales are added in order of the
// groups.
func (f int4Kernels) kernel(m, panels int) {
	name := fmt.Sprintf("%s%dx%d", f.name, m, panels)
	TEXT(name, NOSPLIT, "func(stream *uint32, panelBytes int, x, sums, y *float32, ldy, groups, groupChunks int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets y[b*ldy+r] for b < %d and the %d rows r of %d panels", name, m, 16*panels, panels),
		"whose streams start at stream, panelBytes apart, from the nibble-scaled",
		"interleaved x and the group sums of A (see int4.go). groups and groupChunks must be ≥ 1.")
	stream := Load(Param("stream"), GP64())
	panelBytes := Load(Param("panelBytes"), GP64())
	x := Load(Param("x"), GP64())
	sums := Load(Param("sums"), GP64())
	groups := Load(Param("groups"), GP64())
	ptr := []Register{stream}
	for p := 1; p < panels; p++ {
		next := GP64()
		LEAQ(Mem{Base: ptr[p-1], Index: panelBytes, Scale: 1}, next)
		ptr = append(ptr, next)
	}
	var masks [7]VecVirtual
	if f.avx512 {
		for i := range masks {
			masks[i] = f.vec()
			VPBROADCASTD(int4Masks.Offset(32*i), masks[i])
		}
	}

	nv := panels * f.vecs // vectors across the panels
	vbytes := f.vecBytes
	// at is vector v's part of the 16 values at its panel's stream pointer.
	at := func(v int) Mem { return Mem{Base: ptr[v/f.vecs], Disp: vbytes * (v % f.vecs)} }
	newAccs := func() [][]VecVirtual {
		a := make([][]VecVirtual, nv)
		for v := range a {
			for b := 0; b < m; b++ {
				a[v] = append(a[v], f.vec())
			}
		}
		return a
	}
	// Even and odd columns of a chunk go to two accumulators, which
	// halves the chains of dependent multiply-adds.
	total, acc, odd := newAccs(), newAccs(), newAccs()
	for v := range total {
		for b := range total[v] {
			f.zero(total[v][b])
		}
	}
	advance := func(bytes int) {
		for _, p := range ptr {
			ADDQ(U32(bytes), p)
		}
	}

	Label("group")
	Comment("acc = -zero · Σ_group x, odd = 0")
	for b := 0; b < m; b++ {
		for v := 0; v < nv; v++ {
			f.zero(odd[v][b])
		}
		sum := Mem{Base: sums, Disp: 4 * b}
		if f.avx512 {
			for v := 0; v < nv; v++ {
				VMOVUPS(at(v), acc[v][b])
				VMULPS_BCST(sum, acc[v][b], acc[v][b])
			}
			continue
		}
		s := f.vec()
		VBROADCASTSS(sum, s)
		for v := 0; v < nv; v++ {
			VMULPS(at(v), s, acc[v][b])
		}
	}
	advance(64)
	chunks := Load(Param("groupChunks"), GP64())

	Label("chunk")
	Comment("acc += code · x over the 8 columns of a chunk")
	words := make([]VecVirtual, nv)
	for v := range words {
		words[v] = f.vec()
		f.load(at(v), words[v])
	}
	for _, p := range ptr {
		PREFETCHT0(Mem{Base: p, Disp: int4Prefetch})
	}
	for i := 0; i < 8; i++ {
		xb := make([]VecVirtual, m) // AVX2 has no broadcast operands
		if !f.avx512 {
			for b := range xb {
				xb[b] = f.vec()
				VBROADCASTSS(Mem{Base: x, Disp: 4 * (i*m + b)}, xb[b])
			}
		}
		for v := 0; v < nv; v++ {
			t := f.vec()
			switch {
			case i == 7:
				VPSRLD(U8(28), words[v], t)
			case f.avx512:
				VPANDD(masks[i], words[v], t)
			default:
				VPAND(int4Masks.Offset(32*i), words[v], t)
			}
			VCVTDQ2PS(t, t)
			for b := 0; b < m; b++ {
				sum := acc[v][b]
				if i%2 == 1 {
					sum = odd[v][b]
				}
				if f.avx512 {
					VFMADD231PS_BCST(Mem{Base: x, Disp: 4 * (i*m + b)}, t, sum)
				} else {
					VFMADD231PS(xb[b], t, sum)
				}
			}
		}
	}
	advance(64)
	ADDQ(U32(32*m), x)
	DECQ(chunks)
	JNZ(LabelRef("chunk"))

	Comment("total += scale · (acc + odd)")
	for v := 0; v < nv; v++ {
		for b := 0; b < m; b++ {
			VADDPS(odd[v][b], acc[v][b], acc[v][b])
			VFMADD231PS(at(v), acc[v][b], total[v][b])
		}
	}
	advance(64)
	ADDQ(U8(4*m), sums)
	DECQ(groups)
	JNZ(LabelRef("group"))

	y := Load(Param("y"), GP64())
	ldy := Load(Param("ldy"), GP64())
	SHLQ(U8(2), ldy)
	for b := 0; b < m; b++ {
		for v := 0; v < nv; v++ {
			VMOVUPS(total[v][b], Mem{Base: y, Disp: 64*(v/f.vecs) + vbytes*(v%f.vecs)})
		}
		if b < m-1 {
			ADDQ(ldy, y)
		}
	}
	VZEROUPPER()
	RET()
}

func (f int4Kernels) load(src Mem, dst VecVirtual) {
	if f.avx512 {
		VMOVDQU32(src, dst)
	} else {
		VMOVDQU(src, dst)
	}
}

// dequantize emits {name}Dequantize, which widens one panel of codes to
// float32 as (code - zero)·scale, rounded once after the exact
// subtraction, as Int4's longer products need it.
func (f int4Kernels) dequantize() {
	name := f.name + "Dequantize"
	TEXT(name, NOSPLIT, "func(stream *uint32, dst *float32, offsets *int32, groups, groupChunks int)")
	Pragma("noescape")
	Doc(name+" writes the 16 rows of the panel whose stream starts at stream, column",
		"j of the codes at dst + offsets[j] bytes (16 floats), as (code - zero)·scale.",
		"groups and groupChunks must be ≥ 1.")
	stream := Load(Param("stream"), GP64())
	dst := Load(Param("dst"), GP64())
	offsets := Load(Param("offsets"), GP64())
	groups := Load(Param("groups"), GP64())
	scaleOff := Load(Param("groupChunks"), GP64()) // bytes from a group's codes to its scales
	SHLQ(U8(6), scaleOff)
	nibble := f.vec()
	VPBROADCASTD(int4Masks, nibble)
	vbytes := f.vecBytes
	negZero, scale, word := make([]VecVirtual, f.vecs), make([]VecVirtual, f.vecs), make([]VecVirtual, f.vecs)
	for v := range negZero {
		negZero[v], scale[v], word[v] = f.vec(), f.vec(), f.vec()
	}

	Label("group")
	for v := range negZero {
		VMOVUPS(Mem{Base: stream, Disp: vbytes * v}, negZero[v])
		VMOVUPS(Mem{Base: stream, Index: scaleOff, Scale: 1, Disp: 64 + vbytes*v}, scale[v])
	}
	ADDQ(U8(64), stream)
	chunks := Load(Param("groupChunks"), GP64())
	Label("chunk")
	for v := range word {
		f.load(Mem{Base: stream, Disp: vbytes * v}, word[v])
	}
	off := GP64()
	for i := 0; i < 8; i++ {
		MOVLQSX(Mem{Base: offsets, Disp: 4 * i}, off)
		for v := range word {
			t := f.vec()
			switch i {
			case 0:
				f.and(nibble, word[v], t)
			case 7:
				VPSRLD(U8(28), word[v], t)
			default:
				VPSRLD(U8(4*i), word[v], t)
				f.and(nibble, t, t)
			}
			VCVTDQ2PS(t, t)
			VADDPS(negZero[v], t, t)
			VMULPS(scale[v], t, t)
			VMOVUPS(t, Mem{Base: dst, Index: off, Scale: 1, Disp: vbytes * v})
		}
	}
	ADDQ(U8(32), offsets)
	ADDQ(U8(64), stream)
	DECQ(chunks)
	JNZ(LabelRef("chunk"))
	ADDQ(U8(64), stream) // past the scales
	DECQ(groups)
	JNZ(LabelRef("group"))
	VZEROUPPER()
	RET()
}

func (f int4Kernels) and(mask, x, dst VecVirtual) {
	if f.avx512 {
		VPANDD(mask, x, dst)
	} else {
		VPAND(mask, x, dst)
	}
}
