package runtime

import "fmt"

// Sequence is one sequence run through a Model with a KV cache: a State
// on the CPU, a ResidentState when the model is resident on a device.
type Sequence interface {
	// Forward runs tokens at the positions following the cached ones and
	// writes the logits of tokens[logitsFrom:] to logits (see
	// State.Forward).
	Forward(tokens []int, logitsFrom int, logits []float32) error
	// Len is the number of tokens in the cache, Cap the most it holds.
	Len() int
	Cap() int
	// Reset empties the cache, keeping its memory.
	Reset()
	// Release frees the cache's device memory now rather than when the
	// sequence is garbage collected. The sequence must not be used after.
	Release()
}

// NewSequence returns an empty sequence of up to maxLen tokens: a
// ResidentState when the model was loaded on a compute.Resident backend,
// else a State.
func (m *Model) NewSequence(maxLen int) (Sequence, error) {
	if m.resident != nil {
		return m.NewResidentState(maxLen)
	}
	return m.NewState(maxLen), nil
}

// Resident reports whether the model's layers are held whole on a device,
// so that its Sequences run the whole forward pass there.
func (m *Model) Resident() bool { return m.resident != nil }

// Release frees nothing: a State's cache is ordinary memory.
func (s *State) Release() {}

// Generate runs the prompt and then produces up to n tokens, stopping
// early after a token for which stop returns true (that token is
// included). emit, when set, is called with each new token as it is made.
func (s *State) Generate(prompt []int, n int, sp *Sampler, stop func(int) bool, emit func(int)) ([]int, error) {
	return generate(s, s.m.Config.VocabSize, prompt, n, sp, stop, emit)
}

// Generate is State.Generate on the device.
func (s *ResidentState) Generate(prompt []int, n int, sp *Sampler, stop func(int) bool, emit func(int)) ([]int, error) {
	return generate(s, s.m.Config.VocabSize, prompt, n, sp, stop, emit)
}

func generate(s Sequence, vocab int, prompt []int, n int, sp *Sampler, stop func(int) bool, emit func(int)) ([]int, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("generate: empty prompt")
	}
	if s.Len()+len(prompt)+n > s.Cap()+1 {
		return nil, fmt.Errorf("generate: prompt of %d tokens plus %d new ones exceed the context of %d", len(prompt), n, s.Cap())
	}
	logits := make([]float32, vocab)
	if err := s.Forward(prompt, len(prompt)-1, logits); err != nil {
		return nil, err
	}
	var out []int
	next := make([]int, 1)
	for len(out) < n {
		id := sp.Next(logits)
		out = append(out, id)
		if emit != nil {
			emit(id)
		}
		if (stop != nil && stop(id)) || len(out) == n {
			break
		}
		next[0] = id
		if err := s.Forward(next, 0, logits); err != nil {
			return out, err
		}
	}
	return out, nil
}
