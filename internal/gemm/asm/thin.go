package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// thinKernelsAVX2 emits the kernels for products with one or a few rows of A,
// which stream B once instead of packing it.
func thinKernelsAVX2() {
	gemvPackedAVX2(16)
	gemvPackedAVX2(32)
	for r := 1; r <= 3; r++ {
		dotTileAVX2(r)
	}
	dot1AVX2()
	gemvRowsAVX2(64)
	gemvRowsAVX2(8)
}

// gemvPackedAVX2 emits fmaGemv{w}, which walks packed B panels of width w (k
// steps of w floats each), so the whole weight matrix is read once, front to
// back.
func gemvPackedAVX2(w int) {
	name := fmt.Sprintf("fmaGemv%d", w)
	TEXT(name, NOSPLIT, "func(k int, a, b, c *float32, panels, stride int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets c[%dj:%dj+%d] = a[:k]·P_j for the panels packed B panels P_j", name, w, w, w),
		fmt.Sprintf("(each k×%d) starting at b, stride floats apart. k and panels must be ≥ 1.", w))
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	panels := Load(Param("panels"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)

	// vecs YMM per k step, unroll steps per iteration: eight independent
	// accumulators hide the FMA latency.
	vecs := w / 8
	unroll := 8 / vecs
	Label("panel")
	pb := GP64()
	MOVQ(b, pb)
	acc := make([][]VecVirtual, unroll)
	for u := range acc {
		for v := 0; v < vecs; v++ {
			x := YMM()
			VXORPS(x, x, x)
			acc[u] = append(acc[u], x)
		}
	}
	step := func(u int, ap Register) {
		t := YMM()
		VBROADCASTSS(Mem{Base: ap, Disp: 4 * u}, t)
		for v := 0; v < vecs; v++ {
			VFMADD231PS(Mem{Base: pb, Disp: 4 * (w*u + 8*v)}, t, acc[u][v])
		}
	}
	ap, n := GP64(), GP64()
	MOVQ(a, ap)
	MOVQ(k, n)
	SHRQ(U8(bits(unroll)), n)
	JZ(LabelRef("tail"))
	Label("loop")
	for u := 0; u < unroll; u++ {
		step(u, ap)
	}
	ADDQ(U32(4*unroll), ap)
	ADDQ(U32(4*w*unroll), pb)
	DECQ(n)
	JNZ(LabelRef("loop"))

	Label("tail")
	MOVQ(k, n)
	ANDQ(U32(unroll-1), n)
	JZ(LabelRef("reduce"))
	Label("loop1")
	step(0, ap)
	ADDQ(U32(4), ap)
	ADDQ(U32(4*w), pb)
	DECQ(n)
	JNZ(LabelRef("loop1"))

	Label("reduce")
	for u := 1; u < unroll; u++ {
		for v := 0; v < vecs; v++ {
			VADDPS(acc[u][v], acc[0][v], acc[0][v])
		}
	}
	for v := 0; v < vecs; v++ {
		VMOVUPS(acc[0][v], Mem{Base: c, Disp: 32 * v})
	}
	ADDQ(U32(4*w), c)
	ADDQ(stride, b)
	DECQ(panels)
	JNZ(LabelRef("panel"))
	VZEROUPPER()
	RET()
}

// bits returns log2 of a power of two.
func bits(x int) int {
	n := 0
	for x > 1 {
		x >>= 1
		n++
	}
	return n
}

// dotTileAVX2 emits fmaDotTile{r}x4: an r×4 block of C from dot products of r
// rows of A with 4 rows of an unpacked B[n×k] (MatMulT with few rows of A,
// where packing B would cost more than the product).
func dotTileAVX2(r int) {
	name := fmt.Sprintf("fmaDotTile%dx4", r)
	TEXT(name, NOSPLIT, "func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)")
	Pragma("noescape")
	Doc(name+fmt.Sprintf(" sets c[i*ldc+j] = a[i*lda:i*lda+k]·b[j*ldb:j*ldb+k] for i < %d, j < 4.", r),
		"k must be a positive multiple of 8.")
	// Enough k steps in flight for 8 or more independent accumulators.
	unroll := 1
	if r == 1 {
		unroll = 2
	}
	n := Load(Param("k"), GP64())
	SHRQ(U8(3), n)
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(2), lda)
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(2), ldb)
	rowPointers := func(first Register, count int, stride Register) []Register {
		rows := []Register{first}
		for len(rows) < count {
			next := GP64()
			LEAQ(Mem{Base: rows[len(rows)-1], Index: stride, Scale: 1}, next)
			rows = append(rows, next)
		}
		return rows
	}
	aRows := rowPointers(Load(Param("a"), GP64()), r, lda)
	bRows := rowPointers(Load(Param("b"), GP64()), 4, ldb)
	if r == 1 {
		// One row of A streams B from memory: fetch the next four rows of
		// B while these are summed.
		SHLQ(U8(2), ldb)
	}

	acc := make([][4]VecVirtual, r*unroll)
	for i := range acc {
		for j := range acc[i] {
			acc[i][j] = YMM()
			VXORPS(acc[i][j], acc[i][j], acc[i][j])
		}
	}
	Label("loop")
	for u := 0; u < unroll; u++ {
		if u > 0 {
			DECQ(n)
			JZ(LabelRef("reduce"))
		}
		bv := make([]VecVirtual, 4)
		for j := range bv {
			bv[j] = YMM()
			VMOVUPS(Mem{Base: bRows[j]}, bv[j])
			if r == 1 {
				PREFETCHT0(Mem{Base: bRows[j], Index: ldb, Scale: 1})
			}
			ADDQ(U32(32), bRows[j])
		}
		for i := 0; i < r; i++ {
			for j := range bv {
				VFMADD231PS(Mem{Base: aRows[i]}, bv[j], acc[u*r+i][j])
			}
			ADDQ(U32(32), aRows[i])
		}
	}
	DECQ(n)
	JNZ(LabelRef("loop"))

	Label("reduce")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	for i := 0; i < r; i++ {
		s := acc[i]
		for u := 1; u < unroll; u++ {
			for j := range s {
				VADDPS(acc[u*r+i][j], s[j], s[j])
			}
		}
		// After the three VHADDPS each 128-bit lane holds partial sums of
		// the four dot products; adding the two lanes finishes them.
		VHADDPS(s[1], s[0], s[0])
		VHADDPS(s[3], s[2], s[2])
		VHADDPS(s[2], s[0], s[0])
		hi := XMM()
		VEXTRACTF128(U8(1), s[0], hi)
		lo := s[0].AsX()
		VADDPS(hi, lo, lo)
		VMOVUPS(lo, Mem{Base: c})
		if i < r-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

func dot1AVX2() {
	TEXT("fmaDot1", NOSPLIT, "func(k int, a, b *float32) float32")
	Pragma("noescape")
	Doc("fmaDot1 returns a[:k]·b[:k]. k must be a multiple of 8.")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	n := GP64()
	MOVQ(k, n)
	SHRQ(U8(5), n)
	JZ(LabelRef("tail"))
	Label("loop32")
	for i := 0; i < 4; i++ {
		x := YMM()
		VMOVUPS(Mem{Base: a, Disp: 32 * i}, x)
		VFMADD231PS(Mem{Base: b, Disp: 32 * i}, x, acc[i])
	}
	ADDQ(U32(128), a)
	ADDQ(U32(128), b)
	DECQ(n)
	JNZ(LabelRef("loop32"))

	Label("tail")
	ANDQ(U32(31), k)
	JZ(LabelRef("reduce"))
	Label("loop8")
	x := YMM()
	VMOVUPS(Mem{Base: a}, x)
	VFMADD231PS(Mem{Base: b}, x, acc[0])
	ADDQ(U32(32), a)
	ADDQ(U32(32), b)
	SUBQ(U32(8), k)
	JNZ(LabelRef("loop8"))

	Label("reduce")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	hi := XMM()
	VEXTRACTF128(U8(1), acc[0], hi)
	lo := acc[0].AsX()
	VADDPS(hi, lo, lo)
	VHADDPS(lo, lo, lo)
	VHADDPS(lo, lo, lo)
	VZEROUPPER()
	Store(lo, ReturnIndex(0))
	RET()
}

// gemvRowsAVX2 emits fmaGemvRows{w}: w columns of a·B for an unpacked row-major
// B[k×n] (MatMul with one row of A), streaming B row by row.
func gemvRowsAVX2(w int) {
	name := "fmaGemvRows64"
	if w == 8 {
		name = "fmaGemvRows8"
	}
	TEXT(name, NOSPLIT, "func(k int, a, b *float32, ldb int, c *float32)")
	Pragma("noescape")
	Doc(name + " sets c[j] = Σ_p a[p]·b[p*ldb+j] for j below its width. k must be ≥ 1.")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(2), ldb)
	// The 8-wide version interleaves four k steps over four accumulators.
	nacc, vecs := 8, w/8
	if w == 8 {
		nacc = 4
	}
	acc := make([]VecVirtual, nacc)
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	if w == 64 {
		Label("loop")
		t := YMM()
		VBROADCASTSS(Mem{Base: a}, t)
		for j := 0; j < vecs; j++ {
			VFMADD231PS(Mem{Base: b, Disp: 32 * j}, t, acc[j])
		}
		ADDQ(U32(4), a)
		ADDQ(ldb, b)
		DECQ(k)
		JNZ(LabelRef("loop"))
	} else {
		n := GP64()
		MOVQ(k, n)
		SHRQ(U8(2), n)
		JZ(LabelRef("tail"))
		Label("loop4")
		for u := 0; u < 4; u++ {
			t := YMM()
			VBROADCASTSS(Mem{Base: a, Disp: 4 * u}, t)
			VFMADD231PS(Mem{Base: b}, t, acc[u])
			ADDQ(ldb, b)
		}
		ADDQ(U32(16), a)
		DECQ(n)
		JNZ(LabelRef("loop4"))
		Label("tail")
		ANDQ(U32(3), k)
		JZ(LabelRef("reduce"))
		Label("loop1")
		t := YMM()
		VBROADCASTSS(Mem{Base: a}, t)
		VFMADD231PS(Mem{Base: b}, t, acc[0])
		ADDQ(U32(4), a)
		ADDQ(ldb, b)
		DECQ(k)
		JNZ(LabelRef("loop1"))
		Label("reduce")
		VADDPS(acc[1], acc[0], acc[0])
		VADDPS(acc[3], acc[2], acc[2])
		VADDPS(acc[2], acc[0], acc[0])
	}
	c := Load(Param("c"), GP64())
	for j := 0; j < vecs; j++ {
		VMOVUPS(acc[j], Mem{Base: c, Disp: 32 * j})
	}
	VZEROUPPER()
	RET()
}
