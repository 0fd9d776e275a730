package compute

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// StackedLinearer is a backend that holds a float32 linear from blocks of
// its rows without joining them on the host first: a GPU copies each
// block to its place on the device, sparing a fused q, k, v or gate, up
// weight its host copy.
type StackedLinearer interface {
	// NewStackedLinear is NewLinear of the concatenation of parts, each
	// whole rows of in values, out rows in all.
	NewStackedLinear(parts [][]float32, out, in int) (Linear, error)
}

var _ StackedLinearer = (*gpu)(nil)

func (g *gpu) NewStackedLinear(parts [][]float32, out, in int) (Linear, error) {
	n := 0
	for i, p := range parts {
		if in <= 0 || len(p)%in != 0 {
			return nil, fmt.Errorf("compute: stacked linear: block %d of %d values is not rows of %d", i, len(p), in)
		}
		n += len(p)
	}
	if out <= 0 || n != out*in {
		return nil, fmt.Errorf("compute: stacked linear [%d×%d] from %d values", out, in, n)
	}
	l := &gpuLinear{g: g, out: out, in: in}
	m, err := alloc(g.dev, l, 4*n)
	if err != nil {
		return nil, err
	}
	err = g.dev.Do(func(c *cuda.Ctx) error {
		at := 0
		for _, p := range parts {
			if err := upload(g, c, m.buf.Offset(4*at), p); err != nil {
				return err
			}
			at += len(p)
		}
		return g.notePeak(c)
	})
	if err != nil {
		m.free()
		return nil, fmt.Errorf("compute: stacked linear: %w", err)
	}
	l.w = m
	return l, nil
}
