package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// goldenFile is the format of the golden encodings written with the Hugging
// Face tokenizers library: for each text, encode(text) with and without
// special tokens, and decode(ids, skip_special_tokens=True).
type goldenFile struct {
	Tokenizer string `json:"tokenizer"`
	Library   string `json:"library"`
	Cases     []struct {
		Text         string `json:"text"`
		IDs          []int  `json:"ids"`
		IDsNoSpecial []int  `json:"ids_no_special"`
		Decoded      string `json:"decoded"`
	} `json:"cases"`
}

var goldenTokenizers = []struct {
	name, tokenizer, golden string
}{
	{"tiny-llama", "../testdata/tokenizers/tiny-llama/tokenizer.json", "../testdata/tokenizers/tiny-llama/tokenizer.golden.json"},
	{"small-llama", "../testdata/tokenizers/small-llama/tokenizer.json", "../testdata/tokenizers/small-llama/tokenizer.golden.json"},
	{"llama-spm-tinyllama", "../testdata/tokenizers/llama-spm-tinyllama/tokenizer.json", "../testdata/tokenizers/llama-spm-tinyllama/golden.json"},
}

func readGolden(t testing.TB, path string) goldenFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return g
}

func loadTokenizer(t testing.TB, path string) *Tokenizer {
	t.Helper()
	tok, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestGolden checks every case of every golden file: ids with special
// tokens, ids without, and the decoded text.
func TestGolden(t *testing.T) {
	for _, tc := range goldenTokenizers {
		t.Run(tc.name, func(t *testing.T) {
			tok := loadTokenizer(t, tc.tokenizer)
			g := readGolden(t, tc.golden)
			passed := 0
			for i, c := range g.Cases {
				ok := true
				if got := tok.Encode(c.Text, true); !slices.Equal(got, c.IDs) {
					t.Errorf("case %d %q: Encode(special) = %v, want %v", i, short(c.Text), shortIDs(got), shortIDs(c.IDs))
					ok = false
				}
				if got := tok.Encode(c.Text, false); !slices.Equal(got, c.IDsNoSpecial) {
					t.Errorf("case %d %q: Encode = %v, want %v", i, short(c.Text), shortIDs(got), shortIDs(c.IDsNoSpecial))
					ok = false
				}
				if got := tok.Decode(c.IDs, true); got != c.Decoded {
					t.Errorf("case %d %q: Decode = %q, want %q", i, short(c.Text), short(got), short(c.Decoded))
					ok = false
				}
				if ok {
					passed++
				}
			}
			t.Logf("%s: %d/%d cases pass (%s)", filepath.Base(tc.golden), passed, len(g.Cases), g.Library)
		})
	}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func shortIDs(ids []int) []int {
	if len(ids) > 20 {
		return ids[:20]
	}
	return ids
}
