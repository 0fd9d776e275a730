package gemm

// packA copies rows×kc of A (starting at a, row stride lda) into panels of mr
// rows: panel q holds kc steps of mr floats, A[q*mr+i][p] at dst[q*mr*kc +
// p*mr + i]. A short last panel leaves its unused slots as they were; the
// kernels for fewer rows never read them.
func packA(dst, a []float32, lda, rows, kc, mr int) {
	for ip := 0; ip < rows; ip += mr {
		r := min(mr, rows-ip)
		d := dst[ip*kc : ip*kc+kc*mr]
		for i := 0; i < r; i++ {
			row := a[(ip+i)*lda : (ip+i)*lda+kc]
			for p, v := range row {
				d[p*mr+i] = v
			}
		}
	}
}

// packBT packs cols×kc of a transposed B (b holds column j of B as row j,
// row stride ldb) into panels of nr columns: panel q holds kc steps of nr
// floats, B[p][q*nr+j] at dst[q*nr*kc + p*nr + j]. A short last panel is
// padded with zeros.
func packBT(dst, b []float32, ldb, cols, kc, nr int) {
	for jp := 0; jp < cols; jp += nr {
		w := min(nr, cols-jp)
		d := dst[jp*kc : jp*kc+kc*nr]
		if w < nr {
			clear(d)
		}
		// Four source rows at a time: four sequential read streams, and four
		// adjacent floats written per step.
		j := 0
		for ; j+4 <= w; j += 4 {
			r0 := b[(jp+j)*ldb : (jp+j)*ldb+kc]
			r1 := b[(jp+j+1)*ldb : (jp+j+1)*ldb+kc]
			r2 := b[(jp+j+2)*ldb : (jp+j+2)*ldb+kc]
			r3 := b[(jp+j+3)*ldb : (jp+j+3)*ldb+kc]
			for p := range r0 {
				s := d[p*nr+j : p*nr+j+4]
				s[0], s[1], s[2], s[3] = r0[p], r1[p], r2[p], r3[p]
			}
		}
		for ; j < w; j++ {
			row := b[(jp+j)*ldb : (jp+j)*ldb+kc]
			for p, v := range row {
				d[p*nr+j] = v
			}
		}
	}
}

// packBN packs kc×cols of a row-major B (row stride ldb) into the same
// panels as packBT.
func packBN(dst, b []float32, ldb, cols, kc, nr int) {
	for jp := 0; jp < cols; jp += nr {
		w := min(nr, cols-jp)
		d := dst[jp*kc : jp*kc+kc*nr]
		for p := 0; p < kc; p++ {
			s := d[p*nr : p*nr+nr]
			copy(s, b[p*ldb+jp:p*ldb+jp+w])
			clear(s[w:])
		}
	}
}
