package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// TestQuantGEMVFused checks the decode step's fused products against
// float64: W·RMSNorm(x)·weight, y + W·x and y + W·(silu(gate)·up), at
// widths where a thread takes one chunk of a row or several, and rows
// not a multiple of a block's.
func TestQuantGEMVFused(t *testing.T) {
	be, err := OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	g := be.(*gpu)
	const eps = 1e-5
	for _, sh := range []struct{ out, in, groupSize int }{{130, 512, 128}, {64, 4096, 128}, {40, 11008, 128}, {33, 96, 32}} {
		rng := rand.New(rand.NewPCG(uint64(sh.out), uint64(sh.in)))
		q := randQuant(rng, sh.out, sh.in, 4, sh.groupSize, false)
		p, ok := packInt4(&q)
		if !ok {
			t.Fatal("not packed")
		}
		l := &gpuQuantLinear{g: g, w: cuda.Int4{Out: q.Out, In: q.In, Groups: q.Groups(), GroupLen: p.groupLen}}
		if err := l.hold(p); err != nil {
			t.Fatal(err)
		}
		w := q.Dequantize()
		x, y0, norm, gateUp := randn(rng, sh.in), randn(rng, sh.out), randn(rng, sh.in), randn(rng, 2*sh.in)
		for j := range x {
			x[j] *= 30 // a residual stream's scale: the norm brings it back
		}
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		inv := 1 / math.Sqrt(ss/float64(sh.in)+eps)
		normed, act := make([]float32, sh.in), make([]float32, sh.in)
		for j := range normed {
			normed[j] = float32(float64(x[j]) * inv * float64(norm[j]))
			gate, up := float64(gateUp[j]), float64(gateUp[sh.in+j])
			act[j] = float32(gate / (1 + math.Exp(-gate)) * up)
		}
		for _, tc := range []struct {
			name  string
			input []float32 // uploaded as the product's argument
			want  []float32 // the product, without y0
			add   bool      // the product is added into y0
			run   func(c *cuda.Ctx, y, in, weight cuda.Buffer) error
		}{
			{"norm", x, productOf(w, normed, 1, sh.out, sh.in), false, func(c *cuda.Ctx, y, in, weight cuda.Buffer) error {
				return c.Int4GEMVNorm(y, in, weight, eps, l.w)
			}},
			{"add", x, productOf(w, x, 1, sh.out, sh.in), true, func(c *cuda.Ctx, y, in, _ cuda.Buffer) error {
				return c.Int4GEMVAddInto(y, in, l.w)
			}},
			{"swiglu-add", gateUp, productOf(w, act, 1, sh.out, sh.in), true, func(c *cuda.Ctx, y, in, _ cuda.Buffer) error {
				return c.Int4GEMVSwiGLUAddInto(y, in, l.w)
			}},
		} {
			t.Run(fmt.Sprintf("%dx%d/g%d/%s", sh.out, sh.in, sh.groupSize, tc.name), func(t *testing.T) {
				got := make([]float32, sh.out)
				err := g.dev.Do(func(c *cuda.Ctx) error {
					var bufs [3]cuda.Buffer // y, the input, the norm's weight
					for i, n := range []int{sh.out, len(tc.input), sh.in} {
						var err error
						if bufs[i], err = c.Alloc(4 * n); err != nil {
							return err
						}
						defer c.Free(bufs[i])
					}
					for i, v := range [][]float32{y0, tc.input, norm} {
						if err := upload(g, c, bufs[i], v); err != nil {
							return err
						}
					}
					if err := tc.run(c, bufs[0], bufs[1], bufs[2]); err != nil {
						return err
					}
					return download(g, c, got, bufs[0])
				})
				if err != nil {
					t.Fatal(err)
				}
				if tc.add {
					for i := range got {
						got[i] -= y0[i]
					}
				}
				e := relErr(got, tc.want)
				t.Logf("relative error %.3g", e)
				if !(e < 2e-3) {
					t.Errorf("relative error %g, want < 2e-3", e)
				}
			})
		}
		l.Release()
	}
}
