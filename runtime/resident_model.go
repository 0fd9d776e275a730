package runtime

import (
	"fmt"

	"github.com/qtk-dev/qtk/compute"
)

// residentModel holds a Model's decoder layers whole on a compute.Resident
// backend. They share their projections with the Model's Layers, so the
// weights are held once.
type residentModel struct {
	be     compute.Resident
	layers []compute.ResidentLayer
}

func newResidentModel(be compute.Resident, m *Model) (*residentModel, error) {
	shape := ResidentShape(m.Config)
	r := &residentModel{be: be}
	for l, ly := range m.layers {
		rl, err := be.NewLayer(shape, compute.ResidentWeights{
			QKV:       ly.qkv,
			O:         ly.o,
			GateUp:    ly.gateUp,
			Down:      ly.down,
			InputNorm: ly.attnNorm,
			PostNorm:  ly.ffnNorm,
			QKVBias:   ly.qkvBias,
		})
		if err != nil {
			r.release()
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		r.layers = append(r.layers, rl)
	}
	return r, nil
}

func (r *residentModel) release() {
	for _, rl := range r.layers {
		rl.Release()
	}
}

// prefillChunk is the most tokens a ResidentState runs through the layers
// at once; longer calls are split, which bounds its activations.
const prefillChunk = 512

// ResidentState is one sequence run on a model resident on a device. Its
// KV cache and activations live there; a call moves only the new tokens'
// embeddings in and, for the rows that get logits, the logits and the
// hidden states (whose rms the final norm divides by) out.
type ResidentState struct {
	m              *Model
	maxLen, length int
	// kv holds each layer's cache, [maxLen × 2 × KVHeads × HeadDim].
	kv []compute.Tensor
	// x is the residual stream and logits the head's output of up to
	// rows tokens.
	x, logits compute.Tensor
	rows      int
	// Host copies of x: the embeddings going in, the hidden states
	// coming out.
	embedded, hidden []float32
	// decode runs a token with logits as one unit (its copies included),
	// where the backend records steps (compute.StepRecorder); nil
	// elsewhere.
	decode compute.Step
}

// NewResidentState allocates on the device the cache of a sequence of up
// to maxLen tokens. The model must be Resident.
func (m *Model) NewResidentState(maxLen int) (*ResidentState, error) {
	return m.newResidentState(maxLen, prefillChunk)
}

// newResidentState is NewResidentState running at most chunk tokens at
// once.
func (m *Model) newResidentState(maxLen, chunk int) (*ResidentState, error) {
	if m.resident == nil {
		return nil, fmt.Errorf("resident state: the model is not held on a resident backend")
	}
	if maxLen < 1 {
		return nil, fmt.Errorf("resident state: context %d must be positive", maxLen)
	}
	cfg, be := m.Config, m.resident.be
	s := &ResidentState{m: m, maxLen: maxLen, rows: min(maxLen, chunk), kv: make([]compute.Tensor, cfg.NumLayers)}
	type tensor struct {
		dst *compute.Tensor
		n   int
	}
	tensors := []tensor{{&s.x, s.rows * cfg.HiddenSize}, {&s.logits, s.rows * m.OutputSize()}}
	for l := range s.kv {
		tensors = append(tensors, tensor{&s.kv[l], maxLen * 2 * cfg.KVDim()})
	}
	for _, t := range tensors {
		var err error
		if *t.dst, err = be.NewTensor(t.n); err != nil {
			s.Release()
			return nil, fmt.Errorf("resident state: %w", err)
		}
	}
	if rec, ok := be.(compute.StepRecorder); ok {
		var err error
		s.decode, err = rec.NewDecodeStep(compute.DecodeStep{
			X: s.x, Logits: s.logits, Layers: m.resident.layers, KV: s.kv, MaxLen: maxLen, Head: m.head,
		})
		if err != nil {
			s.Release()
			return nil, fmt.Errorf("resident state: %w", err)
		}
	}
	s.embedded = make([]float32, s.rows*cfg.HiddenSize)
	s.hidden = make([]float32, s.rows*cfg.HiddenSize)
	return s, nil
}

// Len is the number of tokens in the cache.
func (s *ResidentState) Len() int { return s.length }

// Cap is the most tokens the cache can hold.
func (s *ResidentState) Cap() int { return s.maxLen }

// Reset empties the cache, keeping its memory.
func (s *ResidentState) Reset() { s.length = 0 }

// Release frees the state's device memory.
func (s *ResidentState) Release() {
	if s.decode != nil {
		s.decode.Release()
	}
	for _, t := range append([]compute.Tensor{s.x, s.logits}, s.kv...) {
		if t != nil {
			t.Release()
		}
	}
}

// Forward is State.Forward on the device. Tokens run in chunks of at most
// prefillChunk, split at logitsFrom so that rows without logits skip the
// head.
func (s *ResidentState) Forward(tokens []int, logitsFrom int, logits []float32) error {
	vocab := s.m.OutputSize()
	if err := checkForward(s.m, s.length, s.maxLen, tokens, logitsFrom, logits); err != nil {
		return fmt.Errorf("resident forward: %w", err)
	}
	for done := 0; done < len(tokens); {
		end := min(len(tokens), done+s.rows)
		var out []float32
		if done < logitsFrom {
			end = min(end, logitsFrom)
		} else {
			out = logits[(done-logitsFrom)*vocab : (end-logitsFrom)*vocab]
		}
		if err := s.step(tokens[done:end], out); err != nil {
			return fmt.Errorf("resident forward: %w", err)
		}
		done = end
	}
	return nil
}

// step runs up to s.rows tokens through the layers and, when logits is
// not nil, writes the logits of every one of them there.
func (s *ResidentState) step(tokens []int, logits []float32) error {
	m, r := s.m, s.m.resident
	n, h := len(tokens), m.Config.HiddenSize
	m.Embed(s.embedded[:n*h], tokens)
	if n == 1 && logits != nil && s.decode != nil {
		if err := s.decode.Run(s.length, s.embedded[:h], s.hidden[:h], logits); err != nil {
			return err
		}
		s.length++
		divideByRMS(logits, s.hidden[:h], 1, h, m.Config.RMSNormEps)
		return nil
	}
	if err := s.x.Upload(s.embedded[:n*h]); err != nil {
		return err
	}
	for l, ly := range r.layers {
		if err := ly.Forward(s.x, 1, n, s.length, s.kv[l], s.maxLen, nil); err != nil {
			return fmt.Errorf("layer %d: %w", l, err)
		}
	}
	s.length += n
	if logits == nil {
		return nil
	}
	if err := r.be.MatMulLinear(m.head, s.logits, s.x, n); err != nil {
		return fmt.Errorf("head: %w", err)
	}
	return s.readLogits(logits, n)
}

// readLogits downloads the logits of the n rows of x the head has
// multiplied, and divides them by the rows' rms (the final norm).
func (s *ResidentState) readLogits(logits []float32, n int) error {
	m := s.m
	h := m.Config.HiddenSize
	if err := s.x.Download(s.hidden[:n*h]); err != nil {
		return err
	}
	if err := s.logits.Download(logits); err != nil {
		return err
	}
	divideByRMS(logits, s.hidden[:n*h], n, h, m.Config.RMSNormEps)
	return nil
}
