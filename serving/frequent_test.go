package serving

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/tokenizer"
)

func TestFrequentTokens(t *testing.T) {
	tok, err := tokenizer.Load(filepath.Join("..", "testdata", "models", "tiny-llama", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	text := "the cat and the dog and the bird"
	counts := map[int]int{}
	for _, id := range tok.Encode(text, false) {
		counts[id]++
	}
	// The most frequent token, the lowest id among ties.
	the := -1
	for id, c := range counts {
		if the < 0 || c > counts[the] || (c == counts[the] && id < the) {
			the = id
		}
	}
	if counts[the] < 2 {
		t.Fatalf("no token repeats in %q: %v", text, counts)
	}
	tests := []struct {
		n       int
		wantErr bool
	}{
		{1, false},
		{3, false},
		{10000, false}, // more than the text holds: every token seen
		{0, true},
	}
	for _, tt := range tests {
		ids, err := FrequentTokens(tok, text, tt.n)
		if (err != nil) != tt.wantErr {
			t.Errorf("n=%d: error %v, want error %v", tt.n, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if !slices.IsSorted(ids) {
			t.Errorf("n=%d: ids not sorted: %v", tt.n, ids)
		}
		if !slices.Contains(ids, the) {
			t.Errorf("n=%d: the most frequent token %d is missing from %v", tt.n, the, ids)
		}
		for _, id := range tok.SpecialIDs() {
			if !slices.Contains(ids, id) {
				t.Errorf("n=%d: special token %d missing", tt.n, id)
			}
		}
		if want := min(tt.n, len(counts)) + len(tok.SpecialIDs()); len(ids) > want {
			t.Errorf("n=%d: %d ids, at most %d expected", tt.n, len(ids), want)
		}
	}
	if _, err := FrequentTokens(tok, "", 5); err == nil {
		t.Error("an empty text was accepted")
	}
}
