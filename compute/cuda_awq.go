package compute

import (
	"fmt"
	"slices"

	"github.com/qtk-dev/qtk/internal/cuda"
	"github.com/qtk-dev/qtk/quant"
)

var _ AWQSearcher = (*gpu)(nil)

// awqChunkRows bounds the tokens of one step of the AWQ passes: their
// scratch grows with it (about 4 GB for Llama-2-7B at 16,384).
const awqChunkRows = 16384

// awqLinear is a float32 weight [out×in] on the device, multiplied in
// float32 or, with tf32, on the tensor cores in TF32.
type awqLinear struct {
	w       cuda.Buffer
	out, in int
	tf32    bool
}

func (l awqLinear) matMulDevice(c *cuda.Ctx, dst, x cuda.Buffer, rows int) error {
	if l.tf32 {
		return c.MatMulTTF32(dst, x, l.w, rows, l.out, l.in)
	}
	return c.MatMulT(dst, x, l.w, rows, l.out, l.in)
}

// gpuAWQLayer is a float layer held for AWQ's searches.
type gpuAWQLayer struct {
	g     *gpu
	shape LayerShape
	// vectors is the layer's norms, RoPE and bias; its projections are
	// set on a copy for each use.
	vectors *gpuLayer
	weights map[string]awqLinear // the float projections, by input
	tf32    bool
	// chunkRows bounds the tokens of one step of a pass: awqChunkRows.
	chunkRows int

	// Set by Capture: the windows, the kept inputs [tokens × width] of
	// the modules' searches and the Gram matrices [width × width] of the
	// linears', by input, and the attention block's and the MLP's outputs
	// [tokens × Hidden].
	windows, n      int
	inputs, grams   map[string]*deviceMem
	attnOut, mlpOut *deviceMem

	// scaled holds the scaled copies of the projections, by input
	// (cuda_awq_scaled.go).
	scaled map[string]*deviceMem
}

func (g *gpu) NewAWQLayer(shape LayerShape, w ResidentWeights, tf32 bool) (AWQLayer, error) {
	vectors, err := g.NewLayer(shape, ResidentWeights{InputNorm: w.InputNorm, PostNorm: w.PostNorm, QKVBias: w.QKVBias})
	if err != nil {
		return nil, err
	}
	a := &gpuAWQLayer{g: g, shape: shape, vectors: vectors.(*gpuLayer), weights: map[string]awqLinear{}, tf32: tf32, chunkRows: awqChunkRows}
	for _, p := range []struct {
		input   string
		l       Linear
		out, in int
	}{
		{InputQKV, w.QKV, shape.qkvRows(), shape.Hidden},
		{InputO, w.O, shape.Hidden, shape.qDim()},
		{InputGateUp, w.GateUp, 2 * shape.FFN, shape.Hidden},
		{InputDown, w.Down, shape.Hidden, shape.FFN},
	} {
		gl, ok := p.l.(*gpuLinear)
		if !ok || gl.g != g || gl.out != p.out || gl.in != p.in {
			a.Release()
			return nil, fmt.Errorf("compute: AWQ layer: the %s projection (%T) is not a float32 [%d×%d] linear of %s", p.input, p.l, p.out, p.in, g.Name())
		}
		a.weights[p.input] = awqLinear{w: gl.w.buf, out: p.out, in: p.in, tf32: tf32}
	}
	return a, nil
}

func (a *gpuAWQLayer) Release() {
	a.vectors.Release()
	a.releaseCapture()
	for _, m := range a.scaled {
		m.free()
	}
	a.scaled = nil
}

func (a *gpuAWQLayer) releaseCapture() {
	for _, m := range a.inputs {
		m.free()
	}
	for _, m := range a.grams {
		m.free()
	}
	for _, m := range []*deviceMem{a.attnOut, a.mlpOut} {
		if m != nil {
			m.free()
		}
	}
	a.inputs, a.grams, a.attnOut, a.mlpOut = nil, nil, nil, nil
}

// width is the number of channels of a projection input.
func (a *gpuAWQLayer) width(input string) int { return a.weights[input].in }

// chunk is the number of windows of one step of a pass.
func (a *gpuAWQLayer) chunk() int { return min(a.windows, max(1, a.chunkRows/a.n)) }

// attention writes the attention output [windows·n × q] of the normed
// rows to attn, the q, k, v projection being qkv; scratch holds
// windows·n × qkvRows floats, scores windows·n × n. The attention itself
// runs as batched products (cuda.WindowAttention), in TF32 with tf32:
// many times faster than the layer's kernel on whole windows.
func (a *gpuAWQLayer) attention(c *cuda.Ctx, qkv deviceLinear, normed, scratch, attn, scores cuda.Buffer, windows int, tf32 bool) error {
	s, ly := a.shape, a.vectors
	rows := windows * a.n
	if err := qkv.matMulDevice(c, scratch, normed, rows); err != nil {
		return err
	}
	if ly.bias {
		if err := c.AddBias(scratch, ly.qkvBias(), rows, s.qkvRows()); err != nil {
			return err
		}
	}
	if err := c.Rope(scratch, ly.invFreq(), rows, a.n, cuda.Position{}, s.Heads, s.KVHeads, s.HeadDim, s.qkvRows(), cuda.Buffer{}, 0); err != nil {
		return err
	}
	return c.WindowAttention(attn, scratch, scores, windows, a.n, s.Heads, s.KVHeads, s.HeadDim, tf32)
}

// deviceScratch allocates buffers inside one Do and frees them together.
type deviceScratch struct {
	c    *cuda.Ctx
	bufs []cuda.Buffer
}

// floats allocates n float32 (or n/2 float64), not cleared.
func (s *deviceScratch) floats(n int) (cuda.Buffer, error) {
	b, err := s.c.Alloc(4 * n)
	if err != nil {
		return cuda.Buffer{}, err
	}
	s.bufs = append(s.bufs, b)
	return b, nil
}

// doubles allocates n float64, zeroed.
func (s *deviceScratch) doubles(n int) (cuda.Buffer, error) {
	b, err := s.floats(2 * n)
	if err != nil {
		return cuda.Buffer{}, err
	}
	return b, s.c.Zero(b, 2*n)
}

func (s *deviceScratch) free() {
	for _, b := range s.bufs {
		s.c.Free(b)
	}
}

func (a *gpuAWQLayer) Capture(x Tensor, windows, n int, opts AWQCaptureOptions) (AWQCapture, error) {
	s := a.shape
	xt, err := a.g.tensorOn(x, "calibration inputs")
	if err != nil {
		return AWQCapture{}, err
	}
	tokens, step := windows*n, opts.Step
	switch {
	case windows <= 0 || n <= 0 || step < 0:
		return AWQCapture{}, fmt.Errorf("compute: AWQ capture of %d windows of %d tokens, step %d", windows, n, step)
	case xt.n < tokens*s.Hidden:
		return AWQCapture{}, fmt.Errorf("compute: AWQ capture of %d tokens from a tensor of %d values", tokens, xt.n)
	}
	for _, in := range opts.Keep {
		if in != InputO && in != InputDown {
			return AWQCapture{}, fmt.Errorf("compute: AWQ capture: cannot keep input %q", in)
		}
	}
	kept := map[string]bool{InputQKV: true, InputGateUp: true}
	a.releaseCapture()
	a.windows, a.n = windows, n
	a.inputs, a.grams = map[string]*deviceMem{}, map[string]*deviceMem{}
	for in := range kept {
		if a.inputs[in], err = alloc(a.g.dev, a, 4*tokens*a.width(in)); err != nil {
			a.releaseCapture()
			return AWQCapture{}, err
		}
	}
	for _, in := range opts.Keep {
		if a.grams[in], err = alloc(a.g.dev, a, 4*a.width(in)*a.width(in)); err != nil {
			a.releaseCapture()
			return AWQCapture{}, err
		}
	}
	if a.attnOut, err = alloc(a.g.dev, a, 4*tokens*s.Hidden); err == nil {
		a.mlpOut, err = alloc(a.g.dev, a, 4*tokens*s.Hidden)
	}
	if err != nil {
		a.releaseCapture()
		return AWQCapture{}, err
	}
	samples := 0
	if step > 0 {
		samples = (tokens + step - 1) / step
	}
	res := AWQCapture{Tokens: tokens, AbsSum: map[string][]float64{}, Sample: map[string][]float32{}}
	err = a.g.dev.Do(func(c *cuda.Ctx) error {
		if err := xt.live(); err != nil {
			return err
		}
		for in, m := range a.grams {
			if err := c.Zero(m.buf, a.width(in)*a.width(in)); err != nil {
				return err
			}
		}
		sc := &deviceScratch{c: c}
		defer sc.free()
		sums, sampled := map[string]cuda.Buffer{}, map[string]cuda.Buffer{}
		maxWidth := 0
		for in := range a.weights {
			width := a.width(in)
			maxWidth = max(maxWidth, width)
			var err error
			if sums[in], err = sc.doubles(width); err != nil {
				return err
			}
			if samples > 0 {
				if sampled[in], err = sc.floats(samples * width); err != nil {
					return err
				}
			}
		}
		rows := a.chunk() * n
		partial, err := sc.doubles(cuda.AbsColumnSlices * maxWidth)
		if err != nil {
			return err
		}
		// Scratch of one step: the products' outputs, the attention
		// scores, and the inputs not kept. (The outputs' names are not
		// inputs' names: a kept input has no scratch.)
		steps := map[string]cuda.Buffer{}
		for _, b := range []struct {
			name  string
			width int
			input bool
		}{{"qkv out", s.qkvRows(), false}, {"scores", n, false}, {"h1", s.Hidden, false}, {"gate-up out", 2 * s.FFN, false}, {InputO, s.qDim(), true}, {InputDown, s.FFN, true}} {
			if b.input && kept[b.name] {
				continue
			}
			if steps[b.name], err = sc.floats(rows * b.width); err != nil {
				return err
			}
		}
		if err := a.g.notePeak(c); err != nil {
			return err
		}
		for w0 := 0; w0 < windows; w0 += a.chunk() {
			cw := min(a.chunk(), windows-w0)
			t0, r := w0*n, cw*n
			// at is input's rows of this step: in the kept tensor, or the
			// step's scratch.
			at := func(input string) cuda.Buffer {
				if m := a.inputs[input]; m != nil {
					return m.buf.Offset(4 * t0 * a.width(input))
				}
				return steps[input]
			}
			observe := func(input string) error {
				width := a.width(input)
				if err := c.AbsColumnSums(sums[input], at(input), partial, r, width); err != nil {
					return err
				}
				if g := a.grams[input]; g != nil {
					// The Gram matrix scores the searches, in their
					// products' precision.
					addGram := c.AddGram
					if a.tf32 {
						addGram = c.AddGramTF32
					}
					if err := addGram(g.buf, at(input), r, width); err != nil {
						return err
					}
				}
				if step == 0 {
					return nil
				}
				first := (step - t0%step) % step
				if first >= r {
					return nil
				}
				count := (r - first + step - 1) / step
				return c.GatherRows(sampled[input].Offset(4*((t0+first)/step)*width), at(input), first, step, count, width)
			}
			x := xt.buf.Offset(4 * t0 * s.Hidden)
			// The targets and the next layer's inputs come from float32
			// products, whatever the searches use.
			float32Linear := func(input string) awqLinear {
				l := a.weights[input]
				l.tf32 = false
				return l
			}
			attnOut := a.attnOut.buf.Offset(4 * t0 * s.Hidden)
			mlpOut := a.mlpOut.buf.Offset(4 * t0 * s.Hidden)
			h1 := steps["h1"]
			for _, op := range []func() error{
				func() error {
					return c.RMSNorm(at(InputQKV), x, a.vectors.inputNorm(), r, s.Hidden, float64(s.NormEps))
				},
				func() error { return observe(InputQKV) },
				func() error {
					return a.attention(c, float32Linear(InputQKV), at(InputQKV), steps["qkv out"], at(InputO), steps["scores"], cw, false)
				},
				func() error { return observe(InputO) },
				func() error { return float32Linear(InputO).matMulDevice(c, attnOut, at(InputO), r) },
				func() error { return c.Copy(h1, x, 4*r*s.Hidden) },
				func() error { return c.AddInto(h1, attnOut, r*s.Hidden) },
				func() error {
					return c.RMSNorm(at(InputGateUp), h1, a.vectors.postNorm(), r, s.Hidden, float64(s.NormEps))
				},
				func() error { return observe(InputGateUp) },
				func() error {
					return float32Linear(InputGateUp).matMulDevice(c, steps["gate-up out"], at(InputGateUp), r)
				},
				func() error { return c.SwiGLU(at(InputDown), steps["gate-up out"], r, s.FFN) },
				func() error { return observe(InputDown) },
				func() error { return float32Linear(InputDown).matMulDevice(c, mlpOut, at(InputDown), r) },
			} {
				if err := op(); err != nil {
					return err
				}
			}
			if opts.Advance {
				// x + attention + MLP, added in the order of a Forward.
				if err := c.AddInto(h1, mlpOut, r*s.Hidden); err != nil {
					return err
				}
				if err := c.Copy(x, h1, 4*r*s.Hidden); err != nil {
					return err
				}
			}
		}
		for in, width := range a.widthsOf() {
			res.AbsSum[in] = make([]float64, width)
			if err := download(a.g, c, res.AbsSum[in], sums[in]); err != nil {
				return err
			}
			if samples > 0 {
				res.Sample[in] = make([]float32, samples*width)
				if err := download(a.g, c, res.Sample[in], sampled[in]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		a.releaseCapture()
		return AWQCapture{}, fmt.Errorf("compute: AWQ capture: %w", err)
	}
	return res, nil
}

// widthsOf returns the width of every projection input.
func (a *gpuAWQLayer) widthsOf() map[string]int {
	w := map[string]int{}
	for in, l := range a.weights {
		w[in] = l.in
	}
	return w
}

func (a *gpuAWQLayer) ScaleLosses(input string, scales [][]float32, scheme quant.Scheme) ([]float64, error) {
	s := a.shape
	w, ok := a.weights[input]
	switch {
	case !ok:
		return nil, fmt.Errorf("compute: AWQ scale losses: no input %q", input)
	case a.inputs[input] == nil && a.grams[input] == nil:
		return nil, fmt.Errorf("compute: AWQ scale losses of %s: its inputs were not captured", input)
	case len(scales) == 0:
		return nil, nil
	}
	for i, sc := range scales {
		if len(sc) != w.in {
			return nil, fmt.Errorf("compute: AWQ scale losses of %s: grid point %d has %d scales for %d channels", input, i, len(sc), w.in)
		}
	}
	grid, err := quantGrid(scheme, w.in)
	if err != nil {
		return nil, fmt.Errorf("compute: AWQ scale losses of %s: %w", input, err)
	}
	target := a.attnOut
	if input == InputGateUp || input == InputDown {
		target = a.mlpOut
	}
	losses := make([]float64, len(scales))
	err = a.g.dev.Do(func(c *cuda.Ctx) error {
		sc := &deviceScratch{c: c}
		defer sc.free()
		rows := a.chunk() * a.n
		trialW, err := sc.floats(w.out * w.in)
		if err != nil {
			return err
		}
		trial := awqLinear{w: trialW, out: w.out, in: w.in, tf32: a.tf32}
		scaleBuf, err := sc.floats(len(scales) * w.in)
		if err != nil {
			return err
		}
		if err := upload(a.g, c, scaleBuf, slices.Concat(scales...)); err != nil {
			return err
		}
		lossBuf, err := sc.doubles(len(scales))
		if err != nil {
			return err
		}
		partial, err := sc.doubles(cuda.ReduceBlocks)
		if err != nil {
			return err
		}
		out, err := sc.floats(rows * s.Hidden)
		if err != nil {
			return err
		}
		// The module's intermediates: q, k, v, the attention scores and
		// output, or gate, up and the activation; or the weights' change
		// times the Gram matrix.
		var mid1, mid2, scores cuda.Buffer
		switch input {
		case InputQKV:
			if mid1, err = sc.floats(rows * s.qkvRows()); err == nil {
				mid2, err = sc.floats(rows * s.qDim())
			}
			if err == nil {
				scores, err = sc.floats(rows * a.n)
			}
		case InputGateUp:
			if mid1, err = sc.floats(rows * 2 * s.FFN); err == nil {
				mid2, err = sc.floats(rows * s.FFN)
			}
		default:
			mid1, err = sc.floats(w.out * w.in)
		}
		if err != nil {
			return err
		}
		if err := a.g.notePeak(c); err != nil {
			return err
		}
		for i := range scales {
			if err := c.FakeQuant(trialW, w.w, scaleBuf.Offset(4*i*w.in), w.out, w.in, grid); err != nil {
				return err
			}
			if g := a.grams[input]; g != nil {
				if err := a.gramLoss(c, lossBuf.Offset(8*i), trialW, w, g.buf, mid1, partial); err != nil {
					return err
				}
				continue
			}
			for w0 := 0; w0 < a.windows; w0 += a.chunk() {
				cw := min(a.chunk(), a.windows-w0)
				t0, r := w0*a.n, cw*a.n
				in := a.inputs[input].buf.Offset(4 * t0 * w.in)
				switch input {
				case InputQKV:
					err = a.attention(c, trial, in, mid1, mid2, scores, cw, a.tf32)
					if err == nil {
						err = a.weights[InputO].matMulDevice(c, out, mid2, r)
					}
				case InputGateUp:
					err = trial.matMulDevice(c, mid1, in, r)
					if err == nil {
						err = c.SwiGLU(mid2, mid1, r, s.FFN)
					}
					if err == nil {
						err = a.weights[InputDown].matMulDevice(c, out, mid2, r)
					}
				}
				if err != nil {
					return err
				}
				if err := c.SquaredDiffSum(lossBuf.Offset(8*i), out, target.buf.Offset(4*t0*s.Hidden), partial, int64(r)*int64(s.Hidden)); err != nil {
					return err
				}
			}
		}
		return download(a.g, c, losses, lossBuf)
	})
	if err != nil {
		return nil, fmt.Errorf("compute: AWQ scale losses of %s: %w", input, err)
	}
	return losses, nil
}

// gramLoss adds to loss[0] (float64) Σ_r e_r·G·e_rᵀ over the rows of
// e = trial - w, G [in × in] being the Gram matrix of the linear's inputs:
// the sum of the squared changes of its outputs. trial becomes e; f holds
// out × in floats.
func (a *gpuAWQLayer) gramLoss(c *cuda.Ctx, loss, trial cuda.Buffer, w awqLinear, gram, f, partial cuda.Buffer) error {
	if err := c.SubInto(trial, w.w, w.out*w.in); err != nil {
		return err
	}
	// f = e·G, G being symmetric: e·Gᵀ.
	g := awqLinear{w: gram, out: w.in, in: w.in, tf32: a.tf32}
	if err := g.matMulDevice(c, f, trial, w.out); err != nil {
		return err
	}
	return c.DotSum(loss, trial, f, partial, int64(w.out)*int64(w.in))
}

// clipScratchFloats bounds the candidates' errors and outputs ClipLosses
// holds at once, in floats.
const clipScratchFloats = 1 << 28

func (g *gpu) ClipLosses(w []float32, out, in int, x []float32, n int, scheme quant.Scheme, candidates, steps int) ([]float64, error) {
	if err := checkClipJob(len(w), out, in, len(x), n, candidates, steps); err != nil {
		return nil, fmt.Errorf("compute: %w", err)
	}
	grid, err := quantGrid(scheme, in)
	if err != nil {
		return nil, fmt.Errorf("compute: clip losses: %w", err)
	}
	losses := make([]float64, in/grid.GroupSize*candidates*out)
	err = g.dev.Do(func(c *cuda.Ctx) error {
		sc := &deviceScratch{c: c}
		defer sc.free()
		wBuf, err := sc.floats(out * in)
		if err != nil {
			return err
		}
		xBuf, err := sc.floats(n * in)
		if err != nil {
			return err
		}
		if err := upload(g, c, wBuf, w[:out*in]); err != nil {
			return err
		}
		if err := upload(g, c, xBuf, x[:n*in]); err != nil {
			return err
		}
		return g.clipLossesOn(c, sc, losses, wBuf, out, in, xBuf, n, grid, candidates, steps)
	})
	if err != nil {
		return nil, fmt.Errorf("compute: clip losses: %w", err)
	}
	return losses, nil
}

// clipLossesOn sets losses to ClipLosses of the weights wBuf [out×in] on
// the inputs xBuf [n×in], both on the device; its scratch comes from sc.
func (g *gpu) clipLossesOn(c *cuda.Ctx, sc *deviceScratch, losses []float64, wBuf cuda.Buffer, out, in int, xBuf cuda.Buffer, n int, grid cuda.QuantGrid, candidates, steps int) error {
	groups := in / grid.GroupSize
	rows := min(out, max(1, clipScratchFloats/(groups*candidates*n)), max(1, clipScratchFloats/(candidates*in)))
	d, err := sc.floats(candidates * rows * in)
	if err != nil {
		return err
	}
	e, err := sc.floats(groups * candidates * rows * n)
	if err != nil {
		return err
	}
	lossBuf, err := sc.doubles(len(losses))
	if err != nil {
		return err
	}
	if err := g.notePeak(c); err != nil {
		return err
	}
	for r0 := 0; r0 < out; r0 += rows {
		r := min(rows, out-r0)
		if err := c.ClipDeltas(d, wBuf.Offset(4*r0*in), r, in, grid, candidates, steps); err != nil {
			return err
		}
		if err := c.GroupErrors(e, d, xBuf, candidates*r, n, grid.GroupSize, groups); err != nil {
			return err
		}
		if err := c.RowMeanSquares(lossBuf, e, groups*candidates, r, n, out, r0); err != nil {
			return err
		}
	}
	return download(g, c, losses, lossBuf)
}
