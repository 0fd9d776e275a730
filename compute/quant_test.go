package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// randQuant returns a random quantized weight: groups of groupSize (-1:
// one per row), in act-order (groups scattered over the columns) when
// actOrder is set.
func randQuant(rng *rand.Rand, out, in, bits, groupSize int, actOrder bool) QuantWeight {
	q := QuantWeight{Out: out, In: in, Bits: bits, GroupSize: groupSize, Q: make([]uint8, out*in), GIdx: make([]int32, in)}
	groupLen := groupSize
	if groupSize <= 0 {
		groupLen = in
	}
	groups := (in + groupLen - 1) / groupLen
	order := make([]int, in)
	for c := range order {
		order[c] = c
	}
	if actOrder {
		rng.Shuffle(in, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	for i, c := range order {
		q.GIdx[c] = int32(i / groupLen)
	}
	for i := range q.Q {
		q.Q[i] = uint8(rng.IntN(1 << bits))
	}
	q.Scale, q.Zero = make([]float32, out*groups), make([]uint8, out*groups)
	for i := range q.Scale {
		// A float16-exact scale, as GPTQ and AWQ store.
		q.Scale[i] = float32(1+rng.IntN(1024)) / 8192
		q.Zero[i] = uint8(rng.IntN(1 << bits))
	}
	return q
}

// productOf returns x[rows×in]·Wᵀ in float64 for the dequantized weight.
func productOf(w []float32, x []float32, rows, out, in int) []float32 {
	y := make([]float32, rows*out)
	for b := range rows {
		for r := range out {
			var s float64
			for c := range in {
				s += float64(w[r*in+c]) * float64(x[b*in+c])
			}
			y[b*out+r] = float32(s)
		}
	}
	return y
}

// quantCases are the weights of the quantized-linear tests: the shapes the
// 4-bit kernels take, with and without act-order, and shapes they refuse
// (the backend falls back to float32 for those).
var quantCases = []struct {
	out, in, bits, groupSize int
	actOrder                 bool
	packed                   bool // whether the 4-bit kernels take it
	onMMA                    bool // whether in the tensor-core layout
}{
	{64, 256, 4, 128, false, true, true},
	{32, 1024, 4, 128, true, true, true},
	{16, 320, 4, -1, false, true, true}, // one group of 5 chunks of 64
	{48, 4096, 4, 256, false, true, true},
	{67, 384, 4, 128, true, true, false}, // rows not a multiple of 16
	{33, 96, 4, 32, true, true, false},
	{5, 160, 4, -1, false, true, false},
	{130, 512, 4, 64, false, true, false},
	{16, 256, 4, 32, false, true, false}, // groups shorter than a 64-column chunk
	{9, 40, 4, 8, false, false, false},   // width not a multiple of 32
	{9, 64, 4, 16, true, false, false},   // groups shorter than a 32-column load
	{9, 100, 4, -1, false, false, false}, // one group, width not a multiple of 32
	{12, 128, 8, 64, false, false, false},
	{12, 128, 3, 32, true, false, false},
}

// TestPackInt4 runs, on the host, the arithmetic of the int4_gemv kernel
// over the packed layout, and checks it against the dequantized product:
// the layout, the column order and the group indexing the kernel assumes.
func TestPackInt4(t *testing.T) {
	for _, tc := range quantCases {
		t.Run(fmt.Sprintf("%dx%d/%dbit/g%d/act%v", tc.out, tc.in, tc.bits, tc.groupSize, tc.actOrder), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.out), uint64(tc.in)))
			q := randQuant(rng, tc.out, tc.in, tc.bits, tc.groupSize, tc.actOrder)
			if err := q.check(); err != nil {
				t.Fatal(err)
			}
			p, ok := packInt4(&q)
			if ok != tc.packed {
				t.Fatalf("packed %v, want %v", ok, tc.packed)
			}
			if !ok {
				return
			}
			if (p.perm != nil) != tc.actOrder {
				t.Errorf("permutation %v for act-order %v", p.perm != nil, tc.actOrder)
			}
			if !slices.Equal(emulateInt4Dequantize(p, tc.out, tc.in, q.Groups()), q.Dequantize()) {
				t.Error("dequantized from the packing, the weight differs")
			}
			const rows = 3
			x := randn(rng, rows*tc.in)
			want := productOf(q.Dequantize(), x, rows, tc.out, tc.in)
			got := emulateInt4GEMV(p, x, rows, tc.out, tc.in, q.Groups())
			if e := relErr(got, want); !(e < 1e-5) {
				t.Errorf("relative error %g", e)
			}
		})
	}
}

// emulateInt4Dequantize is the int4_dequantize kernel of internal/cuda
// written out sequentially, a word of 8 codes at a time.
func emulateInt4Dequantize(p int4Packing, out, in, groups int) []float32 {
	w := make([]float32, out*in)
	words := in / 8
	for i, word := range p.codes {
		r, j0 := i/words, i%words*8
		scale, zero := p.params[2*(r*groups+j0/p.groupLen)], p.params[2*(r*groups+j0/p.groupLen)+1]
		for k := range 8 {
			col := j0 + k
			if p.perm != nil {
				col = int(p.perm[col])
			}
			w[r*in+col] = (float32(uint32(word)>>(4*k)&0xF) - zero) * scale
		}
	}
	return w
}

// emulateInt4GEMV is the int4_gemv kernel of internal/cuda written out
// sequentially: chunks of 32 columns, the biased-float decoding of codes,
// the group of each chunk.
func emulateInt4GEMV(p int4Packing, x []float32, rows, out, in, groups int) []float32 {
	if p.perm != nil {
		gathered := make([]float32, len(x))
		for b := range rows {
			for j, c := range p.perm {
				gathered[b*in+j] = x[b*in+int(c)]
			}
		}
		x = gathered
	}
	biased := func(word, mask uint32) float32 { return math.Float32frombits(word&mask | 0x4B000000) }
	chunks, chunksPerGroup := in/32, p.groupLen/32
	y := make([]float32, rows*out)
	for b := range rows {
		for r := range out {
			var acc float32
			for c := range chunks {
				g := c / chunksPerGroup
				scale, zero := p.params[2*(r*groups+g)], p.params[2*(r*groups+g)+1]
				z := [4]float32{8388608 + zero, zero*16 + 8388608, zero*256 + 8388608, zero*4096 + 8388608}
				var part [4]float32
				for k := range 4 {
					word := uint32(p.codes[r*chunks*4+4*c+k])
					xv := x[b*in+32*c+8*k:]
					for n := range 8 {
						w := word
						if n >= 4 {
							w >>= 16
						}
						part[n%4] += (biased(w, 0xF<<(4*(n%4))) - z[n%4]) * xv[n]
					}
				}
				acc += scale * (part[0] + part[1]/16 + part[2]/256 + part[3]/4096)
			}
			y[b*out+r] = acc
		}
	}
	return y
}

// TestQuantLinear checks every backend's quantized linear against the
// product with the dequantized weight: on the GPU the GEMV (up to 8 rows,
// 16 on the tensor cores) and the dequantize-then-GEMM path (more),
// act-order included, and the float32 fallback for weights the kernels do
// not take.
func TestQuantLinear(t *testing.T) {
	for _, be := range backends(t) {
		for _, tc := range quantCases {
			name := fmt.Sprintf("%s/%dx%d/%dbit/g%d/act%v", be.Name(), tc.out, tc.in, tc.bits, tc.groupSize, tc.actOrder)
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(tc.out), uint64(tc.in)))
				q := randQuant(rng, tc.out, tc.in, tc.bits, tc.groupSize, tc.actOrder)
				l, err := be.NewQuantLinear(q)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Release()
				gl, isPacked := l.(*gpuQuantLinear)
				if be != CPU && isPacked != tc.packed {
					t.Errorf("held as %T; packed for the 4-bit kernels: want %v", l, tc.packed)
				}
				onMMA := isPacked && gl.mma.Codes != (cuda.Buffer{})
				if isPacked && onMMA != tc.onMMA {
					t.Errorf("in the tensor-core layout: %v, want %v", onMMA, tc.onMMA)
				}
				w := q.Dequantize()
				for _, rows := range []int{1, 3, 8, 9, 16, 17, 40} {
					x := randn(rng, rows*tc.in)
					want := productOf(w, x, rows, tc.out, tc.in)
					got := make([]float32, rows*tc.out)
					l.MatMul(got, x, rows)
					if err := l.Err(); err != nil {
						t.Fatal(err)
					}
					tol := 1e-5
					if isPacked && (rows == 1 || onMMA || rows > cuda.Int4MaxRows) {
						// x in float16 (one row in pairs, on the tensor
						// cores, or with the weight dequantized into float16
						// for cuBLAS), or the plain layout's product in TF32.
						tol = 2e-3
					}
					if e := relErr(got, want); !(e < tol) {
						t.Errorf("%d rows: relative error %g, want < %g", rows, e, tol)
					}
				}
			})
		}
	}
}

// TestQuantLinearLargeInputs: inputs past float16's range (65504) stay
// finite and accurate in products of many rows (prefill, perplexity),
// which the GPU takes in float16 scaled down.
func TestQuantLinearLargeInputs(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.Name(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(9, 9))
			q := randQuant(rng, 64, 256, 4, 128, false)
			l, err := be.NewQuantLinear(q)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			w := q.Dequantize()
			for _, rows := range []int{mmaGEMVMaxRows + 1, 100} {
				x := randn(rng, rows*256)
				for i := range x {
					x[i] *= 4e4
				}
				x[0] = 3e5
				want := productOf(w, x, rows, 64, 256)
				got := make([]float32, rows*64)
				l.MatMul(got, x, rows)
				if err := l.Err(); err != nil {
					t.Fatal(err)
				}
				if e := relErr(got, want); !(e < 2e-3) {
					t.Errorf("%d rows of x up to 3e5: relative error %g, want < 2e-3", rows, e)
				}
			}
		})
	}
}

func TestQuantWeightRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	good := randQuant(rng, 4, 64, 4, 32, false)
	for name, spoil := range map[string]func(q *QuantWeight){
		"code out of range":  func(q *QuantWeight) { q.Q[5] = 16 },
		"group out of range": func(q *QuantWeight) { q.GIdx[3] = 2 },
		"short scales":       func(q *QuantWeight) { q.Scale = q.Scale[:7] },
		"short codes":        func(q *QuantWeight) { q.Q = q.Q[:10] },
		"no rows":            func(q *QuantWeight) { q.Out = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			q := good
			q.Q, q.Scale, q.GIdx = append([]uint8(nil), good.Q...), append([]float32(nil), good.Scale...), append([]int32(nil), good.GIdx...)
			spoil(&q)
			for _, be := range backends(t) {
				if _, err := be.NewQuantLinear(q); err == nil {
					t.Errorf("%s: accepted", be.Name())
				}
			}
		})
	}
}

// TestQuantGEMVReplayed: the GEMV recorded into a graph and replayed
// gives what it gives launched directly (the GEMV benchmark replays one).
func TestQuantGEMVReplayed(t *testing.T) {
	be, err := OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	defer be.Close()
	g := be.(*gpu)
	rng := rand.New(rand.NewPCG(5, 6))
	q := randQuant(rng, 96, 256, 4, 64, true)
	l, err := g.NewQuantLinear(q)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	dl := l.(deviceLinear)
	x := randn(rng, 2*q.In)
	direct, replayed := make([]float32, 2*q.Out), make([]float32, 2*q.Out)
	err = g.dev.Do(func(c *cuda.Ctx) error {
		dx, err := c.Alloc(4 * len(x))
		if err != nil {
			return err
		}
		defer c.Free(dx)
		dy, err := c.Alloc(4 * len(direct))
		if err != nil {
			return err
		}
		defer c.Free(dy)
		if err := upload(g, c, dx, x); err != nil {
			return err
		}
		if err := dl.matMulDevice(c, dy, dx, 2); err != nil {
			return err
		}
		if err := download(g, c, direct, dy); err != nil {
			return err
		}
		if err := upload(g, c, dy, make([]float32, len(direct))); err != nil {
			return err
		}
		graph, err := c.Record(func() error { return dl.matMulDevice(c, dy, dx, 2) })
		if err != nil {
			return err
		}
		defer c.FreeGraph(graph)
		if err := c.Replay(graph); err != nil {
			return err
		}
		return download(g, c, replayed, dy)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(direct, replayed) {
		t.Error("the replayed GEMV differs from the launched one")
	}
}

// TestCPUQuantLinearLongProducts: beyond the few rows multiplied from the
// codes, the CPU's quantized linear gives the products of the float32
// linear of the dequantized weight bit for bit (perplexities do not move).
func TestCPUQuantLinearLongProducts(t *testing.T) {
	for _, tc := range quantCases {
		name := fmt.Sprintf("%dx%d/%dbit/g%d/act%v", tc.out, tc.in, tc.bits, tc.groupSize, tc.actOrder)
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.in), uint64(tc.out)))
			q := randQuant(rng, tc.out, tc.in, tc.bits, tc.groupSize, tc.actOrder)
			l, err := CPU.NewQuantLinear(q)
			if err != nil {
				t.Fatal(err)
			}
			// Groups must be whole words of 8 codes.
			fits := tc.bits == 4 && tc.in%8 == 0 && (tc.groupSize == -1 || tc.groupSize%8 == 0)
			if _, packed := l.(cpuInt4Linear); packed != fits {
				t.Errorf("held as %T; packed: want %v", l, fits)
			}
			f, err := CPU.NewLinear(q.Dequantize(), q.Out, q.In)
			if err != nil {
				t.Fatal(err)
			}
			for _, rows := range []int{9, 17, 64} {
				x := randn(rng, rows*tc.in)
				got, want := make([]float32, rows*tc.out), make([]float32, rows*tc.out)
				l.MatMul(got, x, rows)
				f.MatMul(want, x, rows)
				if !slices.Equal(got, want) {
					t.Errorf("%d rows: differs from the float32 linear", rows)
				}
			}
		})
	}
}
