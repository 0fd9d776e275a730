package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/internal/cuda"
	"github.com/qtk-dev/qtk/quant"
)

// awqGPU returns the GPU backend, or skips.
func awqGPU(t *testing.T) *gpu {
	t.Helper()
	return resident(t).(*gpu)
}

// awqSchemes are the grids the device fake quantization is checked on,
// with the row length of the check.
var awqSchemes = []struct {
	scheme quant.Scheme
	in     int
}{
	{quant.Scheme{Bits: 4, GroupSize: 32}, 256},
	{quant.Scheme{Bits: 4, GroupSize: 128, Symmetric: true}, 256},
	{quant.Scheme{Bits: 4, GroupSize: -1}, 96},
	{quant.Scheme{Bits: 4, GroupSize: 16, MinZero: 1}, 64},
	{quant.Scheme{Bits: 8, GroupSize: 64}, 192},
	{quant.Scheme{Bits: 4, GroupSize: 32, BF16Scales: true}, 128},
	{quant.Scheme{Bits: 4, GroupSize: 48}, 144},
}

// awqWeights returns random weights [out×in] with outliers, a row of
// positive weights (the zero point clamps) and a constant group.
func awqWeights(rng *rand.Rand, out, in int) []float32 {
	w := randn(rng, out*in)
	for i := range w {
		if rng.IntN(50) == 0 {
			w[i] *= 10
		}
	}
	for c := range in {
		w[in+c] = float32(math.Abs(float64(w[in+c]))) + 0.5
	}
	for c := range min(in, 16) {
		w[2*in+c] = 0.25
	}
	return w
}

// TestFakeQuantMatchesRTN checks the device's Q(W·s)/s against quant.RTN
// of W·s, dequantized and divided by s, bit for bit.
func TestFakeQuantMatchesRTN(t *testing.T) {
	g := awqGPU(t)
	rng := rand.New(rand.NewPCG(11, 12))
	const out = 37
	for _, tt := range awqSchemes {
		t.Run(fmt.Sprintf("%+v", tt.scheme), func(t *testing.T) {
			in := tt.in
			w := awqWeights(rng, out, in)
			s := make([]float32, in)
			for c := range s {
				s[c] = float32(math.Exp(rng.Float64()*9 - 4.5))
			}
			ws := slices.Clone(w)
			for i := range ws {
				ws[i] *= s[i%in]
			}
			q, err := quant.RTN(ws, out, in, tt.scheme, quant.RTNOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := q.Dequantize()
			for i := range want {
				want[i] /= s[i%in]
			}
			grid, err := quantGrid(tt.scheme, in)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, out*in)
			err = g.dev.Do(func(c *cuda.Ctx) error {
				sc := &deviceScratch{c: c}
				defer sc.free()
				dw, err := sc.floats(out * in)
				if err != nil {
					return err
				}
				ds, err := sc.floats(in)
				if err != nil {
					return err
				}
				dst, err := sc.floats(out * in)
				if err != nil {
					return err
				}
				if err := upload(g, c, dw, w); err != nil {
					return err
				}
				if err := upload(g, c, ds, s); err != nil {
					return err
				}
				if err := c.FakeQuant(dst, dw, ds, out, in, grid); err != nil {
					return err
				}
				return download(g, c, got, dst)
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("row %d, column %d: device %v, host %v", i/in, i%in, got[i], want[i])
				}
			}
		})
	}
}

// clipLossReference is ClipLosses in float64 on the host, written out.
func clipLossReference(w []float32, out, in int, x []float32, n int, s quant.Scheme, candidates, steps int) []float64 {
	gs := s.GroupSize
	if gs <= 0 {
		gs = in
	}
	groups := in / gs
	losses := make([]float64, groups*candidates*out)
	clamped := make([]float32, gs)
	for g := range groups {
		for r := range out {
			row := w[r*in+g*gs : r*in+(g+1)*gs]
			var absmax float32
			for _, v := range row {
				absmax = max(absmax, v, -v)
			}
			for c := range candidates {
				m := absmax * float32(1-float64(c)/float64(steps))
				for j, v := range row {
					clamped[j] = min(max(v, -m), m)
				}
				scale, zero := s.Params(clamped)
				var sum float64
				for t := range n {
					var e float64
					for j, v := range clamped {
						d := quant.Dequantize(quant.Quantize(v, scale, zero, s.MaxQ()), scale, zero) - row[j]
						e += float64(x[t*in+g*gs+j]) * float64(d)
					}
					sum += e * e
				}
				losses[(g*candidates+c)*out+r] = sum / float64(n)
			}
		}
	}
	return losses
}

// TestClipLosses checks the device's clip losses against a float64
// transcription, to float32 rounding of the products.
func TestClipLosses(t *testing.T) {
	g := awqGPU(t)
	rng := rand.New(rand.NewPCG(13, 14))
	const out, n, candidates, steps = 21, 40, 10, 20
	for _, tt := range awqSchemes {
		t.Run(fmt.Sprintf("%+v", tt.scheme), func(t *testing.T) {
			in := tt.in
			w := awqWeights(rng, out, in)
			x := randn(rng, n*in)
			got, err := g.ClipLosses(w, out, in, x, n, tt.scheme, candidates, steps)
			if err != nil {
				t.Fatal(err)
			}
			want := clipLossReference(w, out, in, x, n, tt.scheme, candidates, steps)
			if len(got) != len(want) {
				t.Fatalf("%d losses, want %d", len(got), len(want))
			}
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-4*want[i]+1e-9 {
					t.Fatalf("loss %d (group %d, candidate %d, row %d): device %.8g, host %.8g",
						i, i/(candidates*out), i/out%candidates, i%out, got[i], want[i])
				}
			}
		})
	}
	if _, err := g.ClipLosses(make([]float32, 4), 2, 2, make([]float32, 2), 1, quant.Scheme{Bits: 4, GroupSize: 2}, 11, 10); err == nil {
		t.Error("no error for more candidates than steps")
	}
}

// awqTestLayer holds a random float layer of a small shape for
// AWQLayer tests; host has its projections' weights, by input.
func awqTestLayer(t *testing.T, g *gpu, rng *rand.Rand) (s LayerShape, w ResidentWeights, host map[string][]float32) {
	t.Helper()
	s = LayerShape{Hidden: 64, Heads: 4, KVHeads: 2, HeadDim: 16, FFN: 96, NormEps: 1e-5}
	host = map[string][]float32{}
	for i := range s.HeadDim / 2 {
		s.InvFreq = append(s.InvFreq, float32(math.Pow(10000, -2*float64(i)/float64(s.HeadDim))))
	}
	w = ResidentWeights{InputNorm: make([]float32, s.Hidden), PostNorm: make([]float32, s.Hidden), QKVBias: randn(rng, s.qkvRows())}
	for c := range s.Hidden {
		w.InputNorm[c] = 0.5 + rng.Float32()
		w.PostNorm[c] = 0.5 + rng.Float32()
	}
	for _, p := range []struct {
		input   string
		dst     *Linear
		out, in int
	}{{InputQKV, &w.QKV, s.qkvRows(), s.Hidden}, {InputO, &w.O, s.Hidden, s.qDim()}, {InputGateUp, &w.GateUp, 2 * s.FFN, s.Hidden}, {InputDown, &w.Down, s.Hidden, s.FFN}} {
		m := randn(rng, p.out*p.in)
		host[p.input] = m
		for i := range m {
			m[i] *= 0.2
		}
		l, err := g.NewLinear(m, p.out, p.in)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Release)
		*p.dst = l
	}
	return s, w, host
}

// TestAWQLayerChunks checks that a pass cut into steps of a few windows
// captures and scores what one step does: the same samples, the same
// statistics and losses up to the summation order.
func TestAWQLayerChunks(t *testing.T) {
	g := awqGPU(t)
	rng := rand.New(rand.NewPCG(15, 16))
	s, w, _ := awqTestLayer(t, g, rng)
	const windows, n, step = 7, 8, 5
	x, err := g.NewTensor(windows * n * s.Hidden)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	if err := x.Upload(randn(rng, windows*n*s.Hidden)); err != nil {
		t.Fatal(err)
	}
	keep := []string{InputO, InputDown}
	scheme := quant.Scheme{Bits: 4, GroupSize: 16}
	// Two grid points per input: no scaling, and random scales.
	scales := map[string][][]float32{}
	for in, width := range map[string]int{InputQKV: s.Hidden, InputO: s.qDim(), InputGateUp: s.Hidden, InputDown: s.FFN} {
		random := make([]float32, width)
		for c := range random {
			random[c] = 0.5 + rng.Float32()
		}
		scales[in] = [][]float32{slices.Repeat([]float32{1}, width), random}
	}
	type result struct {
		capture AWQCapture
		losses  map[string][]float64
	}
	run := func(chunkRows int) result {
		l, err := g.NewAWQLayer(s, w, false)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		l.(*gpuAWQLayer).chunkRows = chunkRows
		c, err := l.Capture(x, windows, n, AWQCaptureOptions{Keep: keep, Step: step})
		if err != nil {
			t.Fatal(err)
		}
		res := result{capture: c, losses: map[string][]float64{}}
		for in, sc := range scales {
			if res.losses[in], err = l.ScaleLosses(in, sc, scheme); err != nil {
				t.Fatal(err)
			}
		}
		return res
	}
	one, chunked := run(awqChunkRows), run(2*n)
	if one.capture.Tokens != windows*n {
		t.Errorf("%d tokens captured, want %d", one.capture.Tokens, windows*n)
	}
	for _, in := range []string{InputQKV, InputO, InputGateUp, InputDown} {
		if got, want := len(one.capture.Sample[in]), (windows*n+step-1)/step*len(one.capture.AbsSum[in]); got != want {
			t.Errorf("%s: %d sampled values, want %d", in, got, want)
		}
		// Past the first product the inputs agree to float32 rounding
		// only: cuBLAS may pick another kernel for fewer rows.
		a, b := one.capture.Sample[in], chunked.capture.Sample[in]
		for i := range a {
			if d := math.Abs(float64(a[i]) - float64(b[i])); d > 1e-5*(1+math.Abs(float64(a[i]))) {
				t.Errorf("%s: sample %d is %v in one step, %v in several", in, i, a[i], b[i])
				break
			}
		}
		for c, v := range one.capture.AbsSum[in] {
			if u := chunked.capture.AbsSum[in][c]; math.Abs(u-v) > 1e-6*v || v <= 0 {
				t.Errorf("%s channel %d: |x| sums %v in one step, %v in several", in, c, v, u)
				break
			}
		}
		for i, v := range one.losses[in] {
			if u := chunked.losses[in][i]; math.Abs(u-v) > 1e-5*v || !(v > 0) {
				t.Errorf("%s grid point %d: loss %v in one step, %v in several", in, i, v, u)
			}
		}
	}
}

// TestAWQScaledLayerMatchesHost folds scales into the device's scaled
// copy of up → down, clamps down's groups and rounds up's and down's
// rows, against the same steps in float32 on the host and quant.RTN: bit
// for bit, on every grid the layer's widths take.
func TestAWQScaledLayerMatchesHost(t *testing.T) {
	g := awqGPU(t)
	const steps, candidates = 20, 10
	for _, scheme := range []quant.Scheme{
		{Bits: 4, GroupSize: 32},
		{Bits: 4, GroupSize: 32, Symmetric: true},
		{Bits: 4, GroupSize: -1},
		{Bits: 4, GroupSize: 16, MinZero: 1},
		{Bits: 8, GroupSize: 32},
		{Bits: 4, GroupSize: 32, BF16Scales: true},
	} {
		t.Run(fmt.Sprintf("%+v", scheme), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(17, 18))
			s, w, host := awqTestLayer(t, g, rng)
			l, err := g.NewAWQLayer(s, w, false)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			scales := func(n int) []float32 {
				v := make([]float32, n)
				for c := range v {
					v[c] = float32(math.Exp(rng.Float64()*4 - 2))
				}
				return v
			}
			sGateUp, sDown := scales(s.Hidden), scales(s.FFN)
			if err := l.FoldScales(InputGateUp, sGateUp); err != nil {
				t.Fatal(err)
			}
			if err := l.FoldScales(InputDown, sDown); err != nil {
				t.Fatal(err)
			}
			// The host's fold: columns times s, then up's rows divided.
			up := slices.Clone(host[InputGateUp][s.FFN*s.Hidden:])
			for i := range up {
				up[i] = up[i] * sGateUp[i%s.Hidden] / sDown[i/s.Hidden]
			}
			down := slices.Clone(host[InputDown])
			for i := range down {
				down[i] *= sDown[i%s.FFN]
			}
			gs := scheme.GroupSize
			if gs < 0 {
				gs = s.FFN
			}
			groups := s.FFN / gs
			chosen := make([]int32, groups*s.Hidden)
			for i := range chosen {
				chosen[i] = int32(rng.IntN(candidates))
			}
			if err := l.ClampScaled(InputDown, 0, s.Hidden, chosen, scheme, steps); err != nil {
				t.Fatal(err)
			}
			for r := range s.Hidden {
				for gr := range groups {
					row := down[r*s.FFN+gr*gs:][:gs]
					var absmax float32
					for _, v := range row {
						absmax = max(absmax, v, -v)
					}
					m := absmax * float32(1-float64(chosen[gr*s.Hidden+r])/steps)
					for j, v := range row {
						row[j] = min(max(v, -m), m)
					}
				}
			}
			for _, c := range []struct {
				input          string
				row0, rows, in int
				want           []float32
			}{{InputGateUp, s.FFN, s.FFN, s.Hidden, up}, {InputDown, 0, s.Hidden, s.FFN, down}} {
				got, err := l.RoundScaled(c.input, c.row0, c.rows, scheme)
				if err != nil {
					t.Fatal(err)
				}
				want, err := quant.RTN(c.want, c.rows, c.in, scheme, quant.RTNOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got.Out != want.Out || got.In != want.In || !slices.Equal(got.GIdx, want.GIdx) {
					t.Fatalf("%s: device tensor [%d×%d], host [%d×%d]", c.input, got.Out, got.In, want.Out, want.In)
				}
				for i := range want.Q {
					if got.Q[i] != want.Q[i] {
						t.Fatalf("%s: code %d (row %d) is %d on the device, %d on the host", c.input, i, i/c.in, got.Q[i], want.Q[i])
					}
				}
				for i := range want.Scale {
					if math.Float32bits(got.Scale[i]) != math.Float32bits(want.Scale[i]) || got.Zero[i] != want.Zero[i] {
						t.Fatalf("%s: group %d has scale %v, zero %d on the device, %v, %d on the host",
							c.input, i, got.Scale[i], got.Zero[i], want.Scale[i], want.Zero[i])
					}
				}
			}
		})
	}
	// o_proj's inputs are not v's rows with grouped-query attention.
	s, w, _ := awqTestLayer(t, g, rand.New(rand.NewPCG(19, 20)))
	l, err := g.NewAWQLayer(s, w, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.FoldScales(InputO, make([]float32, s.qDim())); err == nil {
		t.Error("no error folding v → o with fewer kv heads than heads")
	}
}

// TestWindowAttention checks the attention of whole windows computed as
// batched products against the layer's attention kernel, in float32 to
// its rounding and in TF32 to TF32's, with and without grouped-query
// attention.
func TestWindowAttention(t *testing.T) {
	g := awqGPU(t)
	rng := rand.New(rand.NewPCG(25, 26))
	for _, tt := range []struct {
		heads, kvHeads, headDim, seqs, n int
		tf32                             bool
		tol                              float64
	}{
		{4, 4, 16, 3, 40, false, 3e-5},
		{4, 2, 32, 2, 70, false, 3e-5},
		{8, 2, 128, 2, 130, false, 3e-5},
		{4, 2, 32, 2, 70, true, 1e-2},
		{8, 8, 128, 2, 130, true, 1e-2},
	} {
		stride := (tt.heads + 2*tt.kvHeads) * tt.headDim
		rows, qDim := tt.seqs*tt.n, tt.heads*tt.headDim
		qkv := randn(rng, rows*stride)
		got, want := make([]float32, rows*qDim), make([]float32, rows*qDim)
		err := g.dev.Do(func(c *cuda.Ctx) error {
			sc := &deviceScratch{c: c}
			defer sc.free()
			dq, err := sc.floats(len(qkv))
			if err != nil {
				return err
			}
			scores, err := sc.floats(tt.seqs * tt.n * tt.n)
			if err != nil {
				return err
			}
			outs := [2]cuda.Buffer{}
			for i := range outs {
				if outs[i], err = sc.floats(rows * qDim); err != nil {
					return err
				}
			}
			if err := upload(g, c, dq, qkv); err != nil {
				return err
			}
			if err := c.WindowAttention(outs[0], dq, scores, tt.seqs, tt.n, tt.heads, tt.kvHeads, tt.headDim, tt.tf32); err != nil {
				return err
			}
			a := cuda.Attention{
				Heads: tt.heads, KVHeads: tt.kvHeads, HeadDim: tt.headDim, Seqs: tt.seqs, N: tt.n, QStride: stride,
				KeySeqStride: tt.n * stride, KeyPosStride: stride, ValueOffset: tt.kvHeads * tt.headDim, MaxKeys: tt.n,
			}
			if err := c.Attention(outs[1], dq, dq.Offset(4*qDim), a); err != nil {
				return err
			}
			if err := download(g, c, got, outs[0]); err != nil {
				return err
			}
			return download(g, c, want, outs[1])
		})
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i := range want {
			worst = max(worst, math.Abs(float64(got[i])-float64(want[i])))
		}
		t.Logf("%+v: largest difference %.3g", tt, worst)
		if !(worst <= tt.tol) {
			t.Errorf("%+v: window attention differs from the kernel's by up to %.3g, want ≤ %g", tt, worst, tt.tol)
		}
	}
}
