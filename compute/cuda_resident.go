package compute

import (
	"fmt"
	"sync"

	"github.com/qtk-dev/qtk/internal/cuda"
)

var (
	_ Resident   = (*gpu)(nil)
	_ TensorGram = (*gpuGram)(nil)
)

// gpuTensor is float32 memory on the device: owned, or a view of
// another tensor or of a layer's scratch handed to a hook.
type gpuTensor struct {
	g    *gpu
	n    int
	mem  *deviceMem // the owner's memory; nil in a hook's view
	buf  cuda.Buffer
	view bool
}

func (g *gpu) NewTensor(n int) (Tensor, error) {
	if n < 0 {
		return nil, fmt.Errorf("compute: tensor of %d elements", n)
	}
	t := &gpuTensor{g: g, n: n}
	var err error
	if t.mem, err = alloc(g.dev, t, 4*n); err != nil {
		return nil, err
	}
	t.buf = t.mem.buf
	err = g.dev.Do(func(c *cuda.Ctx) error {
		if err := c.Zero(t.buf, n); err != nil {
			return err
		}
		return g.notePeak(c)
	})
	if err != nil {
		t.Release()
		return nil, err
	}
	return t, nil
}

func (t *gpuTensor) Len() int { return t.n }

// live reports a tensor used after Release; call it on the device
// goroutine.
func (t *gpuTensor) live() error {
	if t.mem != nil && t.mem.freed {
		return fmt.Errorf("compute: tensor used after Release")
	}
	return nil
}

func (t *gpuTensor) Upload(src []float32) error {
	if len(src) > t.n {
		return fmt.Errorf("compute: upload of %d values into a tensor of %d", len(src), t.n)
	}
	return t.g.dev.Do(func(c *cuda.Ctx) error {
		if err := t.live(); err != nil {
			return err
		}
		return upload(t.g, c, t.buf, src)
	})
}

func (t *gpuTensor) Download(dst []float32) error {
	if len(dst) > t.n {
		return fmt.Errorf("compute: download of %d values from a tensor of %d", len(dst), t.n)
	}
	return t.g.dev.Do(func(c *cuda.Ctx) error {
		if err := t.live(); err != nil {
			return err
		}
		return download(t.g, c, dst, t.buf)
	})
}

// Release frees an owned tensor; releasing a view does nothing.
func (t *gpuTensor) Release() {
	if !t.view && t.mem != nil {
		t.mem.free()
	}
}

// tensorOn returns t as a tensor of g.
func (g *gpu) tensorOn(t Tensor, what string) (*gpuTensor, error) {
	gt, ok := t.(*gpuTensor)
	if !ok || gt.g != g {
		return nil, fmt.Errorf("compute: %s is not a tensor of %s", what, g.Name())
	}
	return gt, nil
}

func (g *gpu) MatMulLinear(l Linear, dst, x Tensor, rows int) error {
	dl, ok := l.(deviceLinear)
	if !ok {
		return fmt.Errorf("compute: linear %T is not on the device", l)
	}
	dt, err := g.tensorOn(dst, "product output")
	if err != nil {
		return err
	}
	xt, err := g.tensorOn(x, "product input")
	if err != nil {
		return err
	}
	out, in := -1, -1
	switch gl := l.(type) {
	case *gpuLinear:
		out, in = gl.out, gl.in
	case *gpuHalfLinear:
		out, in = gl.out, gl.in
	}
	if out >= 0 && (rows < 0 || xt.n < rows*in || dt.n < rows*out) {
		return fmt.Errorf("compute: product of %d rows with [%d×%d] from a tensor of %d into one of %d", rows, out, in, xt.n, dt.n)
	}
	return g.dev.Do(func(c *cuda.Ctx) error {
		if err := xt.live(); err != nil {
			return err
		}
		if err := dt.live(); err != nil {
			return err
		}
		return dl.matMulDevice(c, dt.buf, xt.buf, rows)
	})
}

// layerScratch holds the activations of a Forward between its steps,
// grown to the largest Forward and shared by the backend's layers.
type layerScratch struct {
	mu sync.Mutex // held through a Forward, hooks included
	// normed [rows×hidden], qkv [rows×(q+2kv)], attn [rows×q],
	// proj [rows×hidden], gateUp [rows×2ffn], act [rows×ffn]; partial and
	// arrived are the attention's (see cuda.AttentionScratchBytes).
	normed, qkv, attn, proj, gateUp, act, partial, arrived cuda.Buffer
}

// ensure grows the buffers for rows tokens of shape s.
func (sc *layerScratch) ensure(c *cuda.Ctx, s LayerShape, rows int) error {
	for _, b := range []struct {
		buf   *cuda.Buffer
		width int
	}{
		{&sc.normed, s.Hidden}, {&sc.qkv, s.qkvRows()}, {&sc.attn, s.qDim()},
		{&sc.proj, s.Hidden}, {&sc.gateUp, 2 * s.FFN}, {&sc.act, s.FFN},
	} {
		if _, err := scratch(c, b.buf, 4*rows*b.width); err != nil {
			return err
		}
	}
	return nil
}

// ensureAttention grows the attention's scratch for a and points a at it.
// New arrival counts are zeroed; the kernels leave them zero.
func (sc *layerScratch) ensureAttention(c *cuda.Ctx, a *cuda.Attention) error {
	partial, arrived := cuda.AttentionScratchBytes(*a)
	var err error
	if a.Partial, err = scratch(c, &sc.partial, partial); err != nil {
		return err
	}
	held := sc.arrived
	if a.Arrived, err = scratch(c, &sc.arrived, arrived); err != nil {
		return err
	}
	if a.Arrived != held {
		return c.Zero(a.Arrived, a.Arrived.Bytes()/4)
	}
	return nil
}

func (sc *layerScratch) free(c *cuda.Ctx) {
	for _, b := range []cuda.Buffer{sc.normed, sc.qkv, sc.attn, sc.proj, sc.gateUp, sc.act, sc.partial, sc.arrived} {
		c.Free(b)
	}
}

// gpuLayer is a decoder layer on the device. Its projections stay the
// caller's, who may share them between layers and releases them.
type gpuLayer struct {
	g                    *gpu
	shape                LayerShape
	qkv, o, gateUp, down deviceLinear
	// vectors holds the input norm, the post-attention norm [Hidden each],
	// the RoPE inverse frequencies [HeadDim/2] and the q, k, v bias, in
	// this order.
	vectors *deviceMem
	bias    bool
}

// NewLayer holds a decoder layer on the device: its norms, RoPE
// frequencies and bias are copied there; its projections are w's, which
// must outlive the layer (Release does not free them). A projection may
// be nil when no Forward runs it: a pass whose hook stops it before.
func (g *gpu) NewLayer(shape LayerShape, w ResidentWeights) (ResidentLayer, error) {
	if err := shape.check(w); err != nil {
		return nil, fmt.Errorf("compute: resident layer: %w", err)
	}
	shape.InvFreq = append([]float32(nil), shape.InvFreq...)
	for _, p := range []struct {
		name    string
		l       Linear
		out, in int
	}{
		{"q, k, v", w.QKV, shape.qkvRows(), shape.Hidden},
		{"o", w.O, shape.Hidden, shape.qDim()},
		{"gate, up", w.GateUp, 2 * shape.FFN, shape.Hidden},
		{"down", w.Down, shape.Hidden, shape.FFN},
	} {
		if err := checkLinear(p.name, p.l, p.out, p.in); err != nil {
			return nil, fmt.Errorf("compute: resident layer: %w", err)
		}
	}
	ly := &gpuLayer{g: g, shape: shape, bias: w.QKVBias != nil}
	for _, p := range []struct {
		dst *deviceLinear
		l   Linear
	}{{&ly.qkv, w.QKV}, {&ly.o, w.O}, {&ly.gateUp, w.GateUp}, {&ly.down, w.Down}} {
		if p.l != nil {
			*p.dst = p.l.(deviceLinear)
		}
	}
	vectors := make([]float32, 0, 2*shape.Hidden+len(shape.InvFreq)+len(w.QKVBias))
	vectors = append(append(append(append(vectors, w.InputNorm...), w.PostNorm...), shape.InvFreq...), w.QKVBias...)
	var err error
	if ly.vectors, err = hold(g, ly, vectors); err != nil {
		return nil, err
	}
	return ly, nil
}

// vector returns the device slice of ly.vectors from element off on.
func (ly *gpuLayer) vector(off int) cuda.Buffer { return ly.vectors.buf.Offset(4 * off) }

func (ly *gpuLayer) inputNorm() cuda.Buffer { return ly.vector(0) }
func (ly *gpuLayer) postNorm() cuda.Buffer  { return ly.vector(ly.shape.Hidden) }
func (ly *gpuLayer) invFreq() cuda.Buffer   { return ly.vector(2 * ly.shape.Hidden) }
func (ly *gpuLayer) qkvBias() cuda.Buffer {
	return ly.vector(2*ly.shape.Hidden + len(ly.shape.InvFreq))
}

func (ly *gpuLayer) Release() { ly.vectors.free() }

// Forward runs the layer as a sequence of device steps; the hooks are
// called between them, outside the device goroutine, so they may use the
// backend (a Gram's AddTensor, a download) but not run a Forward of the
// same backend, whose scratch is held until the pass ends. An error of a
// hook ends the pass and is returned wrapped.
func (ly *gpuLayer) Forward(x Tensor, seqs, n, start int, kv Tensor, maxLen int, input func(role string, in Tensor, rows int) error) error {
	g, s := ly.g, ly.shape
	xt, err := g.tensorOn(x, "layer input")
	if err != nil {
		return err
	}
	var kt *gpuTensor
	kvLen := -1
	if kv != nil {
		if kt, err = g.tensorOn(kv, "KV cache"); err != nil {
			return err
		}
		kvLen = kt.n
	}
	if err := checkForward(s, xt.n, seqs, n, start, kvLen, maxLen); err != nil {
		return fmt.Errorf("compute: resident layer: %w", err)
	}
	sc := &g.layer
	sc.mu.Lock()
	defer sc.mu.Unlock()
	rows := seqs * n
	hook := func(role string, buf cuda.Buffer, width int) error {
		if input == nil {
			return nil
		}
		if err := input(role, &gpuTensor{g: g, n: rows * width, buf: buf, view: true}, rows); err != nil {
			return fmt.Errorf("compute: resident layer: %s input: %w", role, err)
		}
		return nil
	}
	stages := ly.stages(sc, xt.buf, seqs, n, cuda.Position{Start: start}, kt, maxLen, false, false)
	first := stages[0].run
	stages[0].run = func(c *cuda.Ctx) error {
		if err := xt.live(); err != nil {
			return err
		}
		if kt != nil {
			if err := kt.live(); err != nil {
				return err
			}
		}
		if err := sc.ensure(c, s, rows); err != nil {
			return err
		}
		if err := g.notePeak(c); err != nil {
			return err
		}
		return first(c)
	}
	if input == nil {
		// One hand-off and no synchronization: a decode step queues every
		// layer's kernels back to back, and the caller's download of the
		// result waits for them (and reports a failed one).
		err := g.dev.Do(func(c *cuda.Ctx) error {
			for _, st := range stages {
				if err := st.run(c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("compute: resident layer: %w", err)
		}
		return nil
	}
	last := stages[len(stages)-1].run
	stages[len(stages)-1].run = func(c *cuda.Ctx) error {
		if err := last(c); err != nil {
			return err
		}
		return c.Synchronize() // report a failed launch here, not later
	}
	for _, st := range stages {
		if err := g.dev.Do(st.run); err != nil {
			return fmt.Errorf("compute: resident layer: %w", err)
		}
		if st.role != "" {
			if err := hook(st.role, *st.in, st.width); err != nil {
				return err
			}
		}
	}
	return nil
}

// layerStage is a part of a layer's pass, between two of its hooks.
type layerStage struct {
	run   func(c *cuda.Ctx) error
	role  string // the hook called after the stage, with in [rows×width]
	in    *cuda.Buffer
	width int
}

// stages returns the layer's pass over x as device steps; sc must be
// grown for the rows (see layerScratch.ensure). Layers run back to back
// may fuse the last residual add of one into the input norm of the next:
// with pendingIn x still lacks sc.proj, the down product of the layer
// before; with pendingOut the layer leaves its own there.
func (ly *gpuLayer) stages(sc *layerScratch, x cuda.Buffer, seqs, n int, at cuda.Position, kt *gpuTensor, maxLen int, pendingIn, pendingOut bool) []layerStage {
	s, rows := ly.shape, seqs*n
	var residual cuda.Buffer
	if pendingIn {
		residual = sc.proj
	}
	return []layerStage{
		{func(c *cuda.Ctx) error {
			return c.AddRMSNorm(sc.normed, x, residual, ly.inputNorm(), rows, s.Hidden, float64(s.NormEps))
		}, InputQKV, &sc.normed, s.Hidden},
		{func(c *cuda.Ctx) error { return ly.attention(c, sc, seqs, n, at, kt, maxLen) }, InputO, &sc.attn, s.qDim()},
		{func(c *cuda.Ctx) error {
			if err := ly.product(c, ly.o, InputO, sc.proj, sc.attn, rows); err != nil {
				return err
			}
			return c.AddRMSNorm(sc.normed, x, sc.proj, ly.postNorm(), rows, s.Hidden, float64(s.NormEps))
		}, InputGateUp, &sc.normed, s.Hidden},
		{func(c *cuda.Ctx) error {
			if err := ly.product(c, ly.gateUp, InputGateUp, sc.gateUp, sc.normed, rows); err != nil {
				return err
			}
			return c.SwiGLU(sc.act, sc.gateUp, rows, s.FFN)
		}, InputDown, &sc.act, s.FFN},
		{func(c *cuda.Ctx) error {
			if err := ly.product(c, ly.down, InputDown, sc.proj, sc.act, rows); err != nil || pendingOut {
				return err
			}
			return c.AddInto(x, sc.proj, rows*s.Hidden)
		}, "", nil, 0},
	}
}

// product runs the projection l that reads input, which must be set.
func (ly *gpuLayer) product(c *cuda.Ctx, l deviceLinear, input string, dst, x cuda.Buffer, rows int) error {
	if l == nil {
		return fmt.Errorf("the layer has no projection of the %s input", input)
	}
	return l.matMulDevice(c, dst, x, rows)
}

// attention projects the normed rows to q, k and v, adds the bias,
// rotates q and k, stores k and v in the cache kv when there is one (as
// it rotates them) and writes the attention output to sc.attn. Tokens
// sit at positions at … at+n-1.
func (ly *gpuLayer) attention(c *cuda.Ctx, sc *layerScratch, seqs, n int, at cuda.Position, kv *gpuTensor, maxLen int) error {
	if err := ly.product(c, ly.qkv, InputQKV, sc.qkv, sc.normed, seqs*n); err != nil {
		return err
	}
	return ly.attend(c, sc, seqs, n, at, kv, maxLen)
}

// attend is attention after the q, k, v product, which it reads from
// sc.qkv. A decode into a cache (n = 1, kv not nil) leaves RoPE and the
// cache write to the attention kernel.
func (ly *gpuLayer) attend(c *cuda.Ctx, sc *layerScratch, seqs, n int, at cuda.Position, kv *gpuTensor, maxLen int) error {
	s := ly.shape
	rows, stride := seqs*n, s.qkvRows()
	if ly.bias {
		if err := c.AddBias(sc.qkv, ly.qkvBias(), rows, stride); err != nil {
			return err
		}
	}
	fuseRope := n == 1 && kv != nil
	var cache cuda.Buffer // the rotated keys and values are stored in the cache as they are rotated
	if kv != nil {
		cache = kv.buf
	}
	if !fuseRope {
		if err := c.Rope(sc.qkv, ly.invFreq(), rows, n, at, s.Heads, s.KVHeads, s.HeadDim, stride, cache, maxLen); err != nil {
			return err
		}
	}
	a := cuda.Attention{
		Heads: s.Heads, KVHeads: s.KVHeads, HeadDim: s.HeadDim,
		Seqs: seqs, N: n, Start: at.Start, StartAt: at.StartAt, QStride: stride,
	}
	keys := sc.qkv.Offset(4 * s.qDim())
	if kv == nil {
		// Each window's keys and values are its own rows of qkv.
		a.KeySeqStride, a.KeyPosStride, a.ValueOffset, a.MaxKeys = n*stride, stride, s.kvDim(), n
	} else {
		keys = kv.buf
		// The keys split by the cache's length, not the position: a
		// recorded decode step launches the same grid at every position.
		a.KeySeqStride, a.KeyPosStride, a.ValueOffset, a.MaxKeys = maxLen*2*s.kvDim(), 2*s.kvDim(), s.kvDim(), maxLen
	}
	if fuseRope {
		a.RopeInvFreq = ly.invFreq()
	}
	if err := sc.ensureAttention(c, &a); err != nil {
		return err
	}
	return c.Attention(sc.attn, sc.qkv, keys, a)
}

// AddTensor folds x [rows×n], already on the device, into H as Add does.
func (gr *gpuGram) AddTensor(x Tensor, rows int, keep, scale float64) error {
	xt, err := gr.g.tensorOn(x, "gram input")
	if err != nil {
		return err
	}
	if rows < 0 || xt.n < rows*gr.n {
		return fmt.Errorf("compute: gram add: tensor of %d values for %d rows of %d", xt.n, rows, gr.n)
	}
	return gr.g.dev.Do(func(c *cuda.Ctx) error {
		if err := xt.live(); err != nil {
			return err
		}
		if err := c.Gram(gr.p.buf, xt.buf, rows, gr.n); err != nil {
			return err
		}
		return c.FoldUpper(gr.h.buf, gr.p.buf, gr.n, keep, scale)
	})
}
