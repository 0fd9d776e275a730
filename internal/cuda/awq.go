package cuda

import "fmt"

// AWQ's searches on the device (kernels/awq.cu). Sizes are in elements;
// the caller sizes the buffers.

// QuantGrid is package quant's integer grid as the kernels take it: groups
// of GroupSize consecutive input channels (dividing the row), integers
// 0..MaxQ, a zero point fixed at (MaxQ+1)/2 when Symmetric, else at least
// MinZero, scales rounded to bfloat16 with BF16Scales, else to float16.
type QuantGrid struct {
	GroupSize, MaxQ, MinZero int
	Symmetric, BF16Scales    bool
}

func (g QuantGrid) check(in int) error {
	if g.GroupSize <= 0 || in%g.GroupSize != 0 || g.MaxQ <= 0 || g.MaxQ > 255 || g.MinZero < 0 || g.MinZero > g.MaxQ {
		return fmt.Errorf("grid %+v for rows of %d", g, in)
	}
	return nil
}

// warpBlocks is the grid of the kernels that give a warp to each of n
// items, launchThreads/32 per block, striding over the rest.
func warpBlocks(n int64) Dim {
	perBlock := int64(launchThreads / 32)
	return Dim{X: int(max(1, min((n+perBlock-1)/perBlock, 1<<16)))}
}

// FakeQuant sets dst = Q(w·diag(s))·diag(1/s) for w [rows × in] and
// s [in]: each group of every row scaled by s, quantized with min-max
// parameters on grid, dequantized and divided by s.
func (c *Ctx) FakeQuant(dst, w, s Buffer, rows, in int, grid QuantGrid) error {
	if err := grid.check(in); err != nil {
		return fmt.Errorf("fake quantization: %w", err)
	}
	if rows <= 0 {
		return nil
	}
	groups := int64(rows) * int64(in/grid.GroupSize)
	return c.LaunchGrid("awq_fake_quant", warpBlocks(groups), Dim{X: launchThreads}, 0,
		dst, w, s, int64(rows), int32(in), int32(grid.GroupSize),
		int32(grid.MaxQ), flag(grid.Symmetric), int32(grid.MinZero), flag(grid.BF16Scales))
}

// ClipDeltas writes to d [groups × candidates × rows × GroupSize] the
// error ŵ - w of every group of w [rows × in] clamped to ±absmax·(1 -
// c/steps) for candidates c = 0 … candidates-1 and quantized with the
// clamped range's min-max parameters.
func (c *Ctx) ClipDeltas(d, w Buffer, rows, in int, grid QuantGrid, candidates, steps int) error {
	if err := grid.check(in); err != nil {
		return fmt.Errorf("clip deltas: %w", err)
	}
	if candidates <= 0 || steps <= 0 || candidates > steps {
		return fmt.Errorf("clip deltas: %d candidates of %d steps", candidates, steps)
	}
	if rows <= 0 {
		return nil
	}
	groups := int64(rows) * int64(in/grid.GroupSize)
	return c.LaunchGrid("awq_clip_deltas", warpBlocks(groups), Dim{X: launchThreads}, 0,
		d, w, int32(rows), int32(in), int32(grid.GroupSize), int32(candidates), int32(steps),
		int32(grid.MaxQ), flag(grid.Symmetric), int32(grid.MinZero), flag(grid.BF16Scales))
}

// GroupErrors sets, for each of batch groups g, e_g [m × n] = d_g [m ×
// k]·x_gᵀ: d_g starts at element g·m·k of d, x_g [n × k] at element g·k
// of x [n × batch·k] (rows batch·k apart), e_g at g·m·n of e. With d from
// ClipDeltas (m = candidates·rows, k = GroupSize) these are the output
// errors of every group's candidates on the inputs x.
func (c *Ctx) GroupErrors(e, d, x Buffer, m, n, k, batch int) error {
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	one, zero := float32(1), float32(0)
	// Column-major, e_gᵀ [n × m] = x_g·d_gᵀ: x_g is read as x_gᵀ [k × n]
	// with leading dimension batch·k and transposed, d_g as d_gᵀ [k × m].
	return checkBLAS("cublasSgemmStridedBatched", cublasSgemmStridedBatched(h, opT, opN,
		int32(n), int32(m), int32(k), &one,
		x.ptr, int32(batch*k), int64(k),
		d.ptr, int32(k), int64(m)*int64(k),
		&zero, e.ptr, int32(n), int64(m)*int64(n), int32(batch)))
}

// RowMeanSquares sets loss[b·out + row0 + r] (float64) to the mean of the
// squares of row (b, r) of e [blocks × rows × n].
func (c *Ctx) RowMeanSquares(loss, e Buffer, blocks, rows, n, out, row0 int) error {
	if blocks <= 0 || rows <= 0 || n <= 0 {
		return nil
	}
	return c.LaunchGrid("awq_row_mean_squares", warpBlocks(int64(blocks)*int64(rows)), Dim{X: launchThreads}, 0,
		loss, e, int32(blocks), int32(rows), int32(n), int32(out), int32(row0))
}

// reduceThreads and ReduceBlocks match AWQ_REDUCE_THREADS and the fixed
// number of partial sums of SquaredDiffSum.
const (
	reduceThreads = 256
	// ReduceBlocks is the number of float64 partial sums SquaredDiffSum
	// needs room for.
	ReduceBlocks = 512
)

// SquaredDiffSum adds to acc[0] (float64) the sum of (a[i] - b[i])² over
// the first n floats, the difference rounded to float32, the rest in
// float64; partial holds ReduceBlocks float64. The order of the sum is
// fixed: the same inputs give the same bits.
func (c *Ctx) SquaredDiffSum(acc, a, b, partial Buffer, n int64) error {
	if n <= 0 {
		return nil
	}
	if err := c.LaunchGrid("awq_sq_diff_partials", Dim{X: ReduceBlocks}, Dim{X: reduceThreads}, 0, partial, a, b, n); err != nil {
		return err
	}
	return c.LaunchGrid("awq_add_partials", Dim{X: 1}, Dim{X: reduceThreads}, 0, acc, partial, int32(ReduceBlocks))
}

// DotSum adds to acc[0] (float64) the sum of a[i]·b[i] over the first n
// floats, in float64 and in a fixed order; partial holds ReduceBlocks
// float64.
func (c *Ctx) DotSum(acc, a, b, partial Buffer, n int64) error {
	if n <= 0 {
		return nil
	}
	if err := c.LaunchGrid("awq_dot_partials", Dim{X: ReduceBlocks}, Dim{X: reduceThreads}, 0, partial, a, b, n); err != nil {
		return err
	}
	return c.LaunchGrid("awq_add_partials", Dim{X: 1}, Dim{X: reduceThreads}, 0, acc, partial, int32(ReduceBlocks))
}

// SubInto sets x -= y over n floats.
func (c *Ctx) SubInto(x, y Buffer, n int) error {
	return c.elementwise("awq_sub_into", int64(n), x, y, int64(n))
}

// AddGram adds xᵀx to g [cols × cols] (all of it, float32), x being
// [rows × cols].
func (c *Ctx) AddGram(g, x Buffer, rows, cols int) error {
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	one := float32(1)
	// Column-major, x is xᵀ [cols × rows] and g = xᵀ·(xᵀ)ᵀ, symmetric.
	return checkBLAS(fmt.Sprintf("cublasSgemm(gram of [%d×%d])", rows, cols), cublasSgemm(h, opN, opT, int32(cols), int32(cols), int32(rows), &one, x.ptr, int32(cols), x.ptr, int32(cols), &one, g.ptr, int32(cols)))
}

// AddGramTF32 is AddGram on the tensor cores: the products of x's values
// rounded to TF32, summed in float32.
func (c *Ctx) AddGramTF32(g, x Buffer, rows, cols int) error {
	h, err := c.blasHandle()
	if err != nil {
		return err
	}
	one := float32(1)
	return checkBLAS(fmt.Sprintf("cublasGemmEx(TF32 gram of [%d×%d])", rows, cols), cublasGemmEx(h, opN, opT, int32(cols), int32(cols), int32(rows), &one,
		x.ptr, dataFloat32, int32(cols), x.ptr, dataFloat32, int32(cols), &one, g.ptr, dataFloat32, int32(cols),
		computeFastTF32, gemmDefaultAlgo))
}

// AbsColumnSlices is the number of row slices AbsColumnSums sums
// separately: partial holds AbsColumnSlices·cols float64.
const AbsColumnSlices = 64

// AbsColumnSums adds to sum[c] (float64) the sum of |x[r, c]| over the
// rows of x [rows × cols], in a fixed order.
func (c *Ctx) AbsColumnSums(sum, x, partial Buffer, rows, cols int) error {
	if rows <= 0 || cols <= 0 {
		return nil
	}
	slices := min(AbsColumnSlices, rows)
	grid := Dim{X: (cols + launchThreads - 1) / launchThreads, Y: slices}
	if err := c.LaunchGrid("awq_abs_column_partials", grid, Dim{X: launchThreads}, 0, partial, x, int64(rows), int32(cols)); err != nil {
		return err
	}
	return c.elementwise("awq_add_column_partials", int64(cols), sum, partial, int32(slices), int32(cols))
}

// GatherRows copies count rows of src [· × cols], rows first, first+step,
// …, to dst [count × cols].
func (c *Ctx) GatherRows(dst, src Buffer, first, step, count, cols int) error {
	return c.elementwise("awq_gather_rows", int64(count)*int64(cols), dst, src, int64(first), int64(step), int64(count), int32(cols))
}

// ScaleColumns multiplies column c of w [rows × cols] by s[c].
func (c *Ctx) ScaleColumns(w, s Buffer, rows, cols int) error {
	return c.elementwise("awq_scale_columns", int64(rows)*int64(cols), w, s, int64(rows), int32(cols))
}

// DivideRows divides row r of w [rows × cols] by s[r].
func (c *Ctx) DivideRows(w, s Buffer, rows, cols int) error {
	return c.elementwise("awq_divide_rows", int64(rows)*int64(cols), w, s, int64(rows), int32(cols))
}

// ClampGroups clamps group g of row r of w [rows × in] to ±absmax·(1 -
// chosen[g·rows + r]/steps) (chosen int32 [groups × rows]), absmax the
// group's largest |w|; a choice of 0 leaves the group as it is.
func (c *Ctx) ClampGroups(w, chosen Buffer, rows, in int, grid QuantGrid, steps int) error {
	if err := grid.check(in); err != nil {
		return fmt.Errorf("clamp groups: %w", err)
	}
	if steps <= 0 {
		return fmt.Errorf("clamp groups: %d steps", steps)
	}
	if rows <= 0 {
		return nil
	}
	groups := int64(rows) * int64(in/grid.GroupSize)
	return c.LaunchGrid("awq_clamp_groups", warpBlocks(groups), Dim{X: launchThreads}, 0,
		w, chosen, int32(rows), int32(in), int32(grid.GroupSize), int32(steps))
}

// RoundGroups quantizes every group of w [rows × in] with its min-max
// parameters on grid: the codes to q [rows × in] (bytes), the scales
// (float32) and zero points (bytes) to scales and zeros [rows × groups].
func (c *Ctx) RoundGroups(q, scales, zeros, w Buffer, rows, in int, grid QuantGrid) error {
	if err := grid.check(in); err != nil {
		return fmt.Errorf("round groups: %w", err)
	}
	if rows <= 0 {
		return nil
	}
	groups := int64(rows) * int64(in/grid.GroupSize)
	return c.LaunchGrid("awq_round", warpBlocks(groups), Dim{X: launchThreads}, 0,
		q, scales, zeros, w, int64(rows), int32(in), int32(grid.GroupSize),
		int32(grid.MaxQ), flag(grid.Symmetric), int32(grid.MinZero), flag(grid.BF16Scales))
}
