package main

import (
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestGGUFCommands runs tokenize, generate and eval ppl on tiny-llama
// converted to F16 GGUF and checks that they agree with the checkpoint.
func TestGGUFCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := runConvert(tinyLlama, convertOptions{to: "gguf", typ: "f16", out: path}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"tokenize", []string{"tokenize", "--text", "Hello world"}},
		{"generate", []string{"generate", "-p", "The history of the city", "-n", "8", "--json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := run(t, "", append([]string{tc.args[0], tinyLlama}, tc.args[1:]...)...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := run(t, "", append([]string{tc.args[0], path}, tc.args[1:]...)...)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "generate" {
				// Drop the timing fields, keep ids and text.
				want, got = generated(t, want), generated(t, got)
			}
			if got != want {
				t.Errorf("GGUF: %s\ncheckpoint: %s", got, want)
			}
		})
	}
	t.Run("eval ppl", func(t *testing.T) {
		args := []string{"--data", filepath.Join("..", "..", "testdata", "text", "wiki.test.excerpt.raw"), "--ctx", "128", "--max-windows", "2", "--json"}
		var ppl [2]float64
		for i, m := range []string{tinyLlama, path} {
			out, err := run(t, "", append([]string{"eval", "ppl", m}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Variants []struct {
					Perplexity struct{ PPL float64 }
				}
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Variants) != 1 {
				t.Fatalf("%v: %s", err, out)
			}
			ppl[i] = res.Variants[0].Perplexity.PPL
		}
		if !(math.Abs(ppl[1]/ppl[0]-1) < 1e-4) {
			t.Errorf("ppl of the GGUF file %g, of the checkpoint %g", ppl[1], ppl[0])
		}
	})
	if _, err := run(t, "", "eval", "ppl", path+".missing.gguf", "--data", "main_test.go"); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("missing GGUF file: %v", err)
	}
}

func generated(t *testing.T, out string) string {
	t.Helper()
	var res struct {
		IDs  []int  `json:"ids"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.IDs) == 0 {
		t.Fatalf("generate output %q: %v", out, err)
	}
	b, _ := json.Marshal(res)
	return string(b)
}
