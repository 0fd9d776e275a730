package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// tile is a family of register-tiled micro-kernels: mr rows of C by nr
// columns, each row held in two vector accumulators. Kernels for r < mr
// rows serve the last row panel when m is not a multiple of mr; they read
// the same packed A layout (mr floats per k step).
type tile struct {
	name     string // kernels are named name{r}x{nr}
	mr, nr   int
	vecBytes int // bytes per vector register
	vec      func() VecVirtual
	zero     func(x VecVirtual)
}

// avx2Tile: 6×16 uses 12 YMM accumulators plus two B vectors and one
// broadcast, 15 of the 16 YMM registers.
var avx2Tile = tile{
	name: "fmaKernel", mr: 6, nr: 16, vecBytes: 32,
	vec:  YMM,
	zero: func(x VecVirtual) { VXORPS(x, x, x) },
}

// avx512Tile: 12×32 in 24 ZMM accumulators, plus two B vectors and one
// broadcast, 27 of the 32 ZMM registers. Broadcasting A into a register
// once per row keeps loads (14 per k step) below the 24 FMAs, which two FMA
// pipes retire in 12 cycles.
var avx512Tile = tile{
	name: "avx512Kernel", mr: 12, nr: 32, vecBytes: 64,
	vec:  ZMM,
	zero: func(x VecVirtual) { VPXORD(x, x, x) },
}

// emit writes the kernels for r = 1..mr rows.
func (t tile) emit() {
	for r := 1; r <= t.mr; r++ {
		t.kernel(r)
	}
}

func (t tile) kernel(r int) {
	name := fmt.Sprintf("%s%dx%d", t.name, r, t.nr)
	TEXT(name, NOSPLIT, "func(kc int, a, b, c *float32, ldc int, accumulate bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes the %d×%d tile C = A·B over kc steps, or C += A·B", name, r, t.nr),
		fmt.Sprintf("when accumulate is set. a is a packed A panel (%d floats per step, the first r", t.mr),
		fmt.Sprintf("used), b a packed B panel (%d floats per step), c the tile's first element and", t.nr),
		"ldc the row stride of C in floats.")
	kc := Load(Param("kc"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)

	Comment("Prefetch the C tile; it is read or written once the loop ends.")
	row := GP64()
	MOVQ(c, row)
	for i := 0; i < r; i++ {
		PREFETCHT0(Mem{Base: row})
		PREFETCHT0(Mem{Base: row, Disp: 2*t.vecBytes - 1})
		if i < r-1 {
			ADDQ(ldc, row)
		}
	}

	acc := make([][2]VecVirtual, r)
	for i := range acc {
		acc[i] = [2]VecVirtual{t.vec(), t.vec()}
		t.zero(acc[i][0])
		t.zero(acc[i][1])
	}
	b0, b1 := t.vec(), t.vec()
	step := func(u int) {
		VMOVUPS(Mem{Base: b, Disp: u * t.nr * 4}, b0)
		VMOVUPS(Mem{Base: b, Disp: u*t.nr*4 + t.vecBytes}, b1)
		for i := 0; i < r; i++ {
			x := t.vec()
			VBROADCASTSS(Mem{Base: a, Disp: (u*t.mr + i) * 4}, x)
			VFMADD231PS(b0, x, acc[i][0])
			VFMADD231PS(b1, x, acc[i][1])
		}
	}

	Comment("Four k steps per iteration.")
	n := GP64()
	MOVQ(kc, n)
	SHRQ(U8(2), n)
	JZ(LabelRef("tail"))
	Label("loop4")
	for u := 0; u < 4; u++ {
		step(u)
	}
	ADDQ(U32(4*t.mr*4), a)
	ADDQ(U32(4*t.nr*4), b)
	DECQ(n)
	JNZ(LabelRef("loop4"))

	Label("tail")
	ANDQ(U32(3), kc)
	JZ(LabelRef("store"))
	Label("loop1")
	step(0)
	ADDQ(U32(t.mr*4), a)
	ADDQ(U32(t.nr*4), b)
	DECQ(kc)
	JNZ(LabelRef("loop1"))

	Label("store")
	flag := Load(Param("accumulate"), GP8())
	TESTB(flag, flag)
	JZ(LabelRef("overwrite"))
	storeTile(acc, c, ldc, t.vecBytes, true)
	Label("overwrite")
	storeTile(acc, c, ldc, t.vecBytes, false)
}

// storeTile writes the accumulators, two vectors of width bytes per row, to C
// row by row, adding C's old values first when accumulate is set, and returns.
func storeTile(acc [][2]VecVirtual, c, ldc Register, width int, accumulate bool) {
	for i := range acc {
		lo, hi := Mem{Base: c}, Mem{Base: c, Disp: width}
		if accumulate {
			VADDPS(lo, acc[i][0], acc[i][0])
			VADDPS(hi, acc[i][1], acc[i][1])
		}
		VMOVUPS(acc[i][0], lo)
		VMOVUPS(acc[i][1], hi)
		if i < len(acc)-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}
