#include "textflag.h"

// Constants of Exp (exp.go), one per 32-byte lane set.
DATA expc<>+0(SB)/4, $0x3fb8aa3b   // log2(e)
DATA expc<>+4(SB)/4, $0x3f318000   // ln2 high part, 0.693359375
DATA expc<>+8(SB)/4, $0xb95e8083   // ln2 low part, -2.12194440e-4
DATA expc<>+12(SB)/4, $0x3ab60b61  // 1/720
DATA expc<>+16(SB)/4, $0x3c088889  // 1/120
DATA expc<>+20(SB)/4, $0x3d2aaaab  // 1/24
DATA expc<>+24(SB)/4, $0x3e2aaaab  // 1/6
DATA expc<>+28(SB)/4, $0x3f000000  // 1/2
DATA expc<>+32(SB)/4, $0x3f800000  // 1
DATA expc<>+36(SB)/4, $0xc2aeac50  // -87.33654, the lowest input with a normal result
DATA expc<>+40(SB)/4, $0x0000007f  // exponent bias 127
GLOBL expc<>(SB), RODATA|NOPTR, $44

// func expSumAVX2(dst, src *float32, n int, shift float32) float32
// dst[i] = exp(src[i] - shift) for i < n (n a multiple of 8, inputs
// src[i]-shift ≤ 0), and returns their float32 sum.
TEXT ·expSumAVX2(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y15
	VBROADCASTSS expc<>+0(SB), Y14  // log2e
	VBROADCASTSS expc<>+4(SB), Y13  // ln2 hi
	VBROADCASTSS expc<>+8(SB), Y12  // ln2 lo
	VBROADCASTSS expc<>+36(SB), Y11 // lower clamp
	VPBROADCASTD expc<>+40(SB), Y10 // 127
	VXORPS Y9, Y9, Y9               // running sum
	SHRQ $3, CX
	JZ done

loop:
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	VMAXPS Y11, Y0, Y0
	VMULPS Y14, Y0, Y1
	VROUNDPS $0, Y1, Y1             // n = round(x·log2e), to nearest even
	VFNMADD231PS Y13, Y1, Y0        // r = x - n·ln2hi
	VFNMADD231PS Y12, Y1, Y0        // r -= n·ln2lo
	VBROADCASTSS expc<>+12(SB), Y2  // p = 1/720
	VBROADCASTSS expc<>+16(SB), Y3
	VFMADD213PS Y3, Y0, Y2          // p = p·r + 1/120
	VBROADCASTSS expc<>+20(SB), Y3
	VFMADD213PS Y3, Y0, Y2          // + 1/24
	VBROADCASTSS expc<>+24(SB), Y3
	VFMADD213PS Y3, Y0, Y2          // + 1/6
	VBROADCASTSS expc<>+28(SB), Y3
	VFMADD213PS Y3, Y0, Y2          // + 1/2
	VBROADCASTSS expc<>+32(SB), Y3
	VFMADD213PS Y3, Y0, Y2          // + 1
	VFMADD213PS Y3, Y0, Y2          // + 1
	VCVTPS2DQ Y1, Y1                // 2^n as exponent bits
	VPADDD Y10, Y1, Y1
	VPSLLD $23, Y1, Y1
	VMULPS Y1, Y2, Y2
	VMOVUPS Y2, (DI)
	VADDPS Y2, Y9, Y9
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ loop

done:
	VEXTRACTF128 $1, Y9, X0
	VADDPS X0, X9, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET
