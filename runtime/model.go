// Package runtime runs a decoder-only transformer on the CPU in float32:
// batched prefill, a KV cache for generation, logits for scoring, and
// single layers over calibration batches.
package runtime

import (
	"fmt"
	"slices"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
)

// Model holds the weights of a LLaMA-family decoder, widened to float32 and
// packed for the matrix kernel. It is immutable once built and may be shared
// by many States.
type Model struct {
	Config *model.Config
	embed  []float32 // [vocab × hidden], rows looked up by token id
	layers []*Layer
	// head is the output projection with the final norm's weight folded
	// into its columns, so that the logits of a hidden row x are
	// head·x / rms(x) (see Logits): a device computes head·x, the host
	// divides.
	head compute.Linear // [vocab × hidden], or [len(outputIDs) × hidden]
	// outputIDs lists the tokens the head computes logits for, when not
	// the whole vocabulary (see WithOutputs).
	outputIDs []int
	// resident holds the layers whole on a compute.Resident backend; nil
	// on any other backend.
	resident *residentModel
}

// Load widens and packs every weight of a checkpoint or GGUF file for the
// CPU.
func Load(w model.Weights) (*Model, error) { return LoadOn(compute.CPU, w) }

// LoadOn widens every weight of a checkpoint or GGUF file and holds the
// projections and the head on backend be. The linear weights a quantized
// checkpoint stores quantized are held quantized (see
// compute.Backend.NewQuantLinear); the head is held in float16 where be
// offers it (compute.HalfLinears: its bytes, read at every token, halve),
// else in float32. When be is
// a compute.Resident, the layers are also held there whole (sharing the
// projections), and NewSequence runs the whole forward pass on the device
// (see Resident).
func LoadOn(be compute.Backend, w model.Weights) (*Model, error) {
	cfg := w.ModelConfig()
	m := &Model{Config: cfg, layers: make([]*Layer, cfg.NumLayers)}
	var err error
	if m.embed, err = w.Float32(model.TokenEmbedding, -1); err != nil {
		return nil, err
	}
	head, err := foldedHead(w, nil)
	if err != nil {
		return nil, err
	}
	if m.head, err = newHead(be, head, cfg.VocabSize, cfg.HiddenSize); err != nil {
		return nil, err
	}
	qs, _ := w.(quantSource)
	for l := range m.layers {
		lw, err := readLayer(w, qs, l)
		if err != nil {
			return nil, err
		}
		if m.layers[l], err = NewLayerOn(be, cfg, lw); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
	}
	// Models a Resident backend cannot hold whole (o_proj or MLP biases,
	// unusual head sizes) keep their layers orchestrated on the host.
	if r, ok := be.(compute.Resident); ok && ResidentSupports(cfg) {
		if m.resident, err = newResidentModel(r, m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// newHead holds the head w [out×in] on be: in float16 where be offers it.
func newHead(be compute.Backend, w []float32, out, in int) (compute.Linear, error) {
	if h, ok := be.(compute.HalfLinears); ok {
		return h.NewHalfLinear(w, out, in)
	}
	return be.NewLinear(w, out, in)
}

// foldedHead reads the head's rows of the tokens ids (nil: the whole
// vocabulary), a quantized head dequantized, and multiplies their columns
// by the final norm's weight.
func foldedHead(w model.Weights, ids []int) ([]float32, error) {
	cfg := w.ModelConfig()
	h := cfg.HiddenSize
	norm, err := w.Float32(model.OutputNorm, -1)
	if err != nil {
		return nil, err
	}
	full, err := w.Float32(model.Output, -1)
	if err != nil {
		return nil, err
	}
	var rows []float32
	if ids == nil {
		rows = full
		if cfg.TieWordEmbeddings {
			rows = slices.Clone(full) // the embedding must not be scaled
		}
	} else {
		rows = make([]float32, len(ids)*h)
		for i, id := range ids {
			if id < 0 || id >= cfg.VocabSize {
				return nil, fmt.Errorf("token id %d outside the vocabulary of %d", id, cfg.VocabSize)
			}
			copy(rows[i*h:(i+1)*h], full[id*h:(id+1)*h])
		}
	}
	for r := range len(rows) / h {
		row := rows[r*h : (r+1)*h]
		for i, g := range norm {
			row[i] *= g
		}
	}
	return rows, nil
}
