package serving

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/qtk-dev/qtk/tokenizer"
)

// FrequentTokens returns the n tokens that occur most often in text (ties
// by id), sorted by id, for a draft model's restricted output layer: most
// of what a model writes is a few thousand frequent tokens, so a draft
// that only proposes those keeps most of its acceptance at a fraction of
// the cost of its full output layer (Zhao et al., "FR-Spec: Accelerating
// Large-Vocabulary Language Models via Frequency-Ranked Speculative
// Sampling", 2025). The special tokens always belong to the set, so the
// draft can propose the end of a sequence.
func FrequentTokens(tok *tokenizer.Tokenizer, text string, n int) ([]int, error) {
	if n < 1 {
		return nil, fmt.Errorf("draft vocabulary of %d tokens", n)
	}
	counts := make([]int, tok.VocabSize())
	seen := 0
	for _, id := range tok.Encode(text, false) {
		if id >= 0 && id < len(counts) {
			if counts[id] == 0 {
				seen++
			}
			counts[id]++
		}
	}
	if seen == 0 {
		return nil, fmt.Errorf("the text to rank the draft's tokens by has no tokens")
	}
	order := make([]int, len(counts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(counts[b], counts[a]) })
	keep := make(map[int]bool, n)
	for _, id := range order[:min(n, seen)] {
		keep[id] = true
	}
	for _, id := range tok.SpecialIDs() {
		keep[id] = true
	}
	ids := make([]int, 0, len(keep))
	for id := range keep {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}
