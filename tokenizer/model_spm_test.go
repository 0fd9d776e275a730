package tokenizer

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// newTestSPM builds a SentencePiece model from a vocabulary in id order;
// scores favour earlier tokens.
func newTestSPM(t *testing.T, vocab []string) *spmModel {
	t.Helper()
	scores := make([]float32, len(vocab))
	for i := range scores {
		scores[i] = -float32(i)
	}
	m, err := newSPM(vocab, scores, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSPMTokenize(t *testing.T) {
	vocab := []string{"<unk>", "▁", "a", "b", "c", "ab", "bc", "abc", "▁a", "<0xE4>", "<0xB8>", "<0xAD>", "x"}
	m := newTestSPM(t, vocab)
	for _, tc := range []struct {
		text string
		want []int
	}{
		{"", nil},
		{"abc", []int{7}},     // ab (score -5) first, then abc
		{"bcab", []int{6, 5}}, // ab and bc both merge; neither pair makes a token
		{"▁abc", []int{1, 7}}, // ab, then abc: ▁a (-8) never gets its turn
		{"▁ac", []int{8, 4}},
		{"中", []int{9, 10, 11}}, // outside the vocabulary: its bytes
		{"xy", []int{12, 0}},    // no byte token for y: unknown
		{"aaa", []int{2, 2, 2}}, // "aa" is no token
		{"cabc", []int{4, 7}},   // ab first, then abc; "cab" is no token
	} {
		if got := m.tokenize(tc.text, nil); !slices.Equal(got, tc.want) {
			t.Errorf("tokenize(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

// TestSPMChunkingMatchesWhole checks that cutting the text between
// characters no token joins gives the tokens of merging it whole.
func TestSPMChunkingMatchesWhole(t *testing.T) {
	tok := loadTokenizer(t, "../testdata/tokenizers/small-llama/tokenizer.json")
	bpe := tok.model.(*bpeModel)
	vocab := make([]string, len(bpe.tokens))
	for id, s := range bpe.tokens {
		vocab[id] = s
	}
	m := newTestSPM(t, vocab)
	pool := []string{"▁", "▁", "▁the", "a", "b", "e", "t", "h", "s", "▁▁", "\n", "1", "2", ".", ",", "é", "中", "😀", "'", "ing", "tion", "\x00"}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100 {
		text := randomText(rng, pool, 100)
		if got, want := m.tokenize(text, nil), m.tokenizeChunk(text, nil); !slices.Equal(got, want) {
			t.Fatalf("chunked tokenize(%q) = %v, merging whole gives %v", text, got, want)
		}
	}
}
