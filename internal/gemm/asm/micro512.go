package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Register tile of the AVX-512 micro-kernel: 12×32 in 24 ZMM accumulators,
// plus two B vectors and one broadcast, 27 of the 32 ZMM registers.
// Broadcasting A into a register once per row keeps loads (14 per k step)
// below the 24 FMAs, which two FMA pipes retire in 12 cycles.
const (
	mrAVX512 = 12
	nrAVX512 = 32
)

// microKernelsAVX512 emits avx512Kernel{r}x32 for r = 1..mrAVX512, reading A
// panels packed mrAVX512 floats per k step.
func microKernelsAVX512() {
	for r := 1; r <= mrAVX512; r++ {
		microKernelAVX512(r)
	}
}

func microKernelAVX512(r int) {
	TEXT(fmt.Sprintf("avx512Kernel%dx32", r), NOSPLIT, "func(kc int, a, b, c *float32, ldc int, accumulate bool)")
	Pragma("noescape")
	Doc(fmt.Sprintf("avx512Kernel%dx32 computes the %d×32 tile C = A·B over kc steps, or C += A·B", r, r),
		"when accumulate is set. a is a packed A panel (12 floats per step, the first r",
		"used), b a packed B panel (32 floats per step), c the tile's first element and",
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
		PREFETCHT0(Mem{Base: row, Disp: 127})
		if i < r-1 {
			ADDQ(ldc, row)
		}
	}

	acc := make([][2]VecVirtual, r)
	for i := range acc {
		acc[i] = [2]VecVirtual{ZMM(), ZMM()}
		VPXORD(acc[i][0], acc[i][0], acc[i][0])
		VPXORD(acc[i][1], acc[i][1], acc[i][1])
	}
	b0, b1 := ZMM(), ZMM()
	step := func(u int) {
		VMOVUPS(Mem{Base: b, Disp: u * nrAVX512 * 4}, b0)
		VMOVUPS(Mem{Base: b, Disp: u*nrAVX512*4 + 64}, b1)
		for i := 0; i < r; i++ {
			t := ZMM()
			VBROADCASTSS(Mem{Base: a, Disp: (u*mrAVX512 + i) * 4}, t)
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
	ADDQ(U32(4*mrAVX512*4), a)
	ADDQ(U32(4*nrAVX512*4), b)
	DECQ(n)
	JNZ(LabelRef("loop4"))

	Label("tail")
	ANDQ(U32(3), kc)
	JZ(LabelRef("store"))
	Label("loop1")
	step(0)
	ADDQ(U32(mrAVX512*4), a)
	ADDQ(U32(nrAVX512*4), b)
	DECQ(kc)
	JNZ(LabelRef("loop1"))

	Label("store")
	flag := Load(Param("accumulate"), GP8())
	TESTB(flag, flag)
	JZ(LabelRef("overwrite"))
	storeTile(acc, c, ldc, 64, true)
	Label("overwrite")
	storeTile(acc, c, ldc, 64, false)
}
