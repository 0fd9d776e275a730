package fastmath

// ExpShifted writes dst[i] = e^(src[i]-shift) and returns the sum of the
// results. Every src[i]-shift must be ≤ 0 (shift is a maximum of src, as
// in softmax); results below e^-87.3 are not flushed to zero but stay
// near 1e-38. dst may be src.
func ExpShifted(dst, src []float32, shift float32) float32 {
	n := len(src)
	dst = dst[:n]
	var sum float32
	vec := 0
	if hasAVX2 {
		vec = n &^ 7
		if vec > 0 {
			sum = expSumAVX2(&dst[0], &src[0], vec, shift)
		}
	}
	for i := vec; i < n; i++ {
		e := Exp(src[i] - shift)
		dst[i] = e
		sum += e
	}
	return sum
}
