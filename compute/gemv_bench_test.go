package compute

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// gemvWorkingSet is the least device memory the GEMV benchmark spreads its
// weights over, so that they come from memory rather than from the 50 MB
// L2 cache.
const gemvWorkingSet = 512 << 20

// BenchmarkQuantGEMV times the runtime's 4-bit GEMV of one row (decode,
// the tensor-core layout) through Llama-2-7B's projection shapes
// [out×in], group 128, run back to back
// through several copies of the weight: launched one by one from the host
// (launch), and replayed from a recorded graph (graph), which leaves out
// the host's cost of launching. It reports the bytes moved per second
// (codes, scales and zero points, x and y) and their fraction of the
// device-to-device copy bandwidth measured alongside. read is the
// ceiling: as many bytes a call, read without arithmetic by
// cuda.Ctx.ReadStream and replayed the same way.
func BenchmarkQuantGEMV(b *testing.B) {
	g, copyRate := openGEMVBench(b)
	for _, sh := range gemvShapes {
		b.Run(fmt.Sprintf("%dx%d", sh.out, sh.in), func(b *testing.B) {
			f := newGEMVFixture(b, g, sh.out, sh.in)
			gemv := func(c *cuda.Ctx, calls int) error {
				for i := range calls {
					if err := f.ls[i%len(f.ls)].matMulDevice(c, f.y, f.x, 1); err != nil {
						return err
					}
				}
				return nil
			}
			b.Run("launch", func(b *testing.B) { benchLaunched(b, g, f, gemv, copyRate) })
			b.Run("graph", func(b *testing.B) { benchReplayed(b, g, len(f.ls), f.bytesPerCall, gemv, copyRate) })
			b.Run("read", func(b *testing.B) { benchReadStream(b, g, f.bytesPerCall, copyRate) })
		})
	}
}

// benchReadStream times cuda.Ctx.ReadStream over bytes a call (rounded up
// to 16), rotating through copies that cover gemvWorkingSet, replayed from
// a recorded graph as benchReplayed replays products.
func benchReadStream(b *testing.B, g *gpu, bytes int, copyRate float64) {
	bytes = (bytes + 15) / 16 * 16
	bufs := make([]cuda.Buffer, max(2, (gemvWorkingSet+bytes-1)/bytes))
	var sink cuda.Buffer
	err := g.dev.Do(func(c *cuda.Ctx) error {
		var err error
		if sink, err = c.Alloc(4 * cuda.ReadStreamBlocks); err != nil {
			return err
		}
		for i := range bufs {
			if bufs[i], err = c.Alloc(bytes); err != nil {
				return err
			}
			if err := c.Zero(bufs[i], bytes/4); err != nil {
				return err
			}
		}
		return nil
	})
	b.Cleanup(func() {
		g.dev.Do(func(c *cuda.Ctx) error {
			for _, buf := range bufs {
				c.Free(buf)
			}
			return c.Free(sink)
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	read := func(c *cuda.Ctx, calls int) error {
		for i := range calls {
			if err := c.ReadStream(sink, bufs[i%len(bufs)], bytes); err != nil {
				return err
			}
		}
		return nil
	}
	benchReplayed(b, g, len(bufs), bytes, read, copyRate)
}

// gemvShapes are Llama-2-7B's projection shapes [out×in].
var gemvShapes = []struct{ out, in int }{{4096, 4096}, {4096, 11008}, {11008, 4096}}

// openGEMVBench opens the GPU for a GEMV benchmark (skipping without one)
// and measures its copy bandwidth.
func openGEMVBench(b *testing.B) (*gpu, float64) {
	be, err := OpenCUDA(0)
	if err != nil {
		b.Skipf("no GPU: %v", err)
	}
	b.Cleanup(be.Close)
	g := be.(*gpu)
	copyRate, err := copyBandwidth(g, 1<<30, 20)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("device-to-device copy: %.0f GB/s (bytes read + written)", copyRate/1e9)
	return g, copyRate
}

// gemvFixture is a random 4-bit weight [out×in], group 128, held in enough
// copies to cover gemvWorkingSet, each in both layouts (the plain one for
// the variants that read it, the tensor-core one that matMulDevice reads,
// as in the runtime), and device buffers for x (random) and y.
type gemvFixture struct {
	ls           []*gpuQuantLinear
	x, y         cuda.Buffer
	bytesPerCall int // codes, scales and zero points, x and y
}

func newGEMVFixture(b *testing.B, g *gpu, out, in int) *gemvFixture {
	q, p, m := bothLayouts(b, out, in)
	weightBytes := 4 * (len(p.codes) + len(p.params))
	f := &gemvFixture{
		ls:           make([]*gpuQuantLinear, max(2, (gemvWorkingSet+weightBytes-1)/weightBytes)),
		bytesPerCall: weightBytes + 4*(in+out),
	}
	for i := range f.ls {
		f.ls[i] = holdBoth(b, g, q, p, m)
	}
	err := g.dev.Do(func(c *cuda.Ctx) error {
		var err error
		if f.x, err = c.Alloc(4 * in); err != nil {
			return err
		}
		if f.y, err = c.Alloc(4 * out); err != nil {
			return err
		}
		return upload(g, c, f.x, randn(rand.New(rand.NewPCG(1, 2)), in))
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.dev.Do(func(c *cuda.Ctx) error { c.Free(f.x); return c.Free(f.y) }) })
	return f
}

// bothLayouts packs a random 4-bit weight [out×in], group 128, for the
// plain kernels (p) and the tensor-core ones (m).
func bothLayouts(b *testing.B, out, in int) (QuantWeight, int4Packing, int4MMAPacking) {
	q := randQuant(rand.New(rand.NewPCG(uint64(out), uint64(in))), out, in, 4, 128, false)
	p, ok := packInt4(&q)
	if !ok {
		b.Fatal("the 4-bit kernels do not take the weight")
	}
	m, err := packInt4MMA(p, out, in)
	if err != nil {
		b.Fatal(err)
	}
	return q, p, m
}

// holdBoth holds q, packed as p and m, on g as one linear, released when b
// ends.
func holdBoth(b *testing.B, g *gpu, q QuantWeight, p int4Packing, m int4MMAPacking) *gpuQuantLinear {
	l := &gpuQuantLinear{g: g, w: cuda.Int4{Out: q.Out, In: q.In, Groups: q.Groups(), GroupLen: p.groupLen}}
	b.Cleanup(l.Release)
	if err := l.hold(p); err != nil {
		b.Fatal(err)
	}
	if err := l.holdMMA(m, nil); err != nil {
		b.Fatal(err)
	}
	return l
}

// benchLaunched times b.N products launched from the host; gemv runs calls
// products, rotating through the fixture's copies.
func benchLaunched(b *testing.B, g *gpu, f *gemvFixture, gemv func(c *cuda.Ctx, calls int) error, copyRate float64) {
	err := g.dev.Do(func(c *cuda.Ctx) error {
		b.ResetTimer()
		if err := gemv(c, b.N); err != nil {
			return err
		}
		err := c.Synchronize()
		b.StopTimer()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	reportGEMV(b, b.N, f.bytesPerCall, copyRate)
}

// benchReplayed times at least b.N products of bytesPerCall each,
// replayed from a recorded graph of one call to gemv per copy of the
// weight.
func benchReplayed(b *testing.B, g *gpu, copies, bytesPerCall int, gemv func(c *cuda.Ctx, calls int) error, copyRate float64) {
	calls := 0
	err := g.dev.Do(func(c *cuda.Ctx) error {
		graph, err := c.Record(func() error { return gemv(c, copies) })
		if err != nil {
			return err
		}
		defer c.FreeGraph(graph)
		if err := c.Replay(graph); err != nil { // warm up
			return err
		}
		if err := c.Synchronize(); err != nil {
			return err
		}
		b.ResetTimer()
		for ; calls < b.N; calls += copies {
			if err := c.Replay(graph); err != nil {
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
	reportGEMV(b, calls, bytesPerCall, copyRate)
}

// reportGEMV reports the rate of calls products of bytesPerCall each over
// the benchmark's time, and its fraction of the copy bandwidth.
func reportGEMV(b *testing.B, calls, bytesPerCall int, copyRate float64) {
	rate := float64(bytesPerCall) * float64(calls) / b.Elapsed().Seconds()
	b.ReportMetric(rate/1e9, "GB/s")
	b.ReportMetric(rate/copyRate, "copy-fraction")
	b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(calls), "us/call")
}

// copyBandwidth measures device-to-device copies of bytes, reps times,
// in bytes read and written per second.
func copyBandwidth(g *gpu, bytes, reps int) (float64, error) {
	var elapsed time.Duration
	err := g.dev.Do(func(c *cuda.Ctx) error {
		src, err := c.Alloc(bytes)
		if err != nil {
			return err
		}
		defer c.Free(src)
		dst, err := c.Alloc(bytes)
		if err != nil {
			return err
		}
		defer c.Free(dst)
		if err := c.Copy(dst, src, bytes); err != nil { // warm up
			return err
		}
		if err := c.Synchronize(); err != nil {
			return err
		}
		start := time.Now()
		for range reps {
			if err := c.Copy(dst, src, bytes); err != nil {
				return err
			}
		}
		if err := c.Synchronize(); err != nil {
			return err
		}
		elapsed = time.Since(start)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return 2 * float64(bytes) * float64(reps) / elapsed.Seconds(), nil
}
