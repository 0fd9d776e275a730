package calibrate

import (
	"fmt"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// Activations are the hidden states of every calibration window at the
// input of the current layer, [seqLen × hidden] each.
type Activations struct {
	cfg    *model.Config
	X      [][]float32
	runner *runtime.LayerRunner
	tmp    []float32
}

// Embed starts the walk: the embedding rows of each window.
func Embed(ck *model.Checkpoint, windows [][]int) (*Activations, error) {
	cfg := ck.Config
	if len(windows) == 0 {
		return nil, fmt.Errorf("no calibration windows")
	}
	emb, err := ck.Float32(model.TokenEmbedding, -1)
	if err != nil {
		return nil, err
	}
	h := cfg.HiddenSize
	a := &Activations{cfg: cfg, runner: runtime.NewLayerRunner(cfg, len(windows[0]))}
	for _, w := range windows {
		x := make([]float32, len(w)*h)
		for t, id := range w {
			if id < 0 || id >= cfg.VocabSize {
				return nil, fmt.Errorf("token id %d outside the vocabulary of %d", id, cfg.VocabSize)
			}
			copy(x[t*h:(t+1)*h], emb[id*h:(id+1)*h])
		}
		a.X = append(a.X, x)
	}
	return a, nil
}

// Runner is the layer runner sized for these activations.
func (a *Activations) Runner() *runtime.LayerRunner { return a.runner }

// Observe runs ly on a copy of every window, calling hooks; the
// activations stay the inputs of the current layer.
func (a *Activations) Observe(ly *runtime.Layer, hooks *runtime.Hooks) error {
	for _, x := range a.X {
		a.tmp = append(a.tmp[:0], x...)
		if err := a.runner.Run(ly, a.tmp, hooks); err != nil {
			return err
		}
	}
	return nil
}

// Advance runs ly on every window in place: the activations become the
// inputs of the next layer.
func (a *Activations) Advance(ly *runtime.Layer) error {
	for _, x := range a.X {
		if err := a.runner.Run(ly, x, nil); err != nil {
			return err
		}
	}
	return nil
}

// Tokens is the number of calibration tokens.
func (a *Activations) Tokens() int {
	return len(a.X) * len(a.X[0]) / a.cfg.HiddenSize
}
