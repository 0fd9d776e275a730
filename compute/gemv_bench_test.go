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

// BenchmarkQuantGEMV times the 4-bit GEMV of one row (decode) through
// Llama-2-7B's projection shapes [out×in], group 128, launched back to
// back through several copies of the weight. It reports the bytes moved
// per second (codes, scales and zero points, x and y) and their fraction
// of the device-to-device copy bandwidth measured alongside.
func BenchmarkQuantGEMV(b *testing.B) {
	be, err := OpenCUDA(0)
	if err != nil {
		b.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	g := be.(*gpu)
	copyRate, err := copyBandwidth(g, 1<<30, 20)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("device-to-device copy: %.0f GB/s (bytes read + written)", copyRate/1e9)
	for _, sh := range []struct{ out, in int }{{4096, 4096}, {4096, 11008}, {11008, 4096}} {
		b.Run(fmt.Sprintf("%dx%d", sh.out, sh.in), func(b *testing.B) {
			q := randQuant(rand.New(rand.NewPCG(uint64(sh.out), uint64(sh.in))), sh.out, sh.in, 4, 128, false)
			p, ok := packInt4(&q)
			if !ok {
				b.Fatal("the 4-bit kernels do not take the weight")
			}
			weightBytes := 4 * (len(p.codes) + len(p.params))
			copies := max(2, (gemvWorkingSet+weightBytes-1)/weightBytes)
			ls := make([]*gpuQuantLinear, copies)
			for i := range ls {
				ls[i] = &gpuQuantLinear{g: g, w: cuda.Int4{Out: q.Out, In: q.In, Groups: q.Groups(), GroupLen: p.groupLen}}
				if err := ls[i].hold(p); err != nil {
					b.Fatal(err)
				}
				defer ls[i].Release()
			}
			var x, y cuda.Buffer
			err := g.dev.Do(func(c *cuda.Ctx) error {
				var err error
				if x, err = c.Alloc(4 * sh.in); err != nil {
					return err
				}
				if y, err = c.Alloc(4 * sh.out); err != nil {
					return err
				}
				return upload(g, c, x, randn(rand.New(rand.NewPCG(1, 2)), sh.in))
			})
			if err != nil {
				b.Fatal(err)
			}
			defer g.dev.Do(func(c *cuda.Ctx) error { c.Free(x); return c.Free(y) })
			b.ResetTimer()
			err = g.dev.Do(func(c *cuda.Ctx) error {
				for i := range b.N {
					if err := ls[i%copies].matMulDevice(c, y, x, 1); err != nil {
						return err
					}
				}
				return c.Synchronize()
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			rate := float64(weightBytes+4*(sh.in+sh.out)) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rate/1e9, "GB/s")
			b.ReportMetric(rate/copyRate, "copy-fraction")
		})
	}
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
