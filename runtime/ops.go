package runtime

import (
	"math"

	"github.com/qtk-dev/qtk/internal/fastmath"
)

// invRMS is 1 / sqrt(mean(x²) + eps).
func invRMS(x []float32, eps float64) float32 {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	return float32(1 / math.Sqrt(ss/float64(len(x))+eps))
}

// rmsNorm writes x / sqrt(mean(x²) + eps) · weight for each row of x.
func rmsNorm(dst, x, weight []float32, rows int, eps float64) {
	n := len(weight)
	for r := 0; r < rows; r++ {
		row := x[r*n : (r+1)*n]
		inv := invRMS(row, eps)
		out := dst[r*n : (r+1)*n]
		for i, v := range row {
			out[i] = weight[i] * (v * inv)
		}
	}
}

// divideByRMS divides each of the rows of y by the rms (with eps) of the
// matching row of x [rows × n]: the final norm, applied after a projection
// whose columns carry the norm's weight.
func divideByRMS(y, x []float32, rows, n int, eps float64) {
	cols := len(y) / rows
	for r := range rows {
		inv := invRMS(x[r*n:(r+1)*n], eps)
		for i := range y[r*cols : (r+1)*cols] {
			y[r*cols+i] *= inv
		}
	}
}

// addBias adds bias to every row of x.
func addBias(x, bias []float32, rows int) {
	n := len(bias)
	for r := 0; r < rows; r++ {
		row := x[r*n : (r+1)*n]
		for i, b := range bias {
			row[i] += b
		}
	}
}

// rotate rotates one head vector in place by the angles of its position, in
// the rotate-half layout of Hugging Face checkpoints: dimension i pairs with
// i + headDim/2.
func rotate(v, cos, sin []float32) {
	half := len(cos)
	a, b := v[:half], v[half:2*half]
	for i := range half {
		x1, x2 := a[i], b[i]
		a[i] = x1*cos[i] - x2*sin[i]
		b[i] = x2*cos[i] + x1*sin[i]
	}
}

// swiGLU writes silu(gate)·up for each row; gateUp rows hold gate then up.
func swiGLU(dst, gateUp []float32, rows, ffn int) {
	for r := 0; r < rows; r++ {
		g := gateUp[r*2*ffn : r*2*ffn+ffn]
		u := gateUp[r*2*ffn+ffn : (r+1)*2*ffn]
		out := dst[r*ffn : (r+1)*ffn]
		for i, x := range g {
			out[i] = x / (1 + fastmath.Exp(-x)) * u[i]
		}
	}
}

// softmaxPrefix turns row[:n] into probabilities and zeroes row[n:].
func softmaxPrefix(row []float32, n int) {
	max := row[0]
	for _, v := range row[1:n] {
		if v > max {
			max = v
		}
	}
	sum := fastmath.ExpShifted(row[:n], row[:n], max)
	inv := 1 / sum
	for i := range row[:n] {
		row[i] *= inv
	}
	clear(row[n:])
}
