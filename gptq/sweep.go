package gptq

import (
	"fmt"

	"github.com/qtk-dev/qtk/compute"
)

// Parallel chunking of the sweep.
const (
	// sweepRows is the number of weight rows per parallel chunk of a block.
	sweepRows = 16
	// updateFloats bounds the float32 scratch of one lazy-update product.
	updateFloats = 1 << 22
)

// sweep quantizes the columns of a weight matrix in processing order
// (Frantar et al., Algorithm 1). Weight rows are independent: every row
// only ever reads its own weights, group parameters and errors, and U.
type sweep struct {
	out, in int
	o       Options
	grid    Grid
	gs      int   // the grid's group size
	dynamic bool  // groups are fitted when the sweep reaches them
	perm    []int // perm[j] is the input channel quantized j-th
	// w holds the weights [out×in] in processing order, as updated by the
	// blocks done so far: the reference's W. The block being quantized is
	// worked on in a copy (the reference's W1), so group parameters found
	// in its middle see w as it was when the block began, as there.
	w []float32
	// U is u, or factor on the device of the backend's Sweeper.
	u      invFactor
	factor compute.Factor
	// importance weighs each column's error in the grid's fits, in
	// processing order; nil when the fits take none.
	importance []float32
}

// newSweep prepares the sweep of w [out×in] onto grid by plan p, fitting
// the parameters that are fixed before it: one group per row, or static
// groups.
func newSweep(w []float32, out, in int, p plan, grid Grid, o Options) *sweep {
	gs := grid.GroupSize()
	perRow := gs >= in
	s := &sweep{
		out: out, in: in, o: o, importance: p.importance,
		grid: grid, gs: gs, dynamic: !perRow && !o.StaticGroups,
		perm: p.perm,
		w:    make([]float32, out*in),
		u:    p.u, factor: p.factor,
	}
	// The importance of each channel in its original order, for the
	// parameters found before the sweep.
	var original []float32
	if p.importance != nil {
		original = make([]float32, in)
		for j, c := range p.perm {
			original[c] = p.importance[j]
		}
	}
	span := func(lo, hi int) []float32 {
		if original == nil {
			return nil
		}
		return original[lo:hi]
	}
	parallelFor(out, sweepRows, func(lo, hi int) {
		row := make([]float32, in)
		for r := lo; r < hi; r++ {
			src := w[r*in : (r+1)*in]
			if perRow {
				// As the reference, which finds per-row parameters before
				// zeroing dead columns.
				grid.Fit(r, 0, src, span(0, in))
			}
			copy(row, src)
			for c, d := range p.dead {
				if d {
					row[c] = 0
				}
			}
			if !perRow && o.StaticGroups {
				for g := range in / gs {
					grid.Fit(r, g, row[g*gs:(g+1)*gs], span(g*gs, (g+1)*gs))
				}
			}
			dst := s.w[r*in : (r+1)*in]
			for j, c := range p.perm {
				dst[j] = row[c]
			}
		}
	})
	return s
}

// groupIndex returns the group of every input channel under package
// quant's scheme: the default c / GroupSize, or with act-order and dynamic
// groups the group of the channel's position in processing order.
func groupIndex(perm []int, o Options) []int32 {
	gidx := make([]int32, len(perm))
	gs := o.Scheme.GroupSize
	if gs <= 0 {
		return gidx
	}
	for j, c := range perm {
		if o.ActOrder && !o.StaticGroups {
			gidx[c] = int32(j / gs)
		} else {
			gidx[c] = int32(c / gs)
		}
	}
	return gidx
}

// run quantizes every column onto the grid and returns the loss: on the
// backend's device where it runs the sweep for this grid, else on the CPU.
func (s *sweep) run() (float64, error) {
	if sw, ok := s.o.Backend.(compute.Sweeper); ok {
		job, why := s.deviceJob()
		if why == "" {
			return s.runOn(sw, job)
		}
		s.o.Log("gptq: column sweep on the CPU: %s", why)
	}
	return s.runCPU()
}

// runCPU is run on the CPU, the lazy updates' products on the backend.
func (s *sweep) runCPU() (float64, error) {
	if s.u.m == nil {
		return 0, fmt.Errorf("gptq: the factor is on the device, the sweep on the CPU")
	}
	out, in, bs := s.out, s.in, s.o.BlockSize
	bs = min(bs, in)
	w1 := make([]float32, out*bs) // the block's weights, updated column by column
	e1 := make([]float32, out*bs) // the block's scaled errors (w-ŵ)/U[j][j]
	ud := make([]float32, bs*bs)  // U[i1:i2, i1:i2]
	losses := make([]float64, (out+sweepRows-1)/sweepRows)
	var ur, prod []float32 // U[i1:i2, i2:] and the lazy update's product
	for i1 := 0; i1 < in; i1 += bs {
		i2 := min(i1+bs, in)
		n := i2 - i1
		for t := range n {
			s.u.row(ud[t*n+t:(t+1)*n], i1+t, i1+t)
		}
		parallelFor(out, sweepRows, func(lo, hi int) {
			loss := 0.0
			for r := lo; r < hi; r++ {
				loss += s.quantizeRow(r, i1, ud[:n*n], w1[r*n:(r+1)*n], e1[r*n:(r+1)*n])
			}
			losses[lo/sweepRows] += loss
		})
		if i2 == in {
			break
		}
		// W[:, i2:] -= E1·U[i1:i2, i2:], by panels of rows.
		rest := in - i2
		ur = grow(ur, n*rest)
		for t := range n {
			s.u.row(ur[t*rest:(t+1)*rest], i1+t, i2)
		}
		panel := max(1, min(out, updateFloats/rest))
		prod = grow(prod, panel*rest)
		for r0 := 0; r0 < out; r0 += panel {
			r1 := min(r0+panel, out)
			if err := s.o.Backend.MatMul(prod, e1[r0*n:r1*n], ur, r1-r0, rest, n); err != nil {
				return 0, fmt.Errorf("gptq: lazy update: %w", err)
			}
			parallelFor(r1-r0, sweepRows, func(lo, hi int) {
				for r := r0 + lo; r < r0+hi; r++ {
					wr := s.w[r*in+i2 : (r+1)*in]
					for q, v := range prod[(r-r0)*rest : (r-r0+1)*rest] {
						wr[q] -= v
					}
				}
			})
		}
	}
	total := 0.0
	for _, l := range losses {
		total += l
	}
	return total, nil
}

// quantizeRow quantizes row r of the block starting at column i1, whose
// n×n factor block is ud, onto the grid, leaving the scaled errors in e and
// returning the row's loss. x is the row's scratch copy of the block.
func (s *sweep) quantizeRow(r, i1 int, ud, x, e []float32) float64 {
	n := len(x)
	copy(x, s.w[r*s.in+i1:])
	loss := 0.0
	for t := range n {
		j := i1 + t
		if s.dynamic && j%s.gs == 0 {
			// The reference's find_params(W[:, j:j+groupsize]) when
			// (i1+i) % groupsize == 0: the group's weights as updated by
			// the blocks before this one.
			var imp []float32
			if s.importance != nil {
				imp = s.importance[j : j+s.gs]
			}
			s.grid.Fit(r, j/s.gs, s.w[r*s.in+j:r*s.in+j+s.gs], imp)
		}
		err := (x[t] - s.grid.Round(r, s.perm[j], x[t])) / ud[t*n+t]
		e[t] = err
		loss += float64(err) * float64(err)
		// The rest of the block absorbs the error: x[t+1:] -= err·U[j, j+1:i2].
		urow := ud[t*n+t+1 : (t+1)*n]
		rest := x[t+1:]
		rest = rest[:len(urow)]
		for k, v := range urow {
			rest[k] -= err * v
		}
	}
	return loss / 2
}

// grow returns buf resliced to n values, reallocated if too short.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}
