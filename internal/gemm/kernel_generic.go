package gemm

// goKernels is the portable implementation, used on CPUs without AVX2/FMA
// and as the reference the assembly kernels are tested against.
var goKernels = kernels{
	name:       "go",
	mr:         6,
	nr:         16,
	tile:       tileGo,
	gemvPacked: gemvPackedGo,
	dots:       dotsGo,
	gemvRows:   gemvRowsGo,
	int4:       int4Go,

	int4Dequantize: int4DequantizeGo,
}

// tileGo computes the tile in 2×4 blocks whose eight sums stay in registers.
func tileGo(r, kc int, a, b, c []float32, ldc int, accumulate bool) {
	const mr, nr = 6, 16
	a, b = a[:kc*mr], b[:kc*nr]
	for i := 0; i < r; i += 2 {
		for j := 0; j < nr; j += 4 {
			// Row i+1 < mr always exists in the packed panel; when r is
			// odd its sums are computed from unused slots and dropped.
			var s00, s01, s02, s03, s10, s11, s12, s13 float32
			for p := 0; p < kc; p++ {
				bv := (*[4]float32)(b[p*nr+j:])
				av := (*[2]float32)(a[p*mr+i:])
				a0, a1 := av[0], av[1]
				b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
				s00 += a0 * b0
				s01 += a0 * b1
				s02 += a0 * b2
				s03 += a0 * b3
				s10 += a1 * b0
				s11 += a1 * b1
				s12 += a1 * b2
				s13 += a1 * b3
			}
			s0 := [4]float32{s00, s01, s02, s03}
			s1 := [4]float32{s10, s11, s12, s13}
			storeGo(c[i*ldc+j:], &s0, accumulate)
			if i+1 < r {
				storeGo(c[(i+1)*ldc+j:], &s1, accumulate)
			}
		}
	}
}

func storeGo(c []float32, s *[4]float32, accumulate bool) {
	dst := (*[4]float32)(c)
	if accumulate {
		for j, v := range s {
			dst[j] += v
		}
	} else {
		*dst = *s
	}
}

// gemvPackedGo sums each panel in two halves of eight columns, whose sums
// stay in registers.
func gemvPackedGo(c, a, b []float32, k, panels, stride int) {
	const nr = 16
	a = a[:k]
	for q := 0; q < panels; q++ {
		pb := b[q*stride : q*stride+k*nr]
		for j := 0; j < nr; j += 8 {
			var s0, s1, s2, s3, s4, s5, s6, s7 float32
			for p, av := range a {
				bv := (*[8]float32)(pb[p*nr+j:])
				s0 += av * bv[0]
				s1 += av * bv[1]
				s2 += av * bv[2]
				s3 += av * bv[3]
				s4 += av * bv[4]
				s5 += av * bv[5]
				s6 += av * bv[6]
				s7 += av * bv[7]
			}
			*(*[8]float32)(c[q*nr+j:]) = [8]float32{s0, s1, s2, s3, s4, s5, s6, s7}
		}
	}
}

func dotsGo(c, a, b []float32, m, n, k, ldc int) {
	for i := 0; i < m; i++ {
		ai := a[i*k : i*k+k]
		for j := 0; j < n; j++ {
			c[i*ldc+j] = dotGo(ai, b[j*k:j*k+k])
		}
	}
}

// dotGo uses four partial sums, which breaks the dependency chain of a plain
// loop.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	p := 0
	for ; p+4 <= len(a); p += 4 {
		s0 += a[p] * b[p]
		s1 += a[p+1] * b[p+1]
		s2 += a[p+2] * b[p+2]
		s3 += a[p+3] * b[p+3]
	}
	for ; p < len(a); p++ {
		s0 += a[p] * b[p]
	}
	return (s0 + s1) + (s2 + s3)
}

func gemvRowsGo(c, a, b []float32, k, ldb int) {
	clear(c)
	for p, av := range a[:k] {
		row := b[p*ldb : p*ldb+len(c)]
		for j, bv := range row {
			c[j] += av * bv
		}
	}
}
