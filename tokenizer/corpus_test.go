package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCorpusHashes encodes whole books and the WikiText-2 files (about
// 37 MB in all) with each golden tokenizer and compares the ids with those
// of the Hugging Face tokenizers library, recorded in
// testdata/corpus_hashes.json by testdata/gen_corpus_hashes.py. The texts
// are too large for the repository: set $QTK_DATA to the shared data
// directory (the one holding corpus/ and wikitext-2/).
func TestCorpusHashes(t *testing.T) {
	dir, ok := os.LookupEnv("QTK_DATA")
	if !ok {
		t.Skip("set QTK_DATA to the shared data directory")
	}
	data, err := os.ReadFile("testdata/corpus_hashes.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Library string `json:"library"`
		Files   map[string]struct {
			Tokens int    `json:"tokens"`
			SHA256 string `json:"sha256"`
		} `json:"files"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	paths := make(map[string]string)
	for _, tc := range goldenTokenizers {
		paths[tc.name] = tc.tokenizer
	}
	tokenizers := make(map[string]*Tokenizer)
	for key, want := range file.Files {
		name, rel, _ := strings.Cut(key, "/")
		tok := tokenizers[name]
		if tok == nil {
			tok = loadTokenizer(t, paths[name])
			tokenizers[name] = tok
		}
		text, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		ids := tok.Encode(string(text), true)
		if got := idsDigest(ids); len(ids) != want.Tokens || got != want.SHA256 {
			t.Errorf("%s: %d tokens with digest %s, %s gives %d with %s", key, len(ids), got, file.Library, want.Tokens, want.SHA256)
		}
	}
}

// idsDigest is the sha256 of the ids written in decimal, joined by commas.
func idsDigest(ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(id))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
