package gemm

// kernels is one implementation of the inner loops together with the register
// tile (mr×nr) it computes. Packing layouts depend on mr and nr, so a Packed
// keeps the kernels that packed it.
type kernels struct {
	name   string
	mr, nr int

	// tile sets the r×nr tile at c (row stride ldc) to A·B, or adds A·B to it
	// when accumulate is set, for r ≤ mr. a is a packed A panel (kc steps of
	// mr floats) and b a packed B panel (kc steps of nr floats).
	tile func(r, kc int, a, b, c []float32, ldc int, accumulate bool)

	// gemvPacked sets c[:panels*nr] = a[:k]·B for panels packed B panels
	// (each k steps of nr floats) starting stride floats apart from b[0].
	gemvPacked func(c, a, b []float32, k, panels, stride int)

	// dots sets c[i*ldc+j] = A_i·B_j for i < m, j < n, where A_i and B_j
	// are rows of k floats in a and b.
	dots func(c, a, b []float32, m, n, k, ldc int)

	// gemvRows sets c[j] = Σ_p a[p]·b[p*ldb+j] for j < len(c), p < k.
	gemvRows func(c, a, b []float32, k, ldb int)

	// int4 are the kernels of Int4's products from the codes, by
	// decreasing m and then decreasing panels; for each m there is one with
	// a single panel.
	int4 []int4Kernel

	// int4Dequantize widens a panel of an Int4's codes into a panel of
	// the float32 packing (see int4DequantizeGo).
	int4Dequantize func(stream []uint32, dst []float32, offsets []int32, groups, groupChunks int)
}

// active holds the fastest kernels this CPU supports. Tests switch it to
// check every implementation.
var active = bestKernels()

// allKernels lists the implementations usable on this CPU, fastest first.
func allKernels() []*kernels {
	all := asmKernels()
	return append(all, &goKernels)
}

func bestKernels() *kernels { return allKernels()[0] }
