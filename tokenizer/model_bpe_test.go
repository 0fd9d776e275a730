package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// newTestBPE builds a model from a vocabulary given in id order and merges
// in "a b" form.
func newTestBPE(t *testing.T, vocab []string, merges []string, opts func(*bpeConfig)) *bpeModel {
	t.Helper()
	cfg := bpeConfig{Type: "BPE", Vocab: make(map[string]int64)}
	for i, tok := range vocab {
		cfg.Vocab[tok] = int64(i)
	}
	raw, err := json.Marshal(merges)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Merges = raw
	if opts != nil {
		opts(&cfg)
	}
	pairs, err := parseMerges(cfg.Merges)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newBPE(cfg, pairs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ptr[T any](v T) *T { return &v }

// The cases follow the library's own BPE tests.
func TestBPETokenize(t *testing.T) {
	unrelated := []string{"u", "n", "r", "e", "l", "a", "t", "d", "re", "at", "ed", "un", "ated", "rel", "related", "unrelated"}
	unrelatedMerges := []string{"r e", "a t", "e d", "u n", "at ed", "re l", "rel ated", "un related"}
	ignoreVocab := []string{".:.:", "Ġbelirtilen", ".", ":", "bel", "irtilen", "Ġ", ".:", "belirtilen", ".:.",
		"be", "l", "ir", "ti", "en", "irtil", "irti", "i", "r", "t", "b", "e", "n"}
	ignoreMerges := []string{". :", "b e", "be l", "i r", "t i", "ir ti", "e n", "irti l"}
	tests := []struct {
		name   string
		vocab  []string
		merges []string
		opts   func(*bpeConfig)
		word   string
		want   []int
	}{
		{"merges", unrelated, unrelatedMerges, nil, "unrelated", []int{15}},
		{"unk not fused", []string{"<unk>", "a", "b"}, nil,
			func(c *bpeConfig) { c.UnkToken = ptr("<unk>") }, "accb", []int{1, 0, 0, 2}},
		{"unk fused", []string{"<unk>", "a", "b"}, nil,
			func(c *bpeConfig) { c.UnkToken = ptr("<unk>"); c.FuseUnk = true }, "accb", []int{1, 0, 2}},
		{"no unk drops", []string{"a", "b"}, nil, nil, "acb", []int{0, 1}},
		{"byte fallback", []string{"<unk>", "<0x61>"}, nil,
			func(c *bpeConfig) { c.UnkToken = ptr("<unk>"); c.ByteFallback = true }, "a", []int{1}},
		{"byte fallback missing byte", []string{"<unk>", "<0x61>"}, nil,
			func(c *bpeConfig) { c.UnkToken = ptr("<unk>"); c.ByteFallback = true }, "c", []int{0}},
		{"byte fallback multibyte", []string{"<unk>", "a", "<0xC3>", "<0xA9>"}, nil,
			func(c *bpeConfig) { c.UnkToken = ptr("<unk>"); c.ByteFallback = true }, "aé", []int{1, 2, 3}},
		// The library writes a pending unknown token only when a known
		// character follows, after any byte-fallback tokens in between.
		{"unk after byte fallback", []string{"<unk>", "a", "<0xC3>", "<0xA9>"}, nil,
			func(c *bpeConfig) { c.UnkToken = ptr("<unk>"); c.ByteFallback = true }, "xéa", []int{2, 3, 0, 1}},
		{"ignore merges", ignoreVocab, ignoreMerges,
			func(c *bpeConfig) { c.IgnoreMerges = true }, ".:.:", []int{0}},
		{"ignore merges whole word", ignoreVocab, ignoreMerges,
			func(c *bpeConfig) { c.IgnoreMerges = true }, "Ġbelirtilen", []int{1}},
		{"ignore merges falls back", ignoreVocab, ignoreMerges,
			func(c *bpeConfig) { c.IgnoreMerges = true }, "Ġbelirtilenn", []int{6, 4, 15, 14, 22}},
		{"without ignore merges", ignoreVocab, ignoreMerges, nil, ".:.:", []int{7, 7}},
		{"continuing subword prefix", []string{"a", "##b", "##c", "ab", "abc"}, []string{"a ##b", "ab ##c"},
			func(c *bpeConfig) { c.ContinuingSubwordPrefix = ptr("##") }, "abc", []int{4}},
		{"end of word suffix", []string{"a", "b", "b</w>", "ab</w>", "ab"}, []string{"a b</w>"},
			func(c *bpeConfig) { c.EndOfWordSuffix = ptr("</w>") }, "abab", []int{0, 1, 3}},
		// Ties between equal ranks go to the leftmost pair.
		{"leftmost first", []string{"a", "aa"}, []string{"a a"}, nil, "aaa", []int{1, 0}},
	}
	for _, tc := range tests {
		m := newTestBPE(t, tc.vocab, tc.merges, tc.opts)
		if got := m.tokenize(tc.word, nil); !slices.Equal(got, tc.want) {
			t.Errorf("%s: tokenize(%q) = %v, want %v", tc.name, tc.word, got, tc.want)
		}
	}
}

func TestParseMerges(t *testing.T) {
	tests := []struct {
		raw     string
		want    [][2]string
		wantErr bool
	}{
		{`["a b", "ab c"]`, [][2]string{{"a", "b"}, {"ab", "c"}}, false},
		{`[["a", "b"], ["a b", "c"]]`, [][2]string{{"a", "b"}, {"a b", "c"}}, false},
		{`null`, nil, false},
		{`["a b c"]`, nil, true},
		{`[["a"]]`, nil, true},
		{`[1, 2]`, nil, true},
	}
	for _, tc := range tests {
		got, err := parseMerges(json.RawMessage(tc.raw))
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("parseMerges(%s) = %v, %v; want %v, error %v", tc.raw, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestChunkingMatchesWholeWord checks that cutting a long pre-token where no
// merge can cross gives the tokens of merging it whole.
func TestChunkingMatchesWholeWord(t *testing.T) {
	tok := loadTokenizer(t, "../testdata/tokenizers/small-llama/tokenizer.json")
	m := tok.model.(*bpeModel)
	pool := []string{"▁", "▁", "▁the", "a", "b", "e", "t", "h", "s", "▁▁", "\n", "1", "2", ".", ",", "é", "中", "😀", "'", "ing", "tion"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		word := randomText(rng, pool, 200)
		if len(word) < cacheMaxWordLen {
			word = strings.Repeat(word, cacheMaxWordLen/max(len(word), 1)+1)
		}
		w := m.newWord(word)
		w.mergeAll(m.merges)
		var want []int
		for _, id := range w.ids() {
			want = append(want, int(id))
		}
		if got := m.tokenize(word, nil); !slices.Equal(got, want) {
			t.Fatalf("tokenize(%q):\n got %v\nwant %v", word, got, want)
		}
	}
}
