package runtime

import (
	"fmt"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
)

// WithOutputs returns a model that shares m's layers but whose head
// computes the logits of the tokens ids only, in that order: a draft model
// whose output layer costs len(ids)/VocabSize of the full one. Its logits
// rows hold OutputSize values; OutputID maps a column back to its token.
// w must be the weights m was loaded from; the head is held on be.
func (m *Model) WithOutputs(be compute.Backend, w model.Weights, ids []int) (*Model, error) {
	cfg := m.Config
	if len(ids) == 0 {
		return nil, fmt.Errorf("restricted output layer: no tokens")
	}
	rows, err := foldedHead(w, ids)
	if err != nil {
		return nil, fmt.Errorf("restricted output layer: %w", err)
	}
	h := cfg.HiddenSize
	r := *m
	if r.head, err = newHead(be, rows, len(ids), h); err != nil {
		return nil, err
	}
	r.outputIDs = append([]int(nil), ids...)
	return &r, nil
}

// OutputSize is the number of logits per row: the vocabulary, or the
// tokens of a restricted output layer.
func (m *Model) OutputSize() int {
	if m.outputIDs != nil {
		return len(m.outputIDs)
	}
	return m.Config.VocabSize
}

// OutputID is the token of logits column i.
func (m *Model) OutputID(i int) int {
	if m.outputIDs != nil {
		return m.outputIDs[i]
	}
	return i
}
