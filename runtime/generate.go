package runtime

import "fmt"

// Generate runs the prompt and then produces up to n tokens, stopping
// early after a token for which stop returns true (that token is
// included). emit, when set, is called with each new token as it is made.
func (s *State) Generate(prompt []int, n int, sp *Sampler, stop func(int) bool, emit func(int)) ([]int, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("generate: empty prompt")
	}
	if s.length+len(prompt)+n > s.maxLen+1 {
		return nil, fmt.Errorf("generate: prompt of %d tokens plus %d new ones exceed the context of %d", len(prompt), n, s.maxLen)
	}
	vocab := s.m.Config.VocabSize
	logits := make([]float32, vocab)
	if err := s.Forward(prompt, len(prompt)-1, logits); err != nil {
		return nil, err
	}
	var out []int
	for len(out) < n {
		id := sp.Next(logits)
		out = append(out, id)
		if emit != nil {
			emit(id)
		}
		if (stop != nil && stop(id)) || len(out) == n {
			break
		}
		if err := s.Forward([]int{id}, 0, logits); err != nil {
			return out, err
		}
	}
	return out, nil
}
