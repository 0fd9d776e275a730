package tokenizer

import (
	"container/heap"
	"fmt"
	"unicode/utf8"
)

// spmModel is llama.cpp's SentencePiece tokenizer, the one it uses for a
// GGUF vocabulary of type "llama" (llama-vocab.cpp, llm_tokenizer_spm):
// the text starts as one symbol per character; the adjacent pair whose
// concatenation is a token with the highest score is merged, the leftmost
// among equal scores, until no adjacent pair forms a token. A final symbol
// that is not a token (a character outside the vocabulary) is written as
// its <0xXX> byte tokens.
type spmModel struct {
	vocab   map[string]int
	tokens  []string
	scores  []float32
	byteIDs [256]int // ids of the <0xXX> tokens, -1 where missing
	unk     int      // the unknown token, -1 if none
	// joinable holds the pairs of characters that stand side by side in
	// some token; see tokenize.
	joinable map[uint64]struct{}
}

func newSPM(tokens []string, scores []float32, unk int) (*spmModel, error) {
	if len(scores) != len(tokens) {
		return nil, fmt.Errorf("%d scores for %d tokens", len(scores), len(tokens))
	}
	m := &spmModel{vocab: make(map[string]int, len(tokens)), tokens: tokens, scores: scores, unk: unk, joinable: make(map[uint64]struct{})}
	for id, tok := range tokens {
		if _, dup := m.vocab[tok]; !dup {
			m.vocab[tok] = id
		}
		prev, n := utf8.DecodeRuneInString(tok)
		for _, r := range tok[n:] {
			m.joinable[runePair(prev, r)] = struct{}{}
			prev = r
		}
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		} else if id, ok := m.vocab[string(rune(b))]; ok && b < utf8.RuneSelf {
			// llama.cpp's byte_to_token falls back to the byte as a token.
			m.byteIDs[b] = id
		}
	}
	return m, nil
}

func (m *spmModel) id(token string) (int, bool) {
	id, ok := m.vocab[token]
	return id, ok
}

func (m *spmModel) token(id int) (string, bool) {
	if id < 0 || id >= len(m.tokens) {
		return "", false
	}
	return m.tokens[id], true
}

func (m *spmModel) size() int { return len(m.tokens) }

// spmSymbol is a stretch of the text in a doubly linked list; a symbol
// merged into its left neighbour has n 0.
type spmSymbol struct {
	start, n   int
	prev, next int
}

// spmBigram is a candidate merge of the symbols left and right, whose text
// was size bytes long when it was queued.
type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// spmQueue orders bigrams by score, then by position, as llama.cpp's
// llm_bigram_spm comparator does.
type spmQueue []spmBigram

func (q spmQueue) Len() int { return len(q) }
func (q spmQueue) Less(i, j int) bool {
	return q[i].score > q[j].score || (q[i].score == q[j].score && q[i].left < q[j].left)
}
func (q spmQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *spmQueue) Push(x any)   { *q = append(*q, x.(spmBigram)) }
func (q *spmQueue) Pop() any {
	old := *q
	b := old[len(old)-1]
	*q = old[:len(old)-1]
	return b
}

// tokenize cuts text between characters that stand side by side in no
// token and merges each chunk on its own. No merge can cross such a cut (it
// would make a token holding the pair), and merges on either side never
// interact, so this gives the tokens of merging the whole text, with a
// small queue per chunk.
func (m *spmModel) tokenize(text string, dst []int) []int {
	start := 0
	prev, n := utf8.DecodeRuneInString(text)
	for i := n; i < len(text); i += n {
		var r rune
		r, n = utf8.DecodeRuneInString(text[i:])
		if _, join := m.joinable[runePair(prev, r)]; !join {
			dst = m.tokenizeChunk(text[start:i], dst)
			start = i
		}
		prev = r
	}
	return m.tokenizeChunk(text[start:], dst)
}

// tokenizeChunk merges text as llama.cpp's llm_tokenizer_spm_session does.
func (m *spmModel) tokenizeChunk(text string, dst []int) []int {
	if text == "" {
		return dst
	}
	symbols := make([]spmSymbol, 0, len(text))
	for i := 0; i < len(text); {
		_, n := utf8.DecodeRuneInString(text[i:])
		symbols = append(symbols, spmSymbol{start: i, n: n, prev: len(symbols) - 1, next: len(symbols) + 1})
		i += n
	}
	symbols[len(symbols)-1].next = -1

	var queue spmQueue
	tryPair := func(left, right int) {
		if left < 0 || right < 0 {
			return
		}
		l, r := symbols[left], symbols[right]
		piece := text[l.start : r.start+r.n]
		if id, ok := m.vocab[piece]; ok {
			heap.Push(&queue, spmBigram{left: left, right: right, score: m.scores[id], size: len(piece)})
		}
	}
	for i := 1; i < len(symbols); i++ {
		tryPair(i-1, i)
	}
	for queue.Len() > 0 {
		b := heap.Pop(&queue).(spmBigram)
		left, right := &symbols[b.left], &symbols[b.right]
		// Skip bigrams made stale by an earlier merge of either side.
		if left.n == 0 || right.n == 0 || left.n+right.n != b.size {
			continue
		}
		left.n += right.n
		right.n = 0
		left.next = right.next
		if right.next >= 0 {
			symbols[right.next].prev = b.left
		}
		tryPair(left.prev, b.left)
		tryPair(b.left, left.next)
	}

	for i := 0; i >= 0; i = symbols[i].next {
		s := symbols[i]
		piece := text[s.start : s.start+s.n]
		if id, ok := m.vocab[piece]; ok {
			dst = append(dst, id)
			continue
		}
		// Only single characters can be missing from the vocabulary: every
		// merge makes a token. llama.cpp's resegment writes their bytes.
		for j := 0; j < len(piece); j++ {
			switch {
			case m.byteIDs[piece[j]] >= 0:
				dst = append(dst, m.byteIDs[piece[j]])
			case m.unk >= 0:
				dst = append(dst, m.unk)
			}
		}
	}
	return dst
}
