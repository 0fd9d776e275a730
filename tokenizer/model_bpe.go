package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"
)

// bpeModel is the library's BPE model: a vocabulary, ranked merges, and the
// options tokenizer.json can set for them.
type bpeModel struct {
	vocab  map[string]int // token → id
	tokens map[int]string // id → token
	merges map[uint64]mergeRule

	unk          int // id of the unknown token, or -1
	fuseUnk      bool
	byteFallback bool
	byteIDs      [256]int // ids of the <0xXX> tokens, -1 where missing
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix

	cache *wordCache

	// joinable holds the pairs of characters that stand side by side in
	// some merged token; see chunkLen. It is built on first use.
	joinOnce sync.Once
	joinable map[uint64]struct{}
}

// A mergeRule says that a pair of adjacent tokens merges into token id, and
// with what priority: lower ranks merge first.
type mergeRule struct {
	rank int32
	id   int32
}

// pairKey is the key of the merge of the pair (left, right).
func pairKey(left, right int32) uint64 {
	return uint64(uint32(left))<<32 | uint64(uint32(right))
}

// bpeConfig is the "model" object of a tokenizer.json.
type bpeConfig struct {
	Type                    string           `json:"type"`
	Vocab                   map[string]int64 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	FuseUnk                 bool             `json:"fuse_unk"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	// Dropout is read but not applied: encoding stays deterministic.
	Dropout *float64 `json:"dropout"`
}

// parseModel builds the model of a tokenizer.json "model" object. Only BPE
// is supported.
func parseModel(raw json.RawMessage) (*bpeModel, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("missing")
	}
	var cfg bpeConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	// The library guesses the type of files without one from their fields.
	if cfg.Type == "" && cfg.Merges != nil {
		cfg.Type = "BPE"
	}
	if cfg.Type != "BPE" {
		return nil, fmt.Errorf("unsupported model type %q (only BPE is supported)", cfg.Type)
	}
	pairs, err := parseMerges(cfg.Merges)
	if err != nil {
		return nil, err
	}
	return newBPE(cfg, pairs)
}

// newBPE builds a BPE model from its options and merges (cfg.Merges is not
// read).
func newBPE(cfg bpeConfig, pairs [][2]string) (*bpeModel, error) {
	m := &bpeModel{
		vocab:        make(map[string]int, len(cfg.Vocab)),
		tokens:       make(map[int]string, len(cfg.Vocab)),
		unk:          -1,
		fuseUnk:      cfg.FuseUnk,
		byteFallback: cfg.ByteFallback,
		ignoreMerges: cfg.IgnoreMerges,
		cache:        newWordCache(),
	}
	if cfg.Dropout != nil && (*cfg.Dropout < 0 || *cfg.Dropout > 1) {
		return nil, fmt.Errorf("dropout %v is not in [0, 1]", *cfg.Dropout)
	}
	for tok, id := range cfg.Vocab {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("vocab: token %q has id %d out of range", tok, id)
		}
		m.vocab[tok] = int(id)
		// Several tokens may share an id; keep one deterministically.
		if old, ok := m.tokens[int(id)]; !ok || tok < old {
			m.tokens[int(id)] = tok
		}
	}
	if cfg.ContinuingSubwordPrefix != nil {
		m.prefix = *cfg.ContinuingSubwordPrefix
	}
	if cfg.EndOfWordSuffix != nil {
		m.suffix = *cfg.EndOfWordSuffix
	}
	if cfg.UnkToken != nil {
		id, ok := m.vocab[*cfg.UnkToken]
		if !ok {
			return nil, fmt.Errorf("unk_token %q is not in the vocab", *cfg.UnkToken)
		}
		m.unk = id
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	if err := m.setMerges(pairs); err != nil {
		return nil, err
	}
	return m, nil
}

// parseMerges reads merges in either form the library writes: "a b" strings
// or ["a", "b"] pairs.
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var lists [][]string
	if err := json.Unmarshal(raw, &lists); err == nil {
		pairs := make([][2]string, len(lists))
		for i, l := range lists {
			if len(l) != 2 {
				return nil, fmt.Errorf("merges[%d]: want 2 tokens, got %d", i, len(l))
			}
			pairs[i] = [2]string{l[0], l[1]}
		}
		return pairs, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, errors.New(`merges: want a list of "a b" strings or of ["a", "b"] pairs`)
	}
	pairs := make([][2]string, len(lines))
	for i, line := range lines {
		parts := strings.Split(line, " ")
		if len(parts) != 2 {
			return nil, fmt.Errorf("merges[%d]: %q is not two tokens separated by a space", i, line)
		}
		pairs[i] = [2]string{parts[0], parts[1]}
	}
	return pairs, nil
}

// setMerges ranks the merges in order. A pair listed twice keeps its last
// rank, as in the library.
func (m *bpeModel) setMerges(pairs [][2]string) error {
	if len(pairs) > math.MaxInt32 {
		return errors.New("merges: too many")
	}
	m.merges = make(map[uint64]mergeRule, len(pairs))
	for rank, p := range pairs {
		a, okA := m.vocab[p[0]]
		b, okB := m.vocab[p[1]]
		switch {
		case !okA:
			return fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, p[0])
		case !okB:
			return fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, p[1])
		case len(p[1]) < len(m.prefix) || !utf8.ValidString(p[1][len(m.prefix):]):
			return fmt.Errorf("merges[%d]: token %q does not carry the prefix %q", rank, p[1], m.prefix)
		}
		merged := p[0] + p[1][len(m.prefix):]
		id, ok := m.vocab[merged]
		if !ok {
			return fmt.Errorf("merges[%d]: merged token %q is not in the vocab", rank, merged)
		}
		m.merges[pairKey(int32(a), int32(b))] = mergeRule{rank: int32(rank), id: int32(id)}
	}
	return nil
}

func (m *bpeModel) id(token string) (int, bool) {
	id, ok := m.vocab[token]
	return id, ok
}

func (m *bpeModel) token(id int) (string, bool) {
	tok, ok := m.tokens[id]
	return tok, ok
}

func (m *bpeModel) size() int { return len(m.vocab) }

// tokenize appends the ids of one pre-token to dst.
func (m *bpeModel) tokenize(word string, dst []int) []int {
	if word == "" {
		return dst
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return append(dst, id)
		}
	}
	if len(word) < cacheMaxWordLen || m.prefix != "" || m.suffix != "" {
		return m.tokenizeChunk(word, dst)
	}
	for len(word) > 0 {
		n := m.chunkLen(word)
		dst = m.tokenizeChunk(word[:n], dst)
		word = word[n:]
	}
	return dst
}

// tokenizeChunk appends the ids of a part of a pre-token to dst, merging it
// on its own.
func (m *bpeModel) tokenizeChunk(chunk string, dst []int) []int {
	ids, ok := m.cache.get(chunk)
	if !ok {
		w := m.newWord(chunk)
		w.mergeAll(m.merges)
		ids = w.ids()
		m.cache.put(chunk, ids)
	}
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst
}

// chunkLen returns the length of the first chunk of word: the prefix up to
// the first point that no merge can cross.
//
// A long pre-token (with Metaspace split:false the whole input is one) is
// cut into chunks that are merged separately. This gives the same tokens as
// merging it whole: between two characters that are tokens themselves, a
// merge across the cut would make a token holding that pair of characters
// side by side; if no merged token does, the symbols on either side never
// interact, and the order in which the two sides merge does not matter.
// SentencePiece vocabularies have no token with ▁ after another character,
// so every word becomes a chunk, small enough for the cache.
func (m *bpeModel) chunkLen(word string) int {
	m.joinOnce.Do(m.buildJoinable)
	if m.joinable == nil {
		return len(word)
	}
	prev, n := utf8.DecodeRuneInString(word)
	_, prevKnown := m.vocab[word[:n]]
	for i := n; i < len(word); i += n {
		var r rune
		r, n = utf8.DecodeRuneInString(word[i:])
		_, known := m.vocab[word[i:i+n]]
		if known && prevKnown {
			if _, join := m.joinable[runePair(prev, r)]; !join {
				return i
			}
		}
		prev, prevKnown = r, known
	}
	return len(word)
}

func runePair(a, b rune) uint64 {
	return uint64(uint32(a))<<32 | uint64(uint32(b))
}

// buildJoinable collects the adjacent character pairs of every merged
// token. If two tokens share an id, the token of an id is ambiguous and
// chunking stays off (joinable nil).
func (m *bpeModel) buildJoinable() {
	if len(m.tokens) != len(m.vocab) {
		return
	}
	join := make(map[uint64]struct{})
	for _, rule := range m.merges {
		tok := m.tokens[int(rule.id)]
		prev, n := utf8.DecodeRuneInString(tok)
		for _, r := range tok[n:] {
			join[runePair(prev, r)] = struct{}{}
			prev = r
		}
	}
	m.joinable = join
}

// newWord splits word into its first symbols: one per character, the bytes
// of unknown characters as <0xXX> tokens when byte_fallback is on, and the
// unknown token otherwise (runs of them fused when fuse_unk is on). This is
// the library's BPE::merge_word, quirks included: a pending unknown token is
// only written out when a known character follows, so it can land after
// byte-fallback tokens that came later.
func (m *bpeModel) newWord(word string) *bpeWord {
	w := &bpeWord{symbols: make([]symbol, 0, len(word))}
	unkLen := 0 // length of the pending unknown token; 0 if none
	for i := 0; i < len(word); {
		_, n := utf8.DecodeRuneInString(word[i:])
		s := word[i : i+n]
		first, last := i == 0, i+n == len(word)
		if !first && m.prefix != "" {
			s = m.prefix + s
		}
		if last && m.suffix != "" {
			s += m.suffix
		}
		i += n

		if id, ok := m.vocab[s]; ok {
			if unkLen > 0 {
				w.add(m.unk, unkLen)
				unkLen = 0
			}
			w.add(id, n)
			continue
		}
		if m.byteFallback && m.addBytes(w, s) {
			continue
		}
		if m.unk < 0 {
			continue // the library drops the character
		}
		if unkLen > 0 && !m.fuseUnk {
			w.add(m.unk, unkLen)
			unkLen = 0
		}
		unkLen += n
	}
	if unkLen > 0 {
		w.add(m.unk, unkLen)
	}
	return w
}

// addBytes adds the <0xXX> tokens of the bytes of s, if all of them exist.
func (m *bpeModel) addBytes(w *bpeWord, s string) bool {
	for i := 0; i < len(s); i++ {
		if m.byteIDs[s[i]] < 0 {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		w.add(m.byteIDs[s[i]], 1)
	}
	return true
}
