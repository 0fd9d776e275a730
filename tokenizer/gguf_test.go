package tokenizer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/qtk-dev/qtk/convert"
	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/tokenizer"
)

// writeGGUFTokenizer converts the tokenizer.json in dir to GGUF metadata as
// qtk convert does and writes a GGUF file holding only that metadata.
func writeGGUFTokenizer(t testing.TB, dir string, vocabSize int) string {
	t.Helper()
	v, err := convert.LoadGGUFVocab(dir, vocabSize)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	w, err := gguf.NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	v.Set(func(key string, val gguf.Value) {
		if err == nil {
			err = w.Set(key, val)
		}
	})
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func openGGUFTokenizer(t testing.TB, path string) *tokenizer.Tokenizer {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type goldenCases struct {
	Cases []struct {
		Text         string `json:"text"`
		IDs          []int  `json:"ids"`
		IDsNoSpecial []int  `json:"ids_no_special"`
		Decoded      string `json:"decoded"`
	} `json:"cases"`
}

// TestGGUFGolden checks that a tokenizer converted to GGUF and built back
// from its metadata encodes and decodes the golden cases as the Hugging
// Face library does with the original tokenizer.json.
func TestGGUFGolden(t *testing.T) {
	for _, tc := range []struct {
		name, dir, golden string
		vocab             int
		// metaspaceFirst marks a Metaspace tokenizer with prepend_scheme
		// "first": the Hugging Face library puts ▁ at the start of the text
		// only, and only when the text does not start with a space, while
		// GGUF's add_space_prefix (llama.cpp, like the legacy Llama
		// tokenizer.json) always prepends one, after each special token
		// too. Cases where the two differ are skipped.
		metaspaceFirst bool
	}{
		{"tiny-llama (gpt2)", "../testdata/tokenizers/tiny-llama", "tokenizer.golden.json", 4096, false},
		{"llama-spm-tinyllama (llama)", "../testdata/tokenizers/llama-spm-tinyllama", "golden.json", 32000, false},
		{"small-llama (llama)", "../testdata/tokenizers/small-llama", "tokenizer.golden.json", 32000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := openGGUFTokenizer(t, writeGGUFTokenizer(t, tc.dir, tc.vocab))
			data, err := os.ReadFile(filepath.Join(tc.dir, tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			var g goldenCases
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			checked := 0
			for i, c := range g.Cases {
				if tc.metaspaceFirst && (strings.HasPrefix(c.Text, " ") || hasSpecialAfterStart(c.Text)) {
					continue
				}
				checked++
				if got := tok.Encode(c.Text, true); !slices.Equal(got, c.IDs) {
					t.Errorf("case %d %q: Encode(special) = %v, want %v", i, c.Text, got, c.IDs)
				}
				if got := tok.Encode(c.Text, false); !slices.Equal(got, c.IDsNoSpecial) {
					t.Errorf("case %d %q: Encode = %v, want %v", i, c.Text, got, c.IDsNoSpecial)
				}
				if got := tok.Decode(c.IDs, true); got != c.Decoded {
					t.Errorf("case %d %q: Decode = %q, want %q", i, c.Text, got, c.Decoded)
				}
			}
			if checked < len(g.Cases)*4/5 {
				t.Errorf("checked only %d of %d cases", checked, len(g.Cases))
			}
		})
	}
}

func hasSpecialAfterStart(text string) bool {
	for _, s := range []string{"<s>", "</s>", "<unk>"} {
		if i := strings.Index(text, s); i > 0 || strings.Count(text, s) > 1 || (i == 0 && len(text) > len(s)) {
			return true
		}
	}
	return false
}

// FuzzGGUFEncode runs random text through small-llama's vocabulary as a
// GGUF "llama" (SentencePiece) tokenizer. Besides not panicking: every id
// names a token, BOS comes first, and for valid UTF-8 text holding no
// special-token literal and no '▁', Decode(Encode(x)) == x (the prefix
// space is stripped again, and characters outside the vocabulary come back
// from their byte tokens).
func FuzzGGUFEncode(f *testing.F) {
	tok := openGGUFTokenizer(f, writeGGUFTokenizer(f, "../testdata/tokenizers/small-llama", 32000))
	for _, s := range []string{"", " ", "Hello world", "  x\n\ny", "I'm 12345 é 中文 😀 杜甫", "<s>a</s>", "\xff", "\x00\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ids := tok.Encode(text, true)
		if len(ids) == 0 || ids[0] != 1 {
			t.Fatalf("%q: ids %v do not start with BOS", text, ids)
		}
		for _, id := range ids {
			if _, ok := tok.Token(id); !ok {
				t.Fatalf("%q: id %d names no token", text, id)
			}
		}
		if !utf8.ValidString(text) || strings.Contains(text, "▁") || strings.Contains(text, "<s>") || strings.Contains(text, "</s>") || strings.Contains(text, "<unk>") {
			return
		}
		if got := tok.Decode(ids, true); got != text {
			t.Errorf("Decode(Encode(%q)) = %q", text, got)
		}
	})
}
