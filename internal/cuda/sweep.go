package cuda

import "fmt"

// SweepMaxBlock is the most columns one block of the sweep may have: the
// width of gptq_sweep_block's shared tile (SWEEP_MAX_BLOCK in sweep.cu).
const SweepMaxBlock = 128

// sweepRows is the number of weight rows per thread block of
// gptq_sweep_block, one per thread (SWEEP_ROWS in sweep.cu).
const sweepRows = 32

// Sweep is GPTQ's column sweep of one weight matrix on the device, for
// package quant's integer grid with min-max group parameters: the buffers
// it works in and the grid.
type Sweep struct {
	Out, In int
	// W [Out×In] float32 holds the weights in processing order; the lazy
	// updates change the columns after each block.
	W Buffer
	// U [In×In] float32, row-major, is the upper Cholesky factor of H⁻¹
	// in processing order; only its upper triangle is read.
	U Buffer
	// E [Out×SweepMaxBlock] float32 receives a block's scaled errors.
	E Buffer
	// Q [Out×In] bytes receives the codes, in processing order.
	Q Buffer
	// Scale (float32) and Zero (bytes) [Out×Groups] hold each row's group
	// parameters: read, and with DynamicGroups written when the sweep
	// reaches a group.
	Scale, Zero Buffer
	Groups      int
	// Group [In] int32 is the group of every processing column.
	Group Buffer
	// Loss [Out] float64 gains every row's sum of squared scaled errors.
	Loss Buffer
	// DynamicGroups fits group j/GroupSize when the sweep reaches column j
	// with j%GroupSize == 0, by min-max over W[r, j:j+GroupSize].
	DynamicGroups bool
	GroupSize     int
	// The grid (quant.Scheme): integers 0..MaxQ, a zero point fixed at
	// (MaxQ+1)/2 when Symmetric, else at least MinZero; scales rounded to
	// bfloat16 with BF16Scales, else to float16.
	MaxQ       int
	Symmetric  bool
	MinZero    int
	BF16Scales bool
}

// check verifies the shapes and that every buffer holds them, so that no
// kernel reads or writes outside one.
func (s *Sweep) check() error {
	if s.Out <= 0 || s.In <= 0 || s.Groups <= 0 || s.MaxQ <= 0 || s.MaxQ > 255 {
		return fmt.Errorf("sweep of [%d×%d], %d groups, maxq %d", s.Out, s.In, s.Groups, s.MaxQ)
	}
	if s.DynamicGroups && (s.GroupSize <= 0 || s.In%s.GroupSize != 0 || s.In/s.GroupSize > s.Groups) {
		return fmt.Errorf("sweep of %d columns: dynamic groups of %d in %d groups", s.In, s.GroupSize, s.Groups)
	}
	out, in := uintptr(s.Out), uintptr(s.In)
	for _, b := range []struct {
		name  string
		buf   Buffer
		bytes uintptr
	}{
		{"W", s.W, 4 * out * in},
		{"U", s.U, 4 * in * in},
		{"E", s.E, 4 * out * SweepMaxBlock},
		{"Q", s.Q, out * in},
		{"Scale", s.Scale, 4 * out * uintptr(s.Groups)},
		{"Zero", s.Zero, out * uintptr(s.Groups)},
		{"Group", s.Group, 4 * in},
		{"Loss", s.Loss, 8 * out},
	} {
		if b.buf.bytes < b.bytes {
			return fmt.Errorf("sweep of [%d×%d]: %s has %d bytes, want %d", s.Out, s.In, b.name, b.buf.bytes, b.bytes)
		}
	}
	return nil
}

// SweepBlock quantizes the n columns [i1, i1+n) of s (0 < n ≤
// SweepMaxBlock), then applies the lazy update of the columns after them:
// W[:, i1+n:] -= E·U[i1:i1+n, i1+n:]. The group of every column must lie
// in [0, s.Groups).
func (c *Ctx) SweepBlock(s *Sweep, i1, n int) error {
	if err := s.check(); err != nil {
		return err
	}
	if i1 < 0 || n <= 0 || n > SweepMaxBlock || i1+n > s.In {
		return fmt.Errorf("sweep block [%d, %d) of %d columns", i1, i1+n, s.In)
	}
	err := c.LaunchGrid("gptq_sweep_block", Dim{X: (s.Out + sweepRows - 1) / sweepRows}, Dim{X: sweepRows}, 0,
		s.W, s.U, s.E, s.Q, s.Scale, s.Zero, s.Group, s.Loss,
		int32(s.Out), int32(s.In), int32(i1), int32(n), int32(s.Groups), int32(s.GroupSize),
		flag(s.DynamicGroups), int32(s.MaxQ), flag(s.Symmetric), int32(s.MinZero), flag(s.BF16Scales))
	if err != nil {
		return err
	}
	i2 := i1 + n
	if i2 == s.In {
		return nil
	}
	rest := s.In - i2
	return c.subMatMul(s.W.Offset(4*i2), s.E, s.U.Offset(4*(i1*s.In+i2)), s.Out, rest, n, s.In, n, s.In)
}

// subMatMul sets C[m×n] -= A[m×k]·B[k×n], float32 row-major matrices
// whose rows are ldc, lda and ldb values apart.
func (c *Ctx) subMatMul(dst, a, b Buffer, m, n, k, ldc, lda, ldb int) error {
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	minusOne, one := float32(-1), float32(1)
	// Column-major, Cᵀ[n×m] -= Bᵀ·Aᵀ, each transpose being the row-major
	// matrix read column-major with its row stride as leading dimension.
	return checkBLAS("cublasSgemm", cublasSgemm(h, opN, opN, int32(n), int32(m), int32(k), &minusOne, b.ptr, int32(ldb), a.ptr, int32(lda), &one, dst.ptr, int32(ldc)))
}

// flag is a bool as a kernel's int parameter.
func flag(b bool) int32 {
	if b {
		return 1
	}
	return 0
}
