package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Register tile of the AVX2 micro-kernel: mrAVX2 rows of C by nrAVX2 columns,
// held in 2*mrAVX2 YMM accumulators. 6×16 uses 12 accumulators plus two B
// vectors and one broadcast, 15 of the 16 YMM registers.
const (
	mrAVX2 = 6
	nrAVX2 = 16
)

// microKernelsAVX2 emits fmaKernel{r}x16 for r = 1..mrAVX2. The kernels for
// r < mrAVX2 serve the last row panel when m is not a multiple of mrAVX2; they
// read the same packed A layout (mrAVX2 floats per k step).
func microKernelsAVX2() {
	for r := 1; r <= mrAVX2; r++ {
		microKernelAVX2(r)
	}
}

func microKernelAVX2(r int) {
	TEXT(fmt.Sprintf("fmaKernel%dx16", r), NOSPLIT, "func(kc int, a, b, c *float32, ldc int, accumulate bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("fmaKernel%dx16 computes the %d×16 tile C = A·B over kc steps, or C += A·B when", r, r),
		"accumulate is set. a is a packed A panel (6 floats per step, the first r used),",
		"b a packed B panel (16 floats per step), c the tile's first element and ldc",
		"the row stride of C in floats.")
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
		PREFETCHT0(Mem{Base: row, Disp: 63})
		if i < r-1 {
			ADDQ(ldc, row)
		}
	}

	acc := make([][2]VecVirtual, r)
	for i := range acc {
		acc[i] = [2]VecVirtual{YMM(), YMM()}
		VXORPS(acc[i][0], acc[i][0], acc[i][0])
		VXORPS(acc[i][1], acc[i][1], acc[i][1])
	}
	b0, b1 := YMM(), YMM()
	step := func(u int) {
		VMOVUPS(Mem{Base: b, Disp: u * nrAVX2 * 4}, b0)
		VMOVUPS(Mem{Base: b, Disp: u*nrAVX2*4 + 32}, b1)
		for i := 0; i < r; i++ {
			t := YMM()
			VBROADCASTSS(Mem{Base: a, Disp: (u*mrAVX2 + i) * 4}, t)
			VFMADD231PS(b0, t, acc[i][0])
			VFMADD231PS(b1, t, acc[i][1])
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
	ADDQ(U32(4*mrAVX2*4), a)
	ADDQ(U32(4*nrAVX2*4), b)
	DECQ(n)
	JNZ(LabelRef("loop4"))

	Label("tail")
	ANDQ(U32(3), kc)
	JZ(LabelRef("store"))
	Label("loop1")
	step(0)
	ADDQ(U32(mrAVX2*4), a)
	ADDQ(U32(nrAVX2*4), b)
	DECQ(kc)
	JNZ(LabelRef("loop1"))

	Label("store")
	flag := Load(Param("accumulate"), GP8())
	TESTB(flag, flag)
	JZ(LabelRef("overwrite"))
	storeTile(acc, c, ldc, 32, true)
	Label("overwrite")
	storeTile(acc, c, ldc, 32, false)
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
