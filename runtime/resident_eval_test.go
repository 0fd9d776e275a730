package runtime_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/eval"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/tokenizer"
)

// TestResidentPerplexity scores a text with tiny-llama on the CPU and on
// the resident path (the host-memory test double), under both protocols.
func TestResidentPerplexity(t *testing.T) {
	dir := filepath.Join("..", "testdata", "models", "tiny-llama")
	ck, err := model.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	cpu, err := runtime.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := runtime.LoadOn(runtime.NewFakeResident(), ck)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		t.Fatal(err)
	}
	text := "The quick brown fox jumps over the lazy dog. A stitch in time saves nine; many hands make light work. "
	tokens := tok.Encode(text+text+text, true)
	for _, protocol := range []eval.Protocol{eval.ProtocolHF, eval.ProtocolLlamaCpp} {
		opts := eval.Options{Protocol: protocol, Ctx: 32}
		want, err := eval.Perplexity(cpu, tokens, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := eval.Perplexity(dev, tokens, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got.Windows != want.Windows || got.TokensScored != want.TokensScored || math.Abs(got.PPL/want.PPL-1) > 1e-5 {
			t.Errorf("%s: resident ppl %.6f over %d windows, CPU %.6f over %d", protocol, got.PPL, got.Windows, want.PPL, want.Windows)
		}
		t.Logf("%s: ppl %.6f (CPU %.6f), %d windows", protocol, got.PPL, want.PPL, got.Windows)
	}
}
