package cuda

import "fmt"

// int4Variant is the launch of a layout of the float16 GEMV for one row of
// x (int4_gemv_half in kernels/int4_half.cu, entry point
// int4_gemv_v_<kernel>). Every one waits for the grids before it: all are
// launched with LaunchGridPDL.
type int4Variant struct {
	kernel      string // entry point int4_gemv_v_<kernel>
	rows        int    // rows of the weight a tile (a block's at a time)
	threads     int    // per block
	staticBytes int    // the kernel's own shared memory
}

var int4Variants = map[string]int4Variant{
	// int4_gemv_half<R, W, G>: R·G rows and 32·W·G threads a block, x
	// staged as float16 (2 bytes a column) in dynamic shared memory.
	"h8r":  {kernel: "h8r", rows: 8, threads: 128, staticBytes: 4 * 8 * 4},
	"h16r": {kernel: "h16r", rows: 16, threads: 256, staticBytes: 4 * 16 * 4},
}

// Int4GEMVVariants names the layouts, in the order benchmarks list them.
var Int4GEMVVariants = []string{"h8r", "h16r"}

// int4DecodeVariant is the layout Int4GEMV runs for one row of x through w,
// by the weight's shape, after BenchmarkQuantGEMVVariants on an H100: 8
// rows a block (h8r) were fastest for weights of more rows than columns
// (11008×4096), 16 (h16r) for the others (4096×4096, 4096×11008). The
// runtime holds in this plain layout only the weights the tensor-core
// layout (Int4MMA, faster still) does not take.
func int4DecodeVariant(w Int4) string {
	if w.Out > w.In {
		return "h8r"
	}
	return "h16r"
}

// SetInt4Decode makes Int4GEMV (the plain layout's GEMV) run the named
// layout for one row of x wherever it fits, or with "" the layout by the weight's shape (for
// benchmarks comparing them in whole decode steps), and returns the
// setting before.
func (c *Ctx) SetInt4Decode(name string) (was string, err error) {
	if _, ok := int4Variants[name]; !ok && name != "" {
		return c.decode, fmt.Errorf("int4 gemv: no variant %q", name)
	}
	was, c.decode = c.decode, name
	return was, nil
}

// maxBlockShared is the shared memory a block gets without opting in.
const maxBlockShared = 48 << 10

// Int4VariantFits reports whether the named layout takes w: x must fit
// the shared memory of a block as float16.
func Int4VariantFits(name string, w Int4) bool {
	v, ok := int4Variants[name]
	return ok && w.check() == nil && 2*w.In+v.staticBytes <= maxBlockShared
}

// Int4GEMVVariant sets y[Out] = W·x for one row x [In] (in the order of
// the codes, 16-byte aligned) with the named layout.
func (c *Ctx) Int4GEMVVariant(name string, y, x Buffer, w Int4) error {
	v, ok := int4Variants[name]
	if !ok {
		return fmt.Errorf("int4 gemv: no variant %q", name)
	}
	if !Int4VariantFits(name, w) {
		return fmt.Errorf("int4 gemv %s: does not take [%d×%d] in %d groups of %d", name, w.Out, w.In, w.Groups, w.GroupLen)
	}
	if x.ptr%16 != 0 || x.bytes < uintptr(4*w.In) || y.bytes < uintptr(4*w.Out) {
		return fmt.Errorf("int4 gemv %s: x of %d bytes at %#x, y of %d bytes for [%d×%d]", name, x.bytes, x.ptr, y.bytes, w.Out, w.In)
	}
	return c.LaunchGridPDL("int4_gemv_v_"+v.kernel, Dim{X: (w.Out + v.rows - 1) / v.rows}, Dim{X: v.threads}, 2*w.In,
		y, x, w.Codes, w.Params, int32(w.Out), int32(w.In), int32(w.Groups), int32(w.GroupLen/32))
}
