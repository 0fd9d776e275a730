// Command asm generates the amd64 assembly kernels of package gemm with avo.
//
// It lives in its own module so that qtk itself does not depend on avo; run it
// through `go generate` in internal/gemm, which writes kernel_amd64.s and
// kernel_amd64_stub.go there. Both generated files are committed.
package main

import (
	. "github.com/mmcloughlin/avo/build"
)

func main() {
	ConstraintExpr("amd64,!purego")
	avx2Tile.emit()
	thinKernelsAVX2()
	avx512Tile.emit()
	int4MaskTable()
	int4AVX2.emit()
	int4AVX2Half.emit()
	int4AVX512.emit()
	int4AVX2.dequantize()
	int4AVX512.dequantize()
	Generate()
}
