package compute

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/cuda"
	"github.com/qtk-dev/qtk/quant"
)

// The scaled layer of AWQLayer: package awq's fold, clip and final
// rounding on copies of the float projections kept on the device.

// scaledOf returns input's scaled projection, copied from the float one
// on first use, and the float one.
func (a *gpuAWQLayer) scaledOf(input string) (*deviceMem, awqLinear, error) {
	w, ok := a.weights[input]
	if !ok {
		return nil, w, fmt.Errorf("no input %q", input)
	}
	if m := a.scaled[input]; m != nil {
		return m, w, nil
	}
	m, err := alloc(a.g.dev, a, 4*w.out*w.in)
	if err != nil {
		return nil, w, err
	}
	if err := a.g.dev.Do(func(c *cuda.Ctx) error { return c.Copy(m.buf, w.w, 4*w.out*w.in) }); err != nil {
		m.free()
		return nil, w, err
	}
	if a.scaled == nil {
		a.scaled = map[string]*deviceMem{}
	}
	a.scaled[input] = m
	return m, w, nil
}

// scaledRows returns rows [row0, row0+rows) of input's scaled projection.
func (a *gpuAWQLayer) scaledRows(input string, row0, rows int) (cuda.Buffer, awqLinear, error) {
	m, w, err := a.scaledOf(input)
	if err != nil {
		return cuda.Buffer{}, w, err
	}
	if row0 < 0 || rows <= 0 || row0+rows > w.out {
		return cuda.Buffer{}, w, fmt.Errorf("rows [%d, %d) of a [%d×%d] projection", row0, row0+rows, w.out, w.in)
	}
	return m.buf.Offset(4 * row0 * w.in), w, nil
}

// producerRows returns the rows of the scaled projections that produce
// input, for the inputs whose producer is a projection: v's rows of QKV
// for InputO, up's rows of GateUp for InputDown.
func (a *gpuAWQLayer) producerRows(input string) (rows cuda.Buffer, count, width int, err error) {
	s := a.shape
	switch input {
	case InputO:
		if s.kvDim() != s.qDim() {
			return cuda.Buffer{}, 0, 0, fmt.Errorf("o_proj's inputs are not v's rows: %d kv heads for %d heads", s.KVHeads, s.Heads)
		}
		rows, _, err = a.scaledRows(InputQKV, s.qDim()+s.kvDim(), s.kvDim())
		return rows, s.kvDim(), s.Hidden, err
	case InputDown:
		rows, _, err = a.scaledRows(InputGateUp, s.FFN, s.FFN)
		return rows, s.FFN, s.Hidden, err
	}
	return cuda.Buffer{}, 0, 0, nil
}

func (a *gpuAWQLayer) FoldScales(input string, s []float32) error {
	dst, w, err := a.scaledRows(input, 0, a.weights[input].out)
	if err != nil {
		return fmt.Errorf("compute: AWQ fold of %s: %w", input, err)
	}
	if len(s) != w.in {
		return fmt.Errorf("compute: AWQ fold of %s: %d scales for %d channels", input, len(s), w.in)
	}
	prev, count, width, err := a.producerRows(input)
	if err != nil {
		return fmt.Errorf("compute: AWQ fold of %s: %w", input, err)
	}
	err = a.g.dev.Do(func(c *cuda.Ctx) error {
		sc := &deviceScratch{c: c}
		defer sc.free()
		sBuf, err := sc.floats(len(s))
		if err != nil {
			return err
		}
		if err := upload(a.g, c, sBuf, s); err != nil {
			return err
		}
		if count > 0 {
			if err := c.DivideRows(prev, sBuf, count, width); err != nil {
				return err
			}
		}
		return c.ScaleColumns(dst, sBuf, w.out, w.in)
	})
	if err != nil {
		return fmt.Errorf("compute: AWQ fold of %s: %w", input, err)
	}
	return nil
}

func (a *gpuAWQLayer) ScaledClipLosses(input string, row0, rows int, x []float32, n int, scheme quant.Scheme, candidates, steps int) ([]float64, error) {
	wBuf, w, err := a.scaledRows(input, row0, rows)
	if err != nil {
		return nil, fmt.Errorf("compute: clip losses of %s: %w", input, err)
	}
	if err := checkClipJob(rows*w.in, rows, w.in, len(x), n, candidates, steps); err != nil {
		return nil, fmt.Errorf("compute: %w", err)
	}
	grid, err := quantGrid(scheme, w.in)
	if err != nil {
		return nil, fmt.Errorf("compute: clip losses of %s: %w", input, err)
	}
	losses := make([]float64, w.in/grid.GroupSize*candidates*rows)
	err = a.g.dev.Do(func(c *cuda.Ctx) error {
		sc := &deviceScratch{c: c}
		defer sc.free()
		xBuf, err := sc.floats(n * w.in)
		if err != nil {
			return err
		}
		if err := upload(a.g, c, xBuf, x[:n*w.in]); err != nil {
			return err
		}
		return a.g.clipLossesOn(c, sc, losses, wBuf, rows, w.in, xBuf, n, grid, candidates, steps)
	})
	if err != nil {
		return nil, fmt.Errorf("compute: clip losses of %s: %w", input, err)
	}
	return losses, nil
}

func (a *gpuAWQLayer) ClampScaled(input string, row0, rows int, chosen []int32, scheme quant.Scheme, steps int) error {
	wBuf, w, err := a.scaledRows(input, row0, rows)
	if err != nil {
		return fmt.Errorf("compute: clamp of %s: %w", input, err)
	}
	grid, err := quantGrid(scheme, w.in)
	if err != nil {
		return fmt.Errorf("compute: clamp of %s: %w", input, err)
	}
	if want := w.in / grid.GroupSize * rows; len(chosen) != want {
		return fmt.Errorf("compute: clamp of %s: %d choices for %d groups", input, len(chosen), want)
	}
	for i, v := range chosen {
		if v < 0 || int(v) >= steps {
			return fmt.Errorf("compute: clamp of %s: choice %d is %d of %d steps", input, i, v, steps)
		}
	}
	err = a.g.dev.Do(func(c *cuda.Ctx) error {
		sc := &deviceScratch{c: c}
		defer sc.free()
		chosenBuf, err := sc.floats(len(chosen)) // int32s
		if err != nil {
			return err
		}
		if err := upload(a.g, c, chosenBuf, chosen); err != nil {
			return err
		}
		return c.ClampGroups(wBuf, chosenBuf, rows, w.in, grid, steps)
	})
	if err != nil {
		return fmt.Errorf("compute: clamp of %s: %w", input, err)
	}
	return nil
}

func (a *gpuAWQLayer) RoundScaled(input string, row0, rows int, scheme quant.Scheme) (*quant.Tensor, error) {
	wBuf, w, err := a.scaledRows(input, row0, rows)
	if err != nil {
		return nil, fmt.Errorf("compute: rounding %s: %w", input, err)
	}
	grid, err := quantGrid(scheme, w.in)
	if err != nil {
		return nil, fmt.Errorf("compute: rounding %s: %w", input, err)
	}
	groups := rows * (w.in / grid.GroupSize)
	t := &quant.Tensor{
		Out: rows, In: w.in, Scheme: scheme,
		Q: make([]uint8, rows*w.in), Scale: make([]float32, groups), Zero: make([]uint8, groups),
		GIdx: scheme.DefaultGIdx(w.in),
	}
	err = a.g.dev.Do(func(c *cuda.Ctx) error {
		sc := &deviceScratch{c: c}
		defer sc.free()
		// Bytes, in buffers of whole floats.
		q, err := sc.floats((len(t.Q) + 3) / 4)
		if err != nil {
			return err
		}
		scales, err := sc.floats(groups)
		if err != nil {
			return err
		}
		zeros, err := sc.floats((groups + 3) / 4)
		if err != nil {
			return err
		}
		if err := c.RoundGroups(q, scales, zeros, wBuf, rows, w.in, grid); err != nil {
			return err
		}
		if err := download(a.g, c, t.Q, q); err != nil {
			return err
		}
		if err := download(a.g, c, t.Scale, scales); err != nil {
			return err
		}
		return download(a.g, c, t.Zero, zeros)
	})
	if err != nil {
		return nil, fmt.Errorf("compute: rounding %s: %w", input, err)
	}
	return t, nil
}
