package gguf

// Q4_K block (144 bytes, 256 values): f16 d, f16 dmin, 12 bytes packing
// eight 6-bit scales and eight 6-bit mins (see packScaleMinK4), then 128
// bytes of 4-bit quants. The block has eight sub-blocks of 32 values; each
// 64 values share 32 bytes, the first 32 in the low nibbles and the next 32
// in the high nibbles. Value i of sub-block j is d·sc[j]·q - dmin·m[j].

// encodeQ4_K reproduces llama.cpp's quantize_row_q4_K_ref: each sub-block
// gets a scale and a min from make_qkx2_quants (nmax 15, rmin -1, rdelta
// 0.1, nstep 20, weights √(mean x²) + |x|), the scales and mins are
// quantized to 6 bits against the block's largest, and the values are
// requantized with the rounded scales. A sub-block whose rounded scale is 0
// keeps the levels of the search.
func encodeQ4_K(dst []byte, src []float32) {
	var (
		L            [256]uint8
		aux          [32]uint8
		weights      [32]float32
		scales, mins [8]float32
		levels, lmin [8]uint8
	)
	for b := range len(src) / 256 {
		x := src[256*b : 256*b+256]
		y := dst[144*b : 144*b+144]
		var maxScale, maxM float32
		for j := range 8 {
			xs := x[32*j : 32*j+32]
			var sumX2 float32
			for _, v := range xs {
				sumX2 += float32(v * v)
			}
			avX := sqrt32(sumX2 / 32)
			for l, v := range xs {
				weights[l] = avX + abs32(v)
			}
			scales[j], mins[j] = makeQKX2Quants(15, xs, weights[:], L[32*j:32*j+32], aux[:], -1, 0.1, 20)
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxM {
				maxM = mins[j]
			}
		}
		var invScale, invMin float32
		if maxScale > 0 {
			invScale = 63 / maxScale
		}
		if maxM > 0 {
			invMin = 63 / maxM
		}
		for j := range 8 {
			// C stores nearest_int's result in a uint8_t first, wrapping.
			levels[j] = min(63, uint8(nearestInt(invScale*scales[j])))
			lmin[j] = min(63, uint8(nearestInt(invMin*mins[j])))
		}
		packScaleMinK4(y[4:16], &levels, &lmin)
		putF16(y[0:], maxScale/63)
		putF16(y[2:], maxM/63)

		d, dmin := getF16(y[0:]), getF16(y[2:])
		for j := range 8 {
			dj := d * float32(levels[j])
			if dj == 0 {
				continue
			}
			dm := float32(dmin * float32(lmin[j])) // not fused into x[i]+dm
			for i := 32 * j; i < 32*j+32; i++ {
				L[i] = uint8(max(0, min(15, nearestInt((x[i]+dm)/dj))))
			}
		}
		packQ4_KQuants(y[16:144], &L)
	}
}

// packQ4_KQuants stores a Q4_K block's 256 4-bit values in 128 bytes: each
// 64 values share 32 bytes, the first 32 in the low nibbles and the next
// 32 in the high ones.
func packQ4_KQuants(q []byte, L *[256]uint8) {
	for j := 0; j < 256; j += 64 {
		for l := range 32 {
			q[j/2+l] = L[j+l] | L[j+l+32]<<4
		}
	}
}

// packScaleMinK4 packs eight 6-bit scales and mins into 12 bytes as
// llama.cpp's K-quants do: bytes 0-3 hold scales 0-3 and bytes 4-7 mins
// 0-3 in their low 6 bits; bytes 8-11 hold the low 4 bits of scale j+4
// (low nibble) and min j+4 (high nibble); the top 2 bits of scale j+4 and
// min j+4 go to the top bits of bytes j and j+4.
func packScaleMinK4(dst []byte, scales, mins *[8]uint8) {
	for j := range 4 {
		dst[j] = scales[j] | scales[j+4]>>4<<6
		dst[j+4] = mins[j] | mins[j+4]>>4<<6
		dst[j+8] = scales[j+4]&0xf | mins[j+4]&0xf<<4
	}
}

// scaleMinK4 unpacks scale and min j (0-7) from 12 packed bytes, as
// llama.cpp's get_scale_min_k4.
func scaleMinK4(j int, q []byte) (scale, min uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | q[j-4]>>6<<4, q[j+4]>>4 | q[j]>>6<<4
}

// decodeQ4_K reproduces llama.cpp's dequantize_row_q4_K.
func decodeQ4_K(dst []float32, src []byte) {
	for b := range len(dst) / 256 {
		y := src[144*b : 144*b+144]
		out := dst[256*b : 256*b+256]
		d, dmin := getF16(y[0:]), getF16(y[2:])
		sc, q := y[4:16], y[16:144]
		for j := range 4 {
			s1, m1 := scaleMinK4(2*j, sc)
			s2, m2 := scaleMinK4(2*j+1, sc)
			// min1 and min2 are rounded before the subtractions below.
			d1, min1 := d*float32(s1), float32(dmin*float32(m1))
			d2, min2 := d*float32(s2), float32(dmin*float32(m2))
			for l, v := range q[32*j : 32*j+32] {
				out[64*j+l] = float32(d1*float32(v&0xf)) - min1
				out[64*j+32+l] = float32(d2*float32(v>>4)) - min2
			}
		}
	}
}
