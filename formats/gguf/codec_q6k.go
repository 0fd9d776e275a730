package gguf

// Q6_K block (210 bytes, 256 values): 128 bytes ql of low 4 bits, 64 bytes
// qh of high 2 bits, 16 signed 8-bit scales, then f16 d (last). The block
// has 16 sub-blocks of 16 values, q in [0, 63] stored as level+32. In each
// half of 128 values, ql[l] holds values l (low nibble) and l+64 (high),
// ql[l+32] values l+32 and l+96, and qh[l] the high bits of values l, l+32,
// l+64 and l+96 at shifts 0, 2, 4 and 6. Value i of sub-block j is
// d·scale[j]·(q-32).

// encodeQ6_K reproduces llama.cpp's quantize_row_q6_K_ref: each sub-block
// gets a scale from make_qx_quants (nmax 32, rmse_type 1), the scales are
// quantized to int8 against the largest in magnitude (iscale = -128/max),
// and the values are requantized with the rounded scales. A sub-block
// whose rounded scale is 0 keeps the levels of the search; a block whose
// scales are all below 1e-15 is all zero bytes.
func encodeQ6_K(dst []byte, src []float32) {
	var (
		L      [256]uint8
		scales [16]float32
	)
	for b := range len(src) / 256 {
		x := src[256*b : 256*b+256]
		y := dst[210*b : 210*b+210]
		var maxScale, maxAbs float32
		for j := range 16 {
			scales[j] = makeQXQuants(32, x[16*j:16*j+16], L[16*j:16*j+16], nil)
			if a := abs32(scales[j]); a > maxAbs {
				maxAbs, maxScale = a, scales[j]
			}
		}
		if maxAbs < groupMaxEps {
			clear(y) // F16 zero is all zero bits too
			continue
		}
		iscale := -128 / maxScale
		putF16(y[208:], 1/iscale)
		sc := y[192:208]
		for j := range 16 {
			sc[j] = uint8(int8(min(127, nearestInt(iscale*scales[j]))))
		}
		d := getF16(y[208:])
		for j := range 16 {
			dj := d * float32(int8(sc[j]))
			if dj == 0 {
				continue
			}
			for i := 16 * j; i < 16*j+16; i++ {
				L[i] = uint8(max(-32, min(31, nearestInt(x[i]/dj))) + 32)
			}
		}
		packQ6_KQuants(y[0:192], &L)
	}
}

// packQ6_KQuants stores a Q6_K block's 256 6-bit values (level+32) in its
// first 192 bytes: ql low nibbles and qh high bits as described above.
func packQ6_KQuants(dst []byte, L *[256]uint8) {
	ql, qh := dst[0:128], dst[128:192]
	for h := range 2 {
		l4 := L[128*h : 128*h+128]
		for l := range 32 {
			ql[64*h+l] = l4[l]&0xf | l4[l+64]&0xf<<4
			ql[64*h+l+32] = l4[l+32]&0xf | l4[l+96]&0xf<<4
			qh[32*h+l] = l4[l]>>4 | l4[l+32]>>4<<2 | l4[l+64]>>4<<4 | l4[l+96]>>4<<6
		}
	}
}

// decodeQ6_K reproduces llama.cpp's dequantize_row_q6_K.
func decodeQ6_K(dst []float32, src []byte) {
	for b := range len(dst) / 256 {
		y := src[210*b : 210*b+210]
		out := dst[256*b : 256*b+256]
		d := getF16(y[208:])
		for h := range 2 {
			ql, qh, sc := y[64*h:64*h+64], y[128+32*h:128+32*h+32], y[192+8*h:192+8*h+8]
			o := out[128*h : 128*h+128]
			for l := range 32 {
				is := l / 16
				q1 := int8(ql[l]&0xf|qh[l]&3<<4) - 32
				q2 := int8(ql[l+32]&0xf|qh[l]>>2&3<<4) - 32
				q3 := int8(ql[l]>>4|qh[l]>>4&3<<4) - 32
				q4 := int8(ql[l+32]>>4|qh[l]>>6&3<<4) - 32
				o[l] = d * float32(int8(sc[is])) * float32(q1)
				o[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
				o[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
				o[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
			}
		}
	}
}
