package gguf

// The scale searches of llama.cpp's K-quants, for the reference
// quantizers quantize_row_q4_K_ref and quantize_row_q6_K_ref (no
// importance matrix). Comments in codec_helpers.go explain the float32()
// conversions.

// groupMaxEps is llama.cpp's GROUP_MAX_EPS: groups whose largest magnitude
// is below it quantize to zero.
const groupMaxEps float32 = 1e-15

// makeQKX2Quants reproduces llama.cpp's make_qkx2_quants with use_mad
// false: it fits x ≈ scale·L - theMin with L in [0, nmax] by weighted least
// squares, trying the inverse scales (nmax + rmin + rdelta·is)/(max - min)
// for is = 0..nstep and keeping the fit of least weighted squared error.
// L receives the levels; aux is scratch of len(x).
func makeQKX2Quants(nmax int32, x, weights []float32, L, aux []uint8, rmin, rdelta float32, nstep int) (scale, theMin float32) {
	n := len(x)
	minv, maxv := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < minv {
			minv = x[i]
		}
		if x[i] > maxv {
			maxv = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if minv > 0 {
		minv = 0
	}
	if maxv == minv {
		clear(L[:n])
		return 0, -minv
	}
	fmax := float32(nmax)
	iscale := fmax / (maxv - minv)
	scale = 1 / iscale
	var bestErr float32
	for i, v := range x {
		l := max(0, min(nmax, nearestInt(iscale*(v-minv))))
		L[i] = uint8(l)
		diff := float32(float32(scale*float32(l))+minv) - v
		bestErr += float32(weights[i] * float32(diff*diff))
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fmax) / (maxv - minv)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := max(0, min(nmax, nearestInt(iscale*(v-minv))))
			aux[i] = uint8(l)
			fl := float32(l)
			wl := float32(weights[i] * fl)
			sumL += wl
			sumL2 += float32(wl * fl)
			sumXL += float32(wl * v)
		}
		det := float32(sumW*sumL2) - float32(sumL*sumL)
		if !(det > 0) {
			continue
		}
		thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / det
		thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / det
		if thisMin > 0 {
			thisMin = 0
			thisScale = sumXL / sumL2
		}
		var curErr float32
		for i, v := range x {
			diff := float32(float32(thisScale*float32(aux[i]))+thisMin) - v
			curErr += float32(weights[i] * float32(diff*diff))
		}
		if curErr < bestErr {
			copy(L[:n], aux[:n])
			bestErr, scale, minv = curErr, thisScale, thisMin
		}
	}
	return scale, -minv
}

// makeQXQuants reproduces llama.cpp's make_qx_quants with rmse_type 1: it
// fits x ≈ scale·(L - nmax) with levels in [-nmax, nmax-1], weighting each
// value by weights[i] (by x² when weights is nil, as the reference
// quantizers do), and tries 18 inverse scales around -nmax/max, keeping
// the best least-squares fit. L receives the levels plus nmax.
func makeQXQuants(nmax int32, x []float32, L []uint8, weights []float32) float32 {
	weight := func(i int, v float32) float32 {
		if weights == nil {
			return float32(v * v)
		}
		return weights[i]
	}
	var maxv, amax float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, maxv = a, v
		}
	}
	if amax < groupMaxEps {
		clear(L[:len(x)])
		return 0
	}
	fn := float32(nmax)
	iscale := -fn / maxv
	var sumLX, sumL2 float32
	for i, v := range x {
		l := max(-nmax, min(nmax-1, nearestInt(iscale*v)))
		L[i] = uint8(l + nmax)
		w := weight(i, v)
		fl := float32(l)
		sumLX += float32(float32(w*v) * fl)
		sumL2 += float32(float32(w*fl) * fl)
	}
	var scale float32
	if sumL2 != 0 {
		scale = sumLX / sumL2
	}
	best := float32(scale * sumLX)
	const tenth float32 = 0.1 // C's 0.1f
	for is := int32(-9); is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fn + float32(tenth*float32(is))) / maxv
		sumLX, sumL2 = 0, 0
		for i, v := range x {
			l := max(-nmax, min(nmax-1, nearestInt(iscale*v)))
			w := weight(i, v)
			fl := float32(l)
			sumLX += float32(float32(w*v) * fl)
			sumL2 += float32(float32(w*fl) * fl)
		}
		if sumL2 > 0 && float32(sumLX*sumLX) > float32(best*sumL2) {
			for i, v := range x {
				L[i] = uint8(nmax + max(-nmax, min(nmax-1, nearestInt(iscale*v))))
			}
			scale = sumLX / sumL2
			best = float32(scale * sumLX)
		}
	}
	return scale
}
