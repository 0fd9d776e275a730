package serving

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/tokenizer"
)

func loadTokenizer(t *testing.T, dir string) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSameVocabulary(t *testing.T) {
	tiny := loadTokenizer(t, filepath.Join("..", "testdata", "models", "tiny-llama"))
	if err := SameVocabulary(tiny, tiny); err != nil {
		t.Errorf("a tokenizer differs from itself: %v", err)
	}
	data := os.Getenv("QTK_DATA")
	if data == "" {
		t.Skip("QTK_DATA not set: comparing different tokenizers skipped")
	}
	small := loadTokenizer(t, filepath.Join(data, "models", "small-llama"))
	draft := loadTokenizer(t, filepath.Join(data, "models", "small-draft"))
	if err := SameVocabulary(small, draft); err != nil {
		t.Errorf("small-draft should share small-llama's tokenizer: %v", err)
	}
	if err := SameVocabulary(small, tiny); err == nil {
		t.Error("tiny-llama's tokenizer passed for small-llama's")
	}
}
