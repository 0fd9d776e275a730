package gptq

import (
	"math"
	"slices"

	"github.com/qtk-dev/qtk/quant"
)

// referenceGPTQ is a plain float64 transcription of the reference
// fasterquant (AutoGPTQ auto_gptq/quantization/gptq.py), block structure
// included but with no lazy-update shortcut in the arithmetic: H⁻¹ is
// formed explicitly by Gauss-Jordan elimination and factorized again, as
// there. It returns the dequantized weights [out×in] in the original
// order, and the loss. Damping is not retried.
func referenceGPTQ(w0 []float32, out, in int, h0 []float64, o Options) ([]float32, float64) {
	o, _ = o.resolved()
	gs := o.Scheme.GroupSize
	maxq := o.Scheme.MaxQ()
	W := make([][]float64, out)
	for r := range W {
		W[r] = make([]float64, in)
		for c := range in {
			W[r][c] = float64(w0[r*in+c])
		}
	}
	H := make([][]float64, in)
	for i := range H {
		H[i] = slices.Clone(h0[i*in : (i+1)*in])
	}
	params := func(v []float64) (float32, uint8) {
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return o.Scheme.Params(f)
	}
	type qp struct {
		scale float32
		zero  uint8
	}
	rowParams := make([]qp, out)
	for r := range out {
		rowParams[r].scale, rowParams[r].zero = params(W[r])
	}
	for c := range in {
		if H[c][c] == 0 {
			H[c][c] = 1
			for r := range out {
				W[r][c] = 0
			}
		}
	}
	var static [][]qp
	if gs > 0 && o.StaticGroups {
		static = make([][]qp, out)
		for r := range out {
			for g := 0; g < in; g += gs {
				s, z := params(W[r][g : g+gs])
				static[r] = append(static[r], qp{s, z})
			}
		}
	}
	perm := make([]int, in)
	for c := range perm {
		perm[c] = c
	}
	if o.ActOrder {
		slices.SortStableFunc(perm, func(a, b int) int {
			switch {
			case H[a][a] > H[b][b]:
				return -1
			case H[a][a] < H[b][b]:
				return 1
			}
			return 0
		})
		for r := range out {
			row := slices.Clone(W[r])
			for j, c := range perm {
				W[r][j] = row[c]
			}
		}
		Hp := make([][]float64, in)
		for i := range Hp {
			Hp[i] = make([]float64, in)
			for j := range in {
				Hp[i][j] = H[perm[i]][perm[j]]
			}
		}
		H = Hp
	}
	mean := 0.0
	for i := range in {
		mean += H[i][i]
	}
	damp := o.Damp * mean / float64(in)
	for i := range in {
		H[i][i] += damp
	}
	// Hinv = cholesky(inverse(H), upper): U with H⁻¹ = UᵀU, U = Lᵀ for
	// the lower factor L of H⁻¹.
	L := choleskyRows(inverseRows(H))
	U := func(i, j int) float64 { return L[j][i] }

	Q := make([][]float64, out)
	for r := range Q {
		Q[r] = make([]float64, in)
	}
	cur := make([]qp, out)
	loss := 0.0
	for i1 := 0; i1 < in; i1 += o.BlockSize {
		i2 := min(i1+o.BlockSize, in)
		W1 := make([][]float64, out)
		Err1 := make([][]float64, out)
		for r := range out {
			W1[r] = slices.Clone(W[r][i1:i2])
			Err1[r] = make([]float64, i2-i1)
		}
		for i := range i2 - i1 {
			j := i1 + i
			d := U(j, j)
			for r := range out {
				switch {
				case gs <= 0:
					cur[r] = rowParams[r]
				case o.StaticGroups:
					cur[r] = static[r][perm[j]/gs]
				case j%gs == 0:
					cur[r].scale, cur[r].zero = params(W[r][j : j+gs])
				}
				x := float32(W1[r][i])
				q := float64(quant.Dequantize(quant.Quantize(x, cur[r].scale, cur[r].zero, maxq), cur[r].scale, cur[r].zero))
				Q[r][j] = q
				e := (W1[r][i] - q) / d
				loss += e * e / 2
				for k := i; k < i2-i1; k++ {
					W1[r][k] -= e * U(j, i1+k)
				}
				Err1[r][i] = e
			}
		}
		for r := range out {
			for k := i2; k < in; k++ {
				for i := range i2 - i1 {
					W[r][k] -= Err1[r][i] * U(i1+i, k)
				}
			}
		}
	}
	wq := make([]float32, out*in)
	for r := range out {
		for j, c := range perm {
			wq[r*in+c] = float32(Q[r][j])
		}
	}
	return wq, loss
}

// inverseRows inverts a by Gauss-Jordan elimination with partial pivoting.
func inverseRows(a [][]float64) [][]float64 {
	n := len(a)
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, 2*n)
		copy(m[i], a[i])
		m[i][n+i] = 1
	}
	for c := range n {
		p := c
		for i := c + 1; i < n; i++ {
			if math.Abs(m[i][c]) > math.Abs(m[p][c]) {
				p = i
			}
		}
		m[c], m[p] = m[p], m[c]
		inv := 1 / m[c][c]
		for k := range m[c] {
			m[c][k] *= inv
		}
		for i := range n {
			if i != c && m[i][c] != 0 {
				f := m[i][c]
				for k := range m[i] {
					m[i][k] -= f * m[c][k]
				}
			}
		}
	}
	for i := range m {
		m[i] = m[i][n:]
	}
	return m
}

// choleskyRows returns the lower Cholesky factor of a.
func choleskyRows(a [][]float64) [][]float64 {
	n := len(a)
	l := make([][]float64, n)
	for i := range l {
		l[i] = make([]float64, n)
		for j := 0; j <= i; j++ {
			s := a[i][j]
			for k := range j {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	return l
}
