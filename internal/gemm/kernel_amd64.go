//go:build !purego

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run -C asm . -out ../kernel_amd64.s -stubs ../kernel_amd64_stub.go -pkg gemm

// avx2Kernels use the assembly in kernel_amd64.s: a 6×16 tile held in twelve
// YMM accumulators.
var avx2Kernels = kernels{
	name:       "avx2",
	mr:         6,
	nr:         16,
	tile:       tileAVX2,
	gemvPacked: gemvPackedAVX2,
	dots:       dotsAVX2,
	gemvRows:   gemvRowsAVX2,
	int4:       int4AVX2,

	int4Dequantize: int4DequantizeAVX2,
}

// avx512Kernels differ from avx2Kernels in the tile, 12×32 in 24 ZMM
// accumulators, which doubles the multiply-adds per instruction on CPUs with
// full-width AVX-512 units (AMD Zen 4 and later, recent Intel Xeons).
var avx512Kernels = kernels{
	name:       "avx512",
	mr:         12,
	nr:         32,
	tile:       tileAVX512,
	gemvPacked: gemvPacked32AVX2,
	dots:       dotsAVX2,
	gemvRows:   gemvRowsAVX2,
	int4:       int4AVX512,

	int4Dequantize: int4DequantizeAVX512,
}

func asmKernels() []*kernels {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	if cpu.X86.HasAVX512F {
		return []*kernels{&avx512Kernels, &avx2Kernels}
	}
	return []*kernels{&avx2Kernels}
}

type tileFunc func(kc int, a, b, c *float32, ldc int, accumulate bool)

// Tile kernels by height.
var (
	avx2Tiles = [...]tileFunc{nil, fmaKernel1x16, fmaKernel2x16, fmaKernel3x16,
		fmaKernel4x16, fmaKernel5x16, fmaKernel6x16}
	avx512Tiles = [...]tileFunc{nil, avx512Kernel1x32, avx512Kernel2x32, avx512Kernel3x32,
		avx512Kernel4x32, avx512Kernel5x32, avx512Kernel6x32, avx512Kernel7x32,
		avx512Kernel8x32, avx512Kernel9x32, avx512Kernel10x32, avx512Kernel11x32,
		avx512Kernel12x32}
)

// The wrappers below check the extent of every slice the assembly will touch:
// the assembly trusts its pointers, and a bounds panic here turns a driver bug
// into an error instead of memory corruption.

func tileAVX2(r, kc int, a, b, c []float32, ldc int, accumulate bool) {
	_ = a[kc*6-1]
	_ = b[kc*16-1]
	_ = c[(r-1)*ldc+15]
	avx2Tiles[r](kc, &a[0], &b[0], &c[0], ldc, accumulate)
}

func tileAVX512(r, kc int, a, b, c []float32, ldc int, accumulate bool) {
	_ = a[kc*12-1]
	_ = b[kc*32-1]
	_ = c[(r-1)*ldc+31]
	avx512Tiles[r](kc, &a[0], &b[0], &c[0], ldc, accumulate)
}

func gemvPackedAVX2(c, a, b []float32, k, panels, stride int) {
	if panels == 0 {
		return
	}
	_ = a[k-1]
	_ = b[(panels-1)*stride+k*16-1]
	_ = c[panels*16-1]
	fmaGemv16(k, &a[0], &b[0], &c[0], panels, stride)
}

func gemvPacked32AVX2(c, a, b []float32, k, panels, stride int) {
	if panels == 0 {
		return
	}
	_ = a[k-1]
	_ = b[(panels-1)*stride+k*32-1]
	_ = c[panels*32-1]
	fmaGemv32(k, &a[0], &b[0], &c[0], panels, stride)
}

func dotsAVX2(c, a, b []float32, m, n, k, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	_ = a[m*k-1]
	_ = b[n*k-1]
	_ = c[(m-1)*ldc+n-1]
	k8 := k &^ 7 // the assembly takes whole vectors; the rest is summed here
	for i := 0; i < m; i++ {
		clear(c[i*ldc : i*ldc+n])
	}
	if k8 > 0 {
		j := 0
		for ; j+4 <= n; j += 4 {
			for i := 0; i < m; {
				pa, pb, pc := &a[i*k], &b[j*k], &c[i*ldc+j]
				switch min(3, m-i) {
				case 3:
					fmaDotTile3x4(k8, pa, k, pb, k, pc, ldc)
					i += 3
				case 2:
					fmaDotTile2x4(k8, pa, k, pb, k, pc, ldc)
					i += 2
				default:
					fmaDotTile1x4(k8, pa, k, pb, k, pc, ldc)
					i++
				}
			}
		}
		for ; j < n; j++ {
			for i := 0; i < m; i++ {
				c[i*ldc+j] = fmaDot1(k8, &a[i*k], &b[j*k])
			}
		}
	}
	if k8 < k {
		for i := 0; i < m; i++ {
			ai := a[i*k+k8 : i*k+k]
			for j := 0; j < n; j++ {
				bj := b[j*k+k8 : j*k+k]
				var s float32
				for p, v := range ai {
					s += v * bj[p]
				}
				c[i*ldc+j] += s
			}
		}
	}
}

func gemvRowsAVX2(c, a, b []float32, k, ldb int) {
	n := len(c)
	if n == 0 {
		return
	}
	_ = a[k-1]
	_ = b[(k-1)*ldb+n-1]
	j := 0
	for ; j+64 <= n; j += 64 {
		fmaGemvRows64(k, &a[0], &b[j], ldb, &c[j])
	}
	for ; j+8 <= n; j += 8 {
		fmaGemvRows8(k, &a[0], &b[j], ldb, &c[j])
	}
	if j < n {
		gemvRowsGo(c[j:], a, b[j:], k, ldb)
	}
}

// int4AVX2 and int4AVX512 list the kernels of asm/int4.go for Int4, by
// decreasing m and panels.
var (
	int4AVX2 = []int4Kernel{
		int4AsmHalves(3, int4AVX2Half3x1),
		int4AsmHalves(2, int4AVX2Half2x1),
		int4Asm(1, 1, int4AVX21x1),
	}
	int4AVX512 = []int4Kernel{
		int4Asm(4, 1, int4AVX5124x1),
		int4Asm(3, 2, int4AVX5123x2), int4Asm(3, 1, int4AVX5123x1),
		int4Asm(2, 2, int4AVX5122x2), int4Asm(2, 1, int4AVX5122x1),
		int4Asm(1, 4, int4AVX5121x4), int4Asm(1, 1, int4AVX5121x1),
	}
)

// int4AsmHalves wraps a kernel computing half a panel for m rows, which
// it calls for either half.
func int4AsmHalves(m int, f int4Func) int4Kernel {
	const half = int4Lanes / 2
	whole := func(stream *uint32, panelBytes int, x, sums, y *float32, ldy, groups, groupChunks int) {
		f(stream, panelBytes, x, sums, y, ldy, groups, groupChunks)
		f((*uint32)(unsafe.Add(unsafe.Pointer(stream), 4*half)), panelBytes, x, sums,
			(*float32)(unsafe.Add(unsafe.Pointer(y), 4*half)), ldy, groups, groupChunks)
	}
	return int4Asm(m, 1, whole)
}

type int4Func func(stream *uint32, panelBytes int, x, sums, y *float32, ldy, groups, groupChunks int)

// int4Asm wraps an assembly kernel computing panels panels for m rows.
func int4Asm(m, panels int, f int4Func) int4Kernel {
	return int4Kernel{m: m, panels: panels, run: func(stream []uint32, panelWords int, x, sums, y []float32, ldy, groups, groupChunks int) {
		if groups < 1 || groupChunks < 1 {
			panic("gemm: int4 kernel without columns")
		}
		_ = stream[panels*panelWords-1]
		_ = x[groups*groupChunks*8*m-1]
		_ = sums[groups*m-1]
		_ = y[(m-1)*ldy+panels*int4Lanes-1]
		f(&stream[0], 4*panelWords, &x[0], &sums[0], &y[0], ldy, groups, groupChunks)
	}}
}

func int4DequantizeAVX2(stream []uint32, dst []float32, offsets []int32, groups, groupChunks int) {
	int4DequantizeAsm(int4AVX2Dequantize, stream, dst, offsets, groups, groupChunks)
}

func int4DequantizeAVX512(stream []uint32, dst []float32, offsets []int32, groups, groupChunks int) {
	int4DequantizeAsm(int4AVX512Dequantize, stream, dst, offsets, groups, groupChunks)
}

// int4DequantizeAsm checks every offset the assembly will write at.
func int4DequantizeAsm(f func(stream *uint32, dst *float32, offsets *int32, groups, groupChunks int),
	stream []uint32, dst []float32, offsets []int32, groups, groupChunks int) {
	if groups < 1 || groupChunks < 1 {
		panic("gemm: int4 panel without columns")
	}
	_ = stream[groups*(2+groupChunks)*int4Lanes-1]
	offsets = offsets[:groups*groupChunks*8]
	for _, o := range offsets {
		if o < 0 || o%4 != 0 || int(o)/4+int4Lanes > len(dst) {
			panic("gemm: int4 dequantization out of its panel")
		}
	}
	f(&stream[0], &dst[0], &offsets[0], groups, groupChunks)
}
