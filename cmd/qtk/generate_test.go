package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateSpeculative checks that a draft model leaves greedy output
// unchanged: the model drafting for itself, and its 4-bit RTN checkpoint
// (self-speculation, its weights held packed on the CPU).
func TestGenerateSpeculative(t *testing.T) {
	int4 := filepath.Join(t.TempDir(), "tiny-rtn")
	if _, err := run(t, "", "quantize", "rtn", tinyLlama, "-o", int4, "--quiet"); err != nil {
		t.Fatal(err)
	}
	for _, draft := range []string{tinyLlama, int4} {
		out, err := run(t, "", "generate", tinyLlama, "-p", "The history of the city", "-n", "8", "--json", "--draft", draft, "--draft-tokens", "3")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, `"ids":[433,263,2321,672,83,411,401,30]`) {
			t.Errorf("draft %s: output %s", filepath.Base(draft), out)
		}
	}
}
