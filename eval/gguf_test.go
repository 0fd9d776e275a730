package eval

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/convert"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/tokenizer"
)

const tinyLlama = "../testdata/models/tiny-llama"

// loadGGUF converts tiny-llama to a GGUF file of the given type and loads
// it with the tokenizer its metadata describes.
func loadGGUF(t *testing.T, typ string) (*runtime.Model, *tokenizer.Tokenizer) {
	t.Helper()
	ck, err := model.Open(tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	path := filepath.Join(t.TempDir(), "tiny-"+typ+".gguf")
	if _, err := convert.WriteGGUF(context.Background(), ck, path, convert.GGUFOptions{Type: typ}); err != nil {
		t.Fatal(err)
	}
	g, err := model.OpenGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	m, err := runtime.Load(g)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromGGUF(g.File)
	if err != nil {
		t.Fatal(err)
	}
	return m, tok
}

// TestGGUFPerplexity checks perplexity of tiny-llama's GGUF files against
// the safetensors checkpoint they were converted from: the same (up to
// float32 rounding) for F16, which holds the bf16 weights exactly, and
// within a bound that grows as the format loses bits for the quantized
// types.
func TestGGUFPerplexity(t *testing.T) {
	text := "../testdata/text/wiki.test.excerpt.raw"
	opts := Options{Protocol: ProtocolLlamaCpp, Ctx: 256, MaxWindows: 4}
	m, tok := load(t, tinyLlama)
	want, err := Perplexity(m, readTokens(t, tok, text), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ      string
		relative float64 // allowed |ppl/want - 1|
	}{
		{"f16", 1e-4},
		{"q8_0", 0.01},
		{"q4_0", 0.08},
		{"q4_k_m", 0.08},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			m, tok := loadGGUF(t, tc.typ)
			got, err := Perplexity(m, readTokens(t, tok, text), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.TokensScored != want.TokensScored {
				t.Fatalf("scored %d tokens, the checkpoint %d", got.TokensScored, want.TokensScored)
			}
			if d := math.Abs(got.PPL/want.PPL - 1); d > tc.relative || math.IsNaN(d) {
				t.Errorf("ppl %.6f, checkpoint %.6f (relative difference %.2g > %.2g)", got.PPL, want.PPL, d, tc.relative)
			}
			t.Logf("%s: ppl %.6f, checkpoint %.6f", tc.typ, got.PPL, want.PPL)
		})
	}
}
