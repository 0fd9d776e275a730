package cuda

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackInt4MMA checks the tensor-core layout against the weight it
// packs by carrying out, in float64, what int4_gemv_mma does with it: each
// lane's A fragment and B fragment placed where mma.m16n8k16 takes them
// (the PTX fragment layouts), the tile products summed, then folded with
// the params and the chunk's sum of x. x is held to multiples of 1/64 so
// that float16 holds it exactly, as the kernel stages it. A code or x out
// of place would be off by about a term (size/1024), not 1e-12 of size.
func TestPackInt4MMA(t *testing.T) {
	for _, tc := range []struct{ out, in, groupLen int }{
		{16, 64, 64},
		{32, 256, 128},
		{48, 384, 384},
		{64, 1408, 704},
	} {
		rng := rand.New(rand.NewPCG(uint64(tc.out), uint64(tc.in)))
		groups := tc.in / tc.groupLen
		codes := make([]uint32, tc.out*tc.in/8)
		for i := range codes {
			codes[i] = rng.Uint32()
		}
		params := make([]float32, 2*tc.out*groups)
		for i := 0; i < len(params); i += 2 {
			params[i], params[i+1] = float32(0.01+rng.Float64()), float32(rng.IntN(16))
		}
		x := make([]float64, tc.in)
		for i := range x {
			x[i] = float64(rng.IntN(2049)-1024) / 64
		}
		// want, and the scale of its terms' sizes.
		want, size := make([]float64, tc.out), make([]float64, tc.out)
		for r := range tc.out {
			for col := range tc.in {
				code := float64(codes[r*tc.in/8+col/8] >> (4 * (col % 8)) & 0xF)
				p := 2 * (r*groups + col/tc.groupLen)
				want[r] += (code - float64(params[p+1])) * float64(params[p]) * x[col]
				size[r] += 1024 * math.Abs(float64(params[p])*x[col])
			}
		}
		mc, mp, err := PackInt4MMA(codes, params, tc.out, tc.in, tc.groupLen)
		if err != nil {
			t.Fatal(err)
		}
		got := emulateInt4MMA(mc, mp, x, tc.out, tc.in, tc.groupLen)
		for r := range want {
			if math.Abs(got[r]-want[r]) > 1e-12*size[r] {
				t.Fatalf("[%d×%d] g%d: row %d: got %g, want %g", tc.out, tc.in, tc.groupLen, r, got[r], want[r])
			}
		}
	}
}

// emulateInt4MMA is int4_gemv_mma in float64.
func emulateInt4MMA(codes []uint32, params []float32, x []float64, out, in, groupLen int) []float64 {
	chunks, groups := in/64, in/groupLen
	y := make([]float64, out)
	for tile := range out / 16 {
		for c := range chunks {
			var a [16][16]float64 // A of one 16×16 tile, rebuilt per t
			var cAcc [16]float64  // column 0 of C
			for t := range 4 {
				var b [16]float64 // column 0 of B: lanes 0-3
				for lane := range 32 {
					g, j := lane/4, lane%4
					w := codes[((tile*chunks+c)*32+lane)*4+t]
					h := w >> 8
					half := func(v uint32) float64 { return 1024 + float64(v) }
					a[g][2*j], a[g][2*j+1] = half(w&0xF), half(w>>16&0xF)
					a[g+8][2*j], a[g+8][2*j+1] = half(w&0xF0), half(w>>16&0xF0)
					a[g][2*j+8], a[g][2*j+9] = half(h&0xF), half(h>>16&0xF)
					a[g+8][2*j+8], a[g+8][2*j+9] = half(h&0xF0), half(h>>16&0xF0)
					if g == 0 {
						// xs[8c + 2j] and xs[8c + 2j + 1]: columns 16j..16j+15,
						// of which tile t takes 4t..4t+3.
						base := 64*c + 16*j + 4*t
						b[2*j], b[2*j+1], b[2*j+8], b[2*j+9] = x[base], x[base+1], x[base+2], x[base+3]
					}
				}
				for m := range 16 {
					for k := range 16 {
						cAcc[m] += a[m][k] * b[k]
					}
				}
			}
			var sum float64
			for _, v := range x[64*c : 64*c+64] {
				sum += v
			}
			for g := range 8 {
				p := params[4*((tile*groups+c*64/groupLen)*8+g):]
				y[16*tile+g] += float64(p[0]) * (cAcc[g] - float64(p[1])*sum)
				y[16*tile+g+8] += float64(p[2]) * (cAcc[g+8] - float64(p[3])*sum)
			}
		}
	}
	return y
}

// TestDequantizeMMAIndexing runs, on the host, the indexing of
// int4_dequantize_mma (a thread a word: its rows, columns, nibbles and
// params) over a packed weight and checks it against the weight itself.
func TestDequantizeMMAIndexing(t *testing.T) {
	const out, in, groupLen = 32, 384, 128
	rng := rand.New(rand.NewPCG(5, 5))
	groups := in / groupLen
	codes := make([]uint32, out*in/8)
	for i := range codes {
		codes[i] = rng.Uint32()
	}
	params := make([]float32, 2*out*groups)
	for i := 0; i < len(params); i += 2 {
		params[i], params[i+1] = float32(0.01+rng.Float64()), float32(rng.IntN(16))
	}
	mc, mp, err := PackInt4MMA(codes, params, out, in, groupLen)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, out*in)
	quads, chunks := in/4, in/64
	for i := range out / 2 * quads {
		pair, q := i/quads, i%quads
		tile, g := pair/8, pair%8
		r, c := 16*tile+g, q/16
		word := mc[(tile*chunks+c)*128+16*g+q%16]
		p := mp[4*((tile*groups+c/(groupLen/64))*8+g):]
		for e := range 4 {
			n := 4*(e&1) + 2*(e>>1)
			got[r*in+4*q+e] = (1024 + float32(word>>(4*n)&0xF) - p[1]) * p[0]
			got[(r+8)*in+4*q+e] = (1024 + 16*float32(word>>(4*n+4)&0xF) - p[3]) * p[2]
		}
	}
	for r := range out {
		for col := range in {
			code := float32(codes[r*in/8+col/8] >> (4 * (col % 8)) & 0xF)
			pi := 2 * (r*groups + col/groupLen)
			if want := (code - params[pi+1]) * params[pi]; got[r*in+col] != want {
				t.Fatalf("[%d][%d]: got %g, want %g", r, col, got[r*in+col], want)
			}
		}
	}
}
