package compute

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/cuda"
	"github.com/qtk-dev/qtk/quant"
)

// SweepMaxBlock is the largest SweepJob.BlockSize a Sweeper takes.
const SweepMaxBlock = cuda.SweepMaxBlock

// Sweeper is a backend that runs GPTQ's column sweep (package gptq; Frantar
// et al., 2022, Algorithm 1 with lazy batch updates) on its device, for
// package quant's integer grid with min-max group parameters. gptq finds
// it by type assertion and sweeps on the CPU where the grid is another.
type Sweeper interface {
	// Sweep quantizes the columns of job.W in order, each rounded onto
	// its group's grid and its scaled error (w-ŵ)/U[j][j] spread over the
	// columns after it through U, as gptq's CPU sweep does, and fills
	// job.Q, job.Scale and job.Zero. It returns the loss: half the sum of
	// the squared scaled errors.
	Sweep(job SweepJob) (float64, error)
}

// SweepJob is one weight matrix for a Sweeper. Columns are in processing
// order (gptq's act-order permutation applied).
type SweepJob struct {
	Out, In int
	// W [Out×In] holds the weights, dead columns zeroed; it is not
	// modified.
	W []float32
	// U [In×In] is the upper Cholesky factor of the damped H⁻¹, U[p][q]
	// at p·In+q; only the upper triangle (q ≥ p) is read. It is nil when
	// Factor holds U.
	U []float32
	// Factor, when set, is U on the device, made by the backend's
	// Factorizer.
	Factor Factor
	// BlockSize is the number of columns between two lazy updates, in
	// [1, SweepMaxBlock].
	BlockSize int
	// Scheme gives the grid and how group parameters are found from a
	// range (quant.Scheme.RangeParams): its Bits, Symmetric, MinZero and
	// BF16Scales; its GroupSize is not read.
	Scheme quant.Scheme
	// DynamicGroups fits group j/GroupSize by min-max when the sweep
	// reaches column j with j%GroupSize == 0, from the weights as updated
	// by the blocks before. Otherwise Scale and Zero already hold every
	// group's parameters.
	DynamicGroups bool
	GroupSize     int
	// Group [In] is the group of every column, in [0, len(Scale)/Out).
	Group []int32
	// Scale and Zero [Out×groups] are each row's group parameters.
	Scale []float32
	Zero  []uint8
	// Q [Out×In] receives the codes.
	Q []uint8
}

// check reports a job whose slices do not match its shape.
func (j *SweepJob) check() error {
	switch {
	case j.Out <= 0 || j.In <= 0:
		return fmt.Errorf("compute: sweep of [%d×%d]", j.Out, j.In)
	case len(j.W) != j.Out*j.In || len(j.Q) != j.Out*j.In || len(j.Group) != j.In:
		return fmt.Errorf("compute: sweep of [%d×%d] with %d weights, %d codes, %d groups of columns",
			j.Out, j.In, len(j.W), len(j.Q), len(j.Group))
	case j.Factor == nil && len(j.U) != j.In*j.In:
		return fmt.Errorf("compute: sweep of %d columns with %d factor entries", j.In, len(j.U))
	case j.Factor != nil && (j.U != nil || j.Factor.N() != j.In):
		return fmt.Errorf("compute: sweep of %d columns with a device factor of order %d and %d factor entries", j.In, j.Factor.N(), len(j.U))
	case len(j.Scale) == 0 || len(j.Scale)%j.Out != 0 || len(j.Zero) != len(j.Scale):
		return fmt.Errorf("compute: sweep of %d rows with %d scales and %d zero points", j.Out, len(j.Scale), len(j.Zero))
	case j.BlockSize < 1 || j.BlockSize > SweepMaxBlock:
		return fmt.Errorf("compute: sweep blocks of %d columns: want 1 to %d", j.BlockSize, SweepMaxBlock)
	case j.Scheme.Bits < 1 || j.Scheme.Bits > 8:
		return fmt.Errorf("compute: sweep onto %d-bit integers", j.Scheme.Bits)
	}
	groups := len(j.Scale) / j.Out
	if j.DynamicGroups && (j.GroupSize <= 0 || j.In%j.GroupSize != 0 || j.In/j.GroupSize > groups) {
		return fmt.Errorf("compute: sweep of %d columns in dynamic groups of %d, %d groups", j.In, j.GroupSize, groups)
	}
	for c, g := range j.Group {
		if g < 0 || int(g) >= groups {
			return fmt.Errorf("compute: sweep column %d in group %d of %d", c, g, groups)
		}
	}
	return nil
}
