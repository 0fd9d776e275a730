package compute

import (
	"fmt"
	"log"
	"sync"

	"github.com/qtk-dev/qtk/internal/cuda"
)

var _ StepRecorder = (*gpu)(nil)

// gpuStep is a DecodeStep on the device. Its first run launches the
// kernels one by one, growing the scratch they use; the next is recorded
// as a graph, with the position read from device memory, and every later
// one replays it after uploading the position: one call from the host
// per token instead of a dozen per layer. A buffer freed since the
// recording (a grown scratch, a released tensor) drops the graph, and the
// cycle starts again.
type gpuStep struct {
	g         *gpu
	layers    []*gpuLayer
	kv        []*gpuTensor
	x, logits *gpuTensor
	head      deviceLinear
	maxLen    int
	pos       *deviceMem // int32: the position a replay reads
	// Only touched on the device's goroutine.
	graph    cuda.Graph
	recorded bool
	warm     bool   // the step ran its kernels one by one at frees
	frees    uint64 // the device's count of freed buffers then (see cuda.Ctx.Frees)
	noGraph  bool   // recording failed: run one by one
}

// graphFailure logs, once per process, that decode steps run without a
// graph.
var graphFailure sync.Once

func (g *gpu) NewDecodeStep(d DecodeStep) (Step, error) {
	if len(d.Layers) == 0 || len(d.KV) != len(d.Layers) || d.MaxLen <= 0 {
		return nil, fmt.Errorf("compute: decode step of %d layers, %d caches of %d positions", len(d.Layers), len(d.KV), d.MaxLen)
	}
	st := &gpuStep{g: g, maxLen: d.MaxLen}
	var err error
	if st.x, err = g.tensorOn(d.X, "step input"); err != nil {
		return nil, err
	}
	if st.logits, err = g.tensorOn(d.Logits, "step logits"); err != nil {
		return nil, err
	}
	for l, rl := range d.Layers {
		ly, ok := rl.(*gpuLayer)
		if !ok || ly.g != g {
			return nil, fmt.Errorf("compute: decode step: layer %d is not a layer of %s", l, g.Name())
		}
		kv, err := g.tensorOn(d.KV[l], "KV cache")
		if err != nil {
			return nil, err
		}
		if err := checkForward(ly.shape, st.x.n, 1, 1, 0, kv.n, d.MaxLen); err != nil {
			return nil, fmt.Errorf("compute: decode step: layer %d: %w", l, err)
		}
		st.layers, st.kv = append(st.layers, ly), append(st.kv, kv)
	}
	var ok bool
	if st.head, ok = d.Head.(deviceLinear); !ok {
		return nil, fmt.Errorf("compute: decode step: head %T is not on the device", d.Head)
	}
	if st.pos, err = alloc(g.dev, st, 4); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *gpuStep) Run(pos int, embedding, hidden, logits []float32) error {
	switch {
	case pos < 0 || pos >= st.maxLen:
		return fmt.Errorf("compute: decode step at position %d of a cache of %d", pos, st.maxLen)
	case len(embedding) != st.layers[0].shape.Hidden || len(hidden) != len(embedding) || len(logits) > st.logits.n:
		return fmt.Errorf("compute: decode step of an embedding of %d, a hidden row of %d, %d logits of %d", len(embedding), len(hidden), len(logits), st.logits.n)
	}
	g := st.g
	sc := &g.layer
	sc.mu.Lock()
	defer sc.mu.Unlock()
	err := g.dev.Do(func(c *cuda.Ctx) error {
		if err := st.live(); err != nil {
			return err
		}
		if err := upload(g, c, st.x.buf, embedding); err != nil {
			return err
		}
		if err := st.run(c, pos); err != nil {
			return err
		}
		if err := download(g, c, hidden, st.x.buf); err != nil {
			return err
		}
		return download(g, c, logits, st.logits.buf)
	})
	if err != nil {
		return fmt.Errorf("compute: decode step: %w", err)
	}
	return nil
}

// run replays the step's graph at position pos, recording it first when
// the scratch it uses is known to be grown, or launches its kernels one
// by one.
func (st *gpuStep) run(c *cuda.Ctx, pos int) error {
	if st.recorded && st.frees != c.Frees() {
		st.dropGraph(c)
	}
	if !st.recorded && st.warm && st.frees == c.Frees() && !st.noGraph {
		st.record(c)
	}
	if st.recorded {
		if err := upload(st.g, c, st.pos.buf, []int32{int32(pos)}); err != nil {
			return err
		}
		return c.Replay(st.graph)
	}
	if err := st.launch(c, cuda.Position{Start: pos}); err != nil {
		return err
	}
	st.warm, st.frees = true, c.Frees()
	return st.g.notePeak(c)
}

// live reports a tensor of the step used after Release.
func (st *gpuStep) live() error {
	if st.pos.freed {
		return fmt.Errorf("compute: decode step used after Release")
	}
	for _, t := range append([]*gpuTensor{st.x, st.logits}, st.kv...) {
		if err := t.live(); err != nil {
			return err
		}
	}
	return nil
}

// launch queues the step's kernels for the token at position at: each
// layer's stages, then the head.
func (st *gpuStep) launch(c *cuda.Ctx, at cuda.Position) error {
	sc := &st.g.layer
	for l, ly := range st.layers {
		if err := sc.ensure(c, ly.shape, 1); err != nil {
			return err
		}
		// Each layer's last residual add is fused into the next one's
		// input norm.
		for _, stage := range ly.stages(sc, st.x.buf, 1, 1, at, st.kv[l], st.maxLen, l > 0, l < len(st.layers)-1) {
			if err := stage.run(c); err != nil {
				return fmt.Errorf("layer %d: %w", l, err)
			}
		}
	}
	if err := st.head.matMulDevice(c, st.logits.buf, st.x.buf, 1); err != nil {
		return fmt.Errorf("head: %w", err)
	}
	return nil
}

// record records the step as a graph reading its position from st.pos;
// on failure the step keeps running its kernels one by one.
func (st *gpuStep) record(c *cuda.Ctx) {
	graph, err := c.Record(func() error { return st.launch(c, cuda.Position{StartAt: st.pos.buf}) })
	if err == nil && c.Frees() != st.frees {
		c.FreeGraph(graph)
		err = fmt.Errorf("a scratch buffer was reallocated while recording")
	}
	if err != nil {
		st.noGraph = true
		graphFailure.Do(func() { log.Printf("compute: %s: decode steps run without a graph: %v", st.g.Name(), err) })
		return
	}
	st.graph, st.recorded = graph, true
}

func (st *gpuStep) dropGraph(c *cuda.Ctx) {
	c.FreeGraph(st.graph)
	st.graph, st.recorded, st.warm = cuda.Graph{}, false, false
}

func (st *gpuStep) Release() {
	st.g.dev.Do(func(c *cuda.Ctx) error {
		if st.recorded {
			st.dropGraph(c)
		}
		return nil
	})
	st.pos.free()
}
