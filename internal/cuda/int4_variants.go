package cuda

import "fmt"

// int4Variant is the launch of a GEMV kernel for one row of x, of
// kernels/int4_half.cu or kernels/int4_variants.cu (entry point
// int4_gemv_v_<name>).
type int4Variant struct {
	rows        int  // rows of the weight per block
	threads     int  // per block
	xBytes      int  // dynamic shared memory per column of x (x staged per block)
	staticBytes int  // the kernel's own shared memory
	tiles128    bool // reads 128 columns of one group at a time
	pdl         bool // waits for the grids before it: launched with LaunchGridPDL
}

// Int4Decode names the variant Int4GEMV runs for one row of x where it
// fits.
const Int4Decode = "h8"

// Int4VariantPDL reports whether the named variant is launched with
// programmatic dependent launch (where the device has it).
func Int4VariantPDL(name string) bool { return int4Variants[name].pdl }

var int4Variants = map[string]int4Variant{
	// int4_gemv_half<R, W, G>: float16 pairs, x staged as float16 (scaled),
	// R·G rows and 32·W·G threads a block, programmatic dependent launch.
	"h8":   {rows: 8, threads: 128, xBytes: 2, staticBytes: 4 * 8 * 4, pdl: true},
	"h8w8": {rows: 8, threads: 256, xBytes: 2, staticBytes: 4 * 8 * 8, pdl: true},
	"h16":  {rows: 16, threads: 256, xBytes: 2, staticBytes: 4 * 16 * 4, pdl: true},
	"h8p":  {rows: 8, threads: 128, xBytes: 2, staticBytes: 4 * 8 * 4, pdl: true},
	// float32 arithmetic of int4_gemv, x staged as float32: R = 8, INT4_WARPS warps.
	"float8": {rows: 8, threads: int4Block, xBytes: 4, staticBytes: 4 * 4 * 8},
	// float16 pairs, x staged as float16: R = 8, INT4_WARPS warps.
	"half8": {rows: 8, threads: int4Block, xBytes: 2, staticBytes: 4 * 4 * 8},
	// tensor cores, one tile of 16 rows, MMA_WARPS warps, 2 steps a batch.
	"mma1x2": {rows: 16, threads: 128, xBytes: 2, staticBytes: 4 * 4 * 16, tiles128: true},
	// tensor cores, one tile of 16 rows, MMA_WARPS warps, 4 steps a batch.
	"mma1x4": {rows: 16, threads: 128, xBytes: 2, staticBytes: 4 * 4 * 16, tiles128: true},
	// tensor cores, two tiles of 16 rows, MMA_WARPS warps, 2 steps a batch.
	"mma2x2": {rows: 32, threads: 128, xBytes: 2, staticBytes: 4 * 4 * 32, tiles128: true},
}

// Int4GEMVVariants names the alternative GEMV kernels, in the order
// benchmarks list them.
var Int4GEMVVariants = []string{"h8", "h8w8", "h16", "h8p", "float8", "half8", "mma1x2", "mma1x4", "mma2x2"}

// maxBlockShared is the shared memory a block gets without opting in.
const maxBlockShared = 48 << 10

// Int4VariantFits reports whether the named variant takes w: x must fit
// the shared memory of a block, and the tensor-core kernels need groups
// of a multiple of 128 columns, or one group.
func Int4VariantFits(name string, w Int4) bool {
	v, ok := int4Variants[name]
	return ok && v.fits(w)
}

func (v int4Variant) fits(w Int4) bool {
	if w.check() != nil || v.xBytes*w.In+v.staticBytes > maxBlockShared {
		return false
	}
	return !v.tiles128 || w.GroupLen%128 == 0 || w.Groups == 1
}

// Int4GEMVVariant sets y[Out] = W·x for one row x [In] (in the order of
// the codes, 16-byte aligned) with the named variant; those that wait for
// the grids before them are launched with LaunchGridPDL.
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
	return c.launchInt4(v, "int4_gemv_v_"+name, y, x, w)
}

// launchInt4 launches the kernel name of layout v over w, with extra
// arguments after int4_gemv_1's.
func (c *Ctx) launchInt4(v int4Variant, name string, y, x Buffer, w Int4, extra ...any) error {
	launch := c.LaunchGrid
	if v.pdl {
		launch = c.LaunchGridPDL
	}
	blocks := (w.Out + v.rows - 1) / v.rows
	args := append([]any{y, x, w.Codes, w.Params, int32(w.Out), int32(w.In), int32(w.Groups), int32(w.GroupLen / 32)}, extra...)
	return launch(name, Dim{X: blocks}, Dim{X: v.threads}, v.xBytes*w.In, args...)
}
