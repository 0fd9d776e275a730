package sizing

import (
	"fmt"

	"github.com/qtk-dev/qtk/model"
)

// DecodeWeightBytes is the weight memory one decode step of one sequence
// reads: every stored tensor of a checkpoint or GGUF file as it is stored
// (packed, with its scales and zero points), but only one row of the
// token embedding, which a tied head reads in full instead of its own
// tensor. Tokens per second times this is the weight bandwidth that
// batch-1 decoding draws.
func DecodeWeightBytes(w model.Weights) (int64, error) {
	cfg := w.ModelConfig()
	var embed, head string
	sizes := map[string]int64{}
	switch w := w.(type) {
	case *model.Checkpoint:
		tensors, err := w.StoredTensors()
		if err != nil {
			return 0, err
		}
		for _, t := range tensors {
			sizes[t.Name] = int64(len(t.Data))
		}
		embed, head = model.HFName(model.TokenEmbedding, -1), model.HFName(model.Output, -1)
	case *model.GGUF:
		for _, t := range w.File.Tensors() {
			row, err := t.Type.RowSize(t.Dims[0])
			if err != nil {
				return 0, fmt.Errorf("%s: %w", t.Name, err)
			}
			sizes[t.Name] = row * (t.NumElements() / max(t.Dims[0], 1))
		}
		embed, _ = model.GGUFName(model.TokenEmbedding, -1)
		head, _ = model.GGUFName(model.Output, -1)
	default:
		return 0, fmt.Errorf("decode weight bytes: weights of type %T", w)
	}
	var total int64
	for _, b := range sizes {
		total += b
	}
	if cfg.TieWordEmbeddings {
		return total - sizes[head], nil // a tied head saved anyway is not read
	}
	return total - sizes[embed] + sizes[embed]/int64(cfg.VocabSize), nil
}
