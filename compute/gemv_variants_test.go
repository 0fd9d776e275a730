package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// variantTolerance is the relative error (‖got-want‖/‖want‖) the GEMV
// layouts are held to against the float64 product with the dequantized
// weight: float16 x (relative rounding 2^-11) and sums of 8 products in
// float16; int4_gemv_1, in float32, to 1e-5.
const variantTolerance = 2e-3

// TestQuantGEMVVariants checks every layout of the GEMV against the
// float64 product, over shapes that exercise the edges: rows not a
// multiple of a block's, widths not a multiple of 128, groups of 32 to a
// whole row, Llama-2-7B's widths. x includes values near ±200, and a
// chunk of 5000s to catch float16 overflow of partial sums.
func TestQuantGEMVVariants(t *testing.T) {
	be, err := OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	g := be.(*gpu)
	for _, tc := range []struct{ out, in, groupSize int }{
		{64, 256, 128},
		{67, 384, 128},
		{33, 96, 32},
		{5, 160, -1},
		{130, 512, 64},
		{100, 1152, 128}, // 9 tiles of 128 columns: warps with unequal shares
		{48, 4096, 256},
		{4096, 4096, 128},
		{40, 11008, 128},
		{4100, 1024, 128}, // a last tile of 4 rows in h8r and h16r
	} {
		rng := rand.New(rand.NewPCG(uint64(tc.out), uint64(tc.in)))
		q := randQuant(rng, tc.out, tc.in, 4, tc.groupSize, false)
		p, ok := packInt4(&q)
		if !ok {
			t.Fatalf("%dx%d g%d: not packed", tc.out, tc.in, tc.groupSize)
		}
		l := &gpuQuantLinear{g: g, w: cuda.Int4{Out: q.Out, In: q.In, Groups: q.Groups(), GroupLen: p.groupLen}}
		if err := l.hold(p); err != nil {
			t.Fatal(err)
		}
		if cuda.Int4MMAFits(l.w.Out, l.w.In, l.w.GroupLen) {
			m, err := packInt4MMA(p, l.w.Out, l.w.In)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.holdMMA(m, nil); err != nil {
				t.Fatal(err)
			}
		}
		x := randn(rng, tc.in)
		for j := 0; j < tc.in; j += 97 {
			x[j] *= 100
		}
		for j := 32; j < min(64, tc.in); j++ {
			x[j] = 5000 // a chunk whose float16 partial sums overflow unless x is scaled down
		}
		want := productOf(q.Dequantize(), x, 1, tc.out, tc.in)
		for _, name := range allGEMVVariants() {
			t.Run(fmt.Sprintf("%dx%d/g%d/%s", tc.out, tc.in, tc.groupSize, name), func(t *testing.T) {
				if !variantFits(name, l) {
					t.Skip("the variant does not take this weight")
				}
				got := make([]float32, tc.out)
				err := g.dev.Do(func(c *cuda.Ctx) error {
					xd, err := c.Alloc(4 * tc.in)
					if err != nil {
						return err
					}
					defer c.Free(xd)
					yd, err := c.Alloc(4 * tc.out)
					if err != nil {
						return err
					}
					defer c.Free(yd)
					if err := upload(g, c, xd, x); err != nil {
						return err
					}
					if err := runVariant(c, name, yd, xd, l); err != nil {
						return err
					}
					return download(g, c, got, yd)
				})
				if err != nil {
					t.Fatal(err)
				}
				tol := variantTolerance
				if name == "int4_gemv_1" {
					tol = 1e-5
				}
				e := relErr(got, want)
				t.Logf("relative error %.3g", e)
				if !(e < tol) {
					t.Errorf("relative error %g, want < %g", e, tol)
				}
			})
		}
		l.Release()
	}
}

// BenchmarkQuantGEMVVariants times int4_gemv_1 (float32) and every
// layout of the float16 GEMV side by side, as BenchmarkQuantGEMV's graph
// replay does: one row of x through Llama-2-7B's projection shapes, group
// 128, rotating through copies of the weight, bytes and copy fraction
// counted the same way. The products of a graph run back to back; the
// layouts run twice: launched plainly (<name>) and with programmatic
// dependent launch (<name>/pdl), where a product's loads overlap the end
// of the one before.
//
// Its first lines, floor, are the same kernels on a [16×128] weight replayed the same way: the least time a product takes
// in a graph (launch and gap), to be set against each shape's us/call.
func BenchmarkQuantGEMVVariants(b *testing.B) {
	g, copyRate := openGEMVBench(b)
	b.Logf("programmatic dependent launch: %v", pdlOn(g))
	b.Run("floor", func(b *testing.B) {
		f := &gemvFixture{ls: make([]*gpuQuantLinear, 64)}
		q := randQuant(rand.New(rand.NewPCG(16, 128)), 16, 128, 4, 128, false)
		p, ok := packInt4(&q)
		if !ok {
			b.Fatal("the 4-bit kernels do not take the weight")
		}
		f.ls[0] = &gpuQuantLinear{g: g, w: cuda.Int4{Out: 16, In: 128, Groups: 1, GroupLen: 128}}
		if err := f.ls[0].hold(p); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(f.ls[0].Release)
		for i := range f.ls {
			f.ls[i] = f.ls[0]
		}
		f.bytesPerCall = 4 * (len(p.codes) + len(p.params) + 128 + 16)
		err := g.dev.Do(func(c *cuda.Ctx) error {
			var err error
			if f.x, err = c.Alloc(4 * 128); err != nil {
				return err
			}
			f.y, err = c.Alloc(4 * 16)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { g.dev.Do(func(c *cuda.Ctx) error { c.Free(f.x); return c.Free(f.y) }) })
		benchVariants(b, g, f, allGEMVVariants(), copyRate)
	})
	for _, sh := range gemvShapes {
		b.Run(fmt.Sprintf("%dx%d", sh.out, sh.in), func(b *testing.B) {
			f := newGEMVFixture(b, g, sh.out, sh.in)
			benchVariants(b, g, f, allGEMVVariants(), copyRate)
		})
	}
}

// benchVariants runs a sub-benchmark of graph replay per named kernel
// over f's weights, and one more with programmatic dependent launch for
// the kernels that take it.
func benchVariants(b *testing.B, g *gpu, f *gemvFixture, names []string, copyRate float64) {
	for _, name := range names {
		gemv := func(c *cuda.Ctx, calls int) error {
			for i := range calls {
				if err := runVariant(c, name, f.y, f.x, f.ls[i%len(f.ls)]); err != nil {
					return err
				}
			}
			return nil
		}
		if !variantFits(name, f.ls[0]) {
			continue
		}
		b.Run(name, func(b *testing.B) {
			defer setPDL(g, setPDL(g, false))
			benchReplayed(b, g, len(f.ls), f.bytesPerCall, gemv, copyRate)
		})
		if name != "int4_gemv_1" && pdlOn(g) {
			b.Run(name+"/pdl", func(b *testing.B) { benchReplayed(b, g, len(f.ls), f.bytesPerCall, gemv, copyRate) })
		}
	}
}

// allGEMVVariants lists the float32 kernel, the float16 layouts and the
// tensor-core kernel ("mma", the one Int4MMAGEMV picks by shape).
func allGEMVVariants() []string {
	return append(append([]string{"int4_gemv_1"}, cuda.Int4GEMVVariants...), "mma")
}

// variantFits reports whether the named GEMV takes l's weight.
func variantFits(name string, l *gpuQuantLinear) bool {
	switch name {
	case "int4_gemv_1":
		return true
	case "mma":
		return l.mma.Codes != (cuda.Buffer{})
	}
	return cuda.Int4VariantFits(name, l.w)
}

// runVariant runs the named GEMV for one row.
func runVariant(c *cuda.Ctx, name string, y, x cuda.Buffer, l *gpuQuantLinear) error {
	switch name {
	case "int4_gemv_1":
		return c.Int4GEMVFloat(y, x, l.w, 1)
	case "mma":
		return c.Int4MMAGEMV(y, x, l.mma, 1)
	}
	return c.Int4GEMVVariant(name, y, x, l.w)
}

// setPDL turns the device's programmatic dependent launch on or off and
// returns whether it was on.
func setPDL(g *gpu, on bool) (was bool) {
	g.dev.Do(func(c *cuda.Ctx) error { was = c.SetPDL(on); return nil })
	return was
}

// pdlOn reports whether the device launches with programmatic dependent
// launch.
func pdlOn(g *gpu) (on bool) {
	g.dev.Do(func(c *cuda.Ctx) error { on = c.PDL(); return nil })
	return on
}

// TestQuantGEMVChained runs products that each read the one before
// (x → W1·x → W2·W1·x …) with the decoding kernel (the layout by shape,
// then each layout), launched one by one and replayed from a graph:
// launched with programmatic dependent launch, a product that read its x
// before the one before had written it would be off the float64 chain.
func TestQuantGEMVChained(t *testing.T) {
	be, err := OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	g := be.(*gpu)
	const n, links = 4096, 6 // the size of a Llama-2-7B projection
	rng := rand.New(rand.NewPCG(3, 9))
	ls := make([]*gpuQuantLinear, links)
	want := randn(rng, n)
	x := append([]float32(nil), want...)
	for i := range ls {
		q := randQuant(rng, n, n, 4, 128, false)
		y := productOf(q.Dequantize(), want, 1, n, n)
		norm := 0.0 // scale the weight to keep the chain's values near 1
		for _, v := range y {
			norm += float64(v) * float64(v)
		}
		for j := range q.Scale {
			q.Scale[j] *= float32(1 / math.Sqrt(norm/n))
		}
		want = productOf(q.Dequantize(), want, 1, n, n)
		p, ok := packInt4(&q)
		if !ok {
			t.Fatal("not packed")
		}
		ls[i] = &gpuQuantLinear{g: g, w: cuda.Int4{Out: n, In: n, Groups: q.Groups(), GroupLen: p.groupLen}}
		defer ls[i].Release()
		if err := ls[i].hold(p); err != nil {
			t.Fatal(err)
		}
		m, err := packInt4MMA(p, n, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := ls[i].holdMMA(m, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("programmatic dependent launch: %v", pdlOn(g))
	for _, layout := range append(append([]string{""}, cuda.Int4GEMVVariants...), "mma") {
		for _, graph := range []bool{false, true} {
			got := make([]float32, n)
			err := g.dev.Do(func(c *cuda.Ctx) error {
				bufs := make([]cuda.Buffer, links+1)
				for i := range bufs {
					var err error
					if bufs[i], err = c.Alloc(4 * n); err != nil {
						return err
					}
					defer c.Free(bufs[i])
				}
				if err := upload(g, c, bufs[0], x); err != nil {
					return err
				}
				chain := func() error {
					for i, l := range ls {
						var err error
						if layout == "" {
							err = c.Int4GEMV(bufs[i+1], bufs[i], l.w, 1)
						} else {
							err = runVariant(c, layout, bufs[i+1], bufs[i], l)
						}
						if err != nil {
							return err
						}
					}
					return nil
				}
				if graph {
					gr, err := c.Record(chain)
					if err != nil {
						return err
					}
					defer c.FreeGraph(gr)
					if err := c.Replay(gr); err != nil {
						return err
					}
				} else if err := chain(); err != nil {
					return err
				}
				return download(g, c, got, bufs[links])
			})
			if err != nil {
				t.Fatal(err)
			}
			e := relErr(got, want)
			t.Logf("layout %q, graph %v: relative error %.3g after %d products; programmatic dependent launch: %v", layout, graph, e, links, pdlOn(g))
			if !(e < 5e-3) {
				t.Errorf("layout %q, graph %v: relative error %g after %d products", layout, graph, e, links)
			}
		}
	}
}

// BenchmarkInt4Dequantize times the dequantization of a 4-bit weight into
// float32 (what a product of more than cuda.Int4MaxRows rows does before
// cuBLAS) from each layout, at Llama-2-7B's projection shapes: bytes are
// the float32 weight written and the codes and params read, against the
// device-to-device copy bandwidth.
func BenchmarkInt4Dequantize(b *testing.B) {
	g, copyRate := openGEMVBench(b)
	for _, sh := range gemvShapes {
		q, p, m := bothLayouts(b, sh.out, sh.in)
		l := holdBoth(b, g, q, p, m)
		bytes := 4 * (sh.out*sh.in + len(p.codes) + len(p.params))
		for _, layout := range []string{"plain", "mma"} {
			b.Run(fmt.Sprintf("%dx%d/%s", sh.out, sh.in, layout), func(b *testing.B) {
				err := g.dev.Do(func(c *cuda.Ctx) error {
					dst, err := c.Alloc(4 * sh.out * sh.in)
					if err != nil {
						return err
					}
					defer c.Free(dst)
					b.ResetTimer()
					for range b.N {
						if layout == "mma" {
							err = c.Int4MMADequantize(dst, l.mma)
						} else {
							err = c.Int4Dequantize(dst, l.w)
						}
						if err != nil {
							return err
						}
					}
					err = c.Synchronize()
					b.StopTimer()
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				reportGEMV(b, b.N, bytes, copyRate)
			})
		}
	}
}

// BenchmarkQuantPrefill times a product of many rows of x (prefill) at
// Llama-2-7B's projection shapes five ways: the plain layout dequantized
// into float32 and multiplied by cuBLAS in float32 (plain), the same from
// the tensor-core layout (mma-dequantize) and multiplied in TF32
// (mma-tf32), the weight dequantized into float16 and multiplied by x in
// float16 (mma-half, the runtime's way past mmaGEMVMaxRows rows), and the
// tensor-core GEMV reading the codes once for every 8 rows (mma-rows). It
// reports microseconds a product and rows of x a millisecond.
func BenchmarkQuantPrefill(b *testing.B) {
	g, _ := openGEMVBench(b)
	for _, sh := range gemvShapes {
		q, p, m := bothLayouts(b, sh.out, sh.in)
		l := holdBoth(b, g, q, p, m)
		for _, rows := range []int{16, 32, 64, 128, 512} {
			for _, way := range []string{"plain", "mma-dequantize", "mma-tf32", "mma-half", "mma-rows"} {
				b.Run(fmt.Sprintf("%dx%d/%d/%s", sh.out, sh.in, rows, way), func(b *testing.B) {
					err := g.dev.Do(func(c *cuda.Ctx) error {
						var bufs [3]cuda.Buffer // x, y, the dequantized weight
						for i, n := range []int{rows * sh.in, rows * sh.out, sh.out * sh.in} {
							var err error
							if bufs[i], err = c.Alloc(4 * n); err != nil {
								return err
							}
							defer c.Free(bufs[i])
						}
						x, y, w := bufs[0], bufs[1], bufs[2]
						if err := upload(g, c, x, randn(rand.New(rand.NewPCG(1, 2)), rows*sh.in)); err != nil {
							return err
						}
						b.ResetTimer()
						for range b.N {
							var err error
							switch way {
							case "plain":
								err = c.Int4Dequantize(w, l.w)
							case "mma-dequantize", "mma-tf32":
								err = c.Int4MMADequantize(w, l.mma)
							case "mma-rows":
								err = c.Int4MMAGEMV(y, x, l.mma, rows)
							case "mma-half":
								err = l.matMulHalf(c, y, x, rows)
							}
							switch {
							case err != nil || way == "mma-rows" || way == "mma-half":
							case way == "mma-tf32":
								err = c.MatMulTTF32(y, x, w, rows, sh.out, sh.in)
							default:
								err = c.MatMulT(y, x, w, rows, sh.out, sh.in)
							}
							if err != nil {
								return err
							}
						}
						err := c.Synchronize()
						b.StopTimer()
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
					perCall := b.Elapsed().Seconds() / float64(b.N)
					b.ReportMetric(perCall*1e6, "us/product")
					b.ReportMetric(float64(rows)/perCall/1e3, "rows/ms")
				})
			}
		}
	}
}

// TestInt4MMARows checks the tensor-core GEMV for rows of x in blocks of
// 8 and a last block of fewer (rows past cuda.Int4MaxRows), against the
// float64 product.
func TestInt4MMARows(t *testing.T) {
	be, err := OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	g := be.(*gpu)
	const out, in = 48, 1024
	rng := rand.New(rand.NewPCG(4, 8))
	q := randQuant(rng, out, in, 4, 128, false)
	p, ok := packInt4(&q)
	if !ok {
		t.Fatal("not packed")
	}
	m, err := packInt4MMA(p, out, in)
	if err != nil {
		t.Fatal(err)
	}
	l := &gpuQuantLinear{g: g, w: cuda.Int4{Out: out, In: in, Groups: q.Groups(), GroupLen: p.groupLen}}
	defer l.Release()
	if err := l.holdMMA(m, nil); err != nil {
		t.Fatal(err)
	}
	w := q.Dequantize()
	for _, rows := range []int{1, 2, 8, 9, 17, 40} {
		x := randn(rng, rows*in)
		want := productOf(w, x, rows, out, in)
		got := make([]float32, rows*out)
		err := g.dev.Do(func(c *cuda.Ctx) error {
			xd, err := c.Alloc(4 * rows * in)
			if err != nil {
				return err
			}
			defer c.Free(xd)
			yd, err := c.Alloc(4 * rows * out)
			if err != nil {
				return err
			}
			defer c.Free(yd)
			if err := upload(g, c, xd, x); err != nil {
				return err
			}
			if err := c.Int4MMAGEMV(yd, xd, l.mma, rows); err != nil {
				return err
			}
			return download(g, c, got, yd)
		})
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(got, want); !(e < variantTolerance) {
			t.Errorf("%d rows: relative error %g, want < %g", rows, e, variantTolerance)
		}
	}
}
