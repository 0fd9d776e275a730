package tokenizer

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// A tokenModel encodes one pre-token and holds the vocabulary: BPE
// (tokenizer.json, or a GGUF "gpt2" vocabulary) or llama.cpp's
// SentencePiece merging (a GGUF "llama" vocabulary).
type tokenModel interface {
	// tokenize appends the ids of one pre-token to dst.
	tokenize(word string, dst []int) []int
	id(token string) (int, bool)
	token(id int) (string, bool)
	// size is the number of distinct tokens.
	size() int
}

// Tokenizer encodes text into token ids and decodes ids into text.
type Tokenizer struct {
	model      tokenModel
	added      *addedVocab
	normalizer normalizer    // nil when the file has none
	pre        preTokenizer  // nil when the file has none
	post       postProcessor // nil when the file has none
	decoder    decoder       // nil when the file has none
}

// Load reads and parses the tokenizer.json at path.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Encode returns the token ids of text. With addSpecial the post-processor
// adds its special tokens (BOS and the like), as the library's
// encode(text, add_special_tokens=True) does.
//
// Text that is not valid UTF-8 is first repaired: each maximal invalid byte
// sequence becomes U+FFFD.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int {
	pieces := t.preTokenize(text)
	ids := make([]int, 0, len(text)/3+2)
	for _, p := range pieces {
		if p.id >= 0 {
			ids = append(ids, p.id)
			continue
		}
		ids = t.model.tokenize(p.text, ids)
	}
	if addSpecial && t.post != nil {
		ids = t.post.process(ids)
	}
	return ids
}

// preTokenize runs the pipeline up to the model: added tokens, normalizer
// and pre-tokenizer.
func (t *Tokenizer) preTokenize(text string) []piece {
	pieces := t.added.split(validUTF8(text), t.normalizer)
	if t.pre != nil {
		pieces = t.pre.preTokenize(pieces)
	}
	return pieces
}

// Decode returns the text of ids. Ids that name no token are skipped; with
// skipSpecial, so are special added tokens (BOS, EOS, ...). With no decoder
// in the file, tokens are joined by spaces, as the library does.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.Token(id)
		if !ok || (skipSpecial && t.added.isSpecial(tok)) {
			continue
		}
		tokens = append(tokens, tok)
	}
	if t.decoder == nil {
		return strings.Join(tokens, " ")
	}
	return strings.Join(t.decoder.decode(tokens), "")
}

// VocabSize returns the number of distinct tokens: the model's vocabulary
// plus the added tokens it does not already hold (the library's
// get_vocab_size(with_added_tokens=True)).
func (t *Tokenizer) VocabSize() int {
	n := t.model.size()
	for content := range t.added.ids {
		if _, ok := t.model.id(content); !ok {
			n++
		}
	}
	return n
}

// TokenID returns the id of token, looking at the added tokens first.
func (t *Tokenizer) TokenID(token string) (int, bool) {
	if id, ok := t.added.ids[token]; ok {
		return id, true
	}
	return t.model.id(token)
}

// Token returns the token string of id, looking at the added tokens first.
// Like the library's id_to_token, it gives an added token that is matched
// in normalized text (normalized: true) in its normalized form.
func (t *Tokenizer) Token(id int) (string, bool) {
	if tok, ok := t.added.token(id); ok {
		return tok, true
	}
	return t.model.token(id)
}

// BOS returns the first token the post-processor puts in front of a single
// sequence, and whether it puts one there at all. For Llama-2 files
// (TemplateProcessing "<s> $A") that is the id of <s>; for a byte-level
// file with a ByteLevel post-processor it is (-1, false).
func (t *Tokenizer) BOS() (id int, added bool) {
	if t.post == nil {
		return -1, false
	}
	ids := t.post.prefix()
	if len(ids) == 0 {
		return -1, false
	}
	return ids[0], true
}

// SpecialIDs returns the ids of the special added tokens (BOS, EOS and the
// like), in increasing order.
func (t *Tokenizer) SpecialIDs() []int {
	var ids []int
	if t.added == nil {
		return nil
	}
	for id, tok := range t.added.byID {
		if tok.special {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
