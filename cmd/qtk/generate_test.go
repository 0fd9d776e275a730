package main

import (
	"strings"
	"testing"
)

// TestGenerateSpeculative checks that a draft model leaves greedy output
// unchanged.
func TestGenerateSpeculative(t *testing.T) {
	out, err := run(t, "", "generate", tinyLlama, "-p", "The history of the city", "-n", "8", "--json", "--draft", tinyLlama, "--draft-tokens", "3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"ids":[433,263,2321,672,83,411,401,30]`) {
		t.Fatalf("output %s", out)
	}
}
