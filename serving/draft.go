package serving

import (
	"fmt"

	"github.com/qtk-dev/qtk/tokenizer"
)

// SameVocabulary reports an error unless the draft tokenizer maps every
// id to the same token as the target's: speculative decoding compares
// token ids, so both models must read and write the same ones.
func SameVocabulary(target, draft *tokenizer.Tokenizer) error {
	if n, d := target.VocabSize(), draft.VocabSize(); n != d {
		return fmt.Errorf("the draft tokenizer has %d tokens, the target's %d", d, n)
	}
	for id := 0; id < target.VocabSize(); id++ {
		a, okA := target.Token(id)
		b, okB := draft.Token(id)
		if a != b || okA != okB {
			return fmt.Errorf("token id %d is %q for the target and %q for the draft", id, a, b)
		}
	}
	if a, b := target.Encode("Hello, world", true), draft.Encode("Hello, world", true); fmt.Sprint(a) != fmt.Sprint(b) {
		return fmt.Errorf("the tokenizers encode the same text differently (%v, %v)", a, b)
	}
	return nil
}
