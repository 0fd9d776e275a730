package compute

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestEmulateInt4GEMVMMA runs, on the host, the int4_gemv_v_mma kernels of
// internal/cuda as their warps would: the quads' chunks, the codes' float16
// decoding, x staged in pairs, the m16n8k16 fragments as PTX lays them out,
// one group per 128-column step. It checks the kernels' indexing against
// the float64 product without a GPU.
func TestEmulateInt4GEMVMMA(t *testing.T) {
	for _, tc := range []struct{ out, in, groupSize, tiles int }{
		{64, 256, 128, 1},
		{67, 384, 128, 2},
		{5, 160, -1, 1},
		{100, 1152, 128, 1},
		{40, 1024, 256, 2},
	} {
		t.Run(fmt.Sprintf("%dx%d/g%d/%dtiles", tc.out, tc.in, tc.groupSize, tc.tiles), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.out), uint64(tc.in)))
			q := randQuant(rng, tc.out, tc.in, 4, tc.groupSize, false)
			p, ok := packInt4(&q)
			if !ok {
				t.Fatal("not packed")
			}
			x := randn(rng, tc.in)
			want := productOf(q.Dequantize(), x, 1, tc.out, tc.in)
			got := emulateInt4GEMVMMA(p, x, tc.out, tc.in, q.Groups(), tc.tiles)
			if e := relErr(got, want); !(e < 1e-3) {
				t.Errorf("relative error %g", e)
			}
		})
	}
}

// emulateInt4GEMVMMA is int4_gemv_mma<tiles, S> written out sequentially
// (S, the steps loaded at once, does not change the sums).
func emulateInt4GEMVMMA(p int4Packing, x []float32, out, in, groups, tiles int) []float32 {
	const warps = 4 // MMA_WARPS
	chunks, chunksPerGroup := in/32, p.groupLen/32
	steps := (chunks + 3) / 4
	// xs: word w of x as half pairs (x0,x4), (x1,x5), (x2,x6), (x3,x7).
	xs := make([][4][2]float32, in/8)
	for w := range xs {
		for k := range 4 {
			xs[w][k] = [2]float32{fromHalf(toHalf(x[8*w+k])), fromHalf(toHalf(x[8*w+k+4]))}
		}
	}
	// halfCodes: the kernel's int4_half_codes, pair k of word w as (code - zero).
	halfCodes := func(w uint32, zero float32) (d [4][2]float32) {
		for k := range 4 {
			v := w
			if k >= 2 {
				v >>= 8
			}
			mask := uint32(0x000F000F)
			if k%2 == 1 {
				mask = 0x00F000F0
			}
			b := v&mask | 0x64006400
			for h, bits := range []uint16{uint16(b), uint16(b >> 16)} {
				if k%2 == 0 {
					d[k][h] = fromHalf(bits) - (1024 + zero)
				} else {
					d[k][h] = fromHalf(bits)/16 - (64 + zero)
				}
			}
		}
		return d
	}
	y := make([]float32, out)
	rows := 16 * tiles
	for r0 := 0; r0 < out; r0 += rows {
		partial := make([][]float32, warps)
		for warp := range warps {
			partial[warp] = make([]float32, rows)
			var acc [32][2][2]float32 // [lane][tile][h]
			for s := warp; s < steps; s += warps {
				for i := range tiles {
					// A[lane][reg] and B[lane][reg] of each of a word's two products.
					var sums [32][4]float32 // C fragments
					for k := range 4 {
						var a [2][32][4][2]float32
						var bx [2][32][2][2]float32
						for lane := range 32 {
							g, tq := lane/4, lane%4
							c := 4*s + tq
							var dl, dh [4][2]float32
							var xv [4][2]float32
							if c < chunks {
								lo, hi := min(r0+16*i+g, out-1), min(r0+16*i+g+8, out-1)
								grp := 4 * s / chunksPerGroup
								dl = halfCodes(uint32(p.codes[lo*chunks*4+4*c+k]), p.params[2*(lo*groups+grp)+1])
								dh = halfCodes(uint32(p.codes[hi*chunks*4+4*c+k]), p.params[2*(hi*groups+grp)+1])
								xv = xs[4*c+k]
							}
							a[0][lane] = [4][2]float32{dl[0], dh[0], dl[1], dh[1]}
							a[1][lane] = [4][2]float32{dl[2], dh[2], dl[3], dh[3]}
							bx[0][lane] = [2][2]float32{xv[0], xv[1]}
							bx[1][lane] = [2][2]float32{xv[2], xv[3]}
						}
						for m := range 2 {
							mmaM16N8K16(&sums, &a[m], &bx[m])
						}
					}
					for lane := range 32 {
						g, tq := lane/4, lane%4
						if 4*s+tq >= chunks {
							continue // its params are zero in the kernel; its sums unused
						}
						grp := 4 * s / chunksPerGroup
						lo, hi := min(r0+16*i+g, out-1), min(r0+16*i+g+8, out-1)
						acc[lane][i][0] += p.params[2*(lo*groups+grp)] * sums[lane][0]
						acc[lane][i][1] += p.params[2*(hi*groups+grp)] * sums[lane][2]
					}
				}
			}
			for lane := 0; lane < 32; lane += 4 { // t == 0
				for i := range tiles {
					partial[warp][16*i+lane/4] = acc[lane][i][0]
					partial[warp][16*i+lane/4+8] = acc[lane][i][1]
				}
			}
		}
		for r := range rows {
			if r0+r < out {
				for w := range warps {
					y[r0+r] += partial[w][r]
				}
			}
		}
	}
	return y
}

// mmaM16N8K16 adds A[16×16]·B[16×8] into the C fragments, each operand
// held by the warp's lanes as PTX's mma.m16n8k16 (.f16, .f32 sums) lays
// them out: lane l in quad g = l/4 at t = l%4 holds A's rows g, g+8 at
// k = 2t, 2t+1 (registers 0, 1) and 2t+8, 2t+9 (2, 3), B's column g at
// k = 2t, 2t+1 (register 0) and 2t+8, 2t+9 (1), and C's rows g (0, 1)
// and g+8 (2, 3) at columns 2t, 2t+1.
func mmaM16N8K16(c *[32][4]float32, a *[32][4][2]float32, b *[32][2][2]float32) {
	var A [16][16]float32
	var B [16][8]float32
	for lane := range 32 {
		g, t := lane/4, lane%4
		for h := range 2 {
			A[g][2*t+h] = a[lane][0][h]
			A[g+8][2*t+h] = a[lane][1][h]
			A[g][2*t+8+h] = a[lane][2][h]
			A[g+8][2*t+8+h] = a[lane][3][h]
			B[2*t+h][g] = b[lane][0][h]
			B[2*t+8+h][g] = b[lane][1][h]
		}
	}
	for lane := range 32 {
		g, t := lane/4, lane%4
		for e := range 4 {
			row, col := g+8*(e/2), 2*t+e%2
			for k := range 16 {
				c[lane][e] += A[row][k] * B[k][col]
			}
		}
	}
}
