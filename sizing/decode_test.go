package sizing_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/convert"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/sizing"
)

func TestDecodeWeightBytes(t *testing.T) {
	ck, err := model.Open(filepath.Join("..", "testdata", "models", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	cfg := ck.Config
	got, err := sizing.DecodeWeightBytes(ck)
	if err != nil {
		t.Fatal(err)
	}
	// tiny-llama is stored in bfloat16 with an untied head: every
	// parameter but the embedding table's, plus one of its rows.
	embed := int64(cfg.VocabSize * cfg.HiddenSize)
	if want := 2 * (cfg.ParamCount() - embed + int64(cfg.HiddenSize)); got != want {
		t.Errorf("DecodeWeightBytes = %d, want %d", got, want)
	}
}

// TestDecodeWeightBytesGGUF compares a Q8_0 GGUF file of tiny-llama with
// its checkpoint: 34 bytes per 32 values of the matrices (the norms,
// one-dimensional, stay in float32).
func TestDecodeWeightBytesGGUF(t *testing.T) {
	ck, err := model.Open(filepath.Join("..", "testdata", "models", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, err := convert.WriteGGUF(context.Background(), ck, path, convert.GGUFOptions{Type: "q8_0"}); err != nil {
		t.Fatal(err)
	}
	g, err := model.OpenGGUF(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got, err := sizing.DecodeWeightBytes(g)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ck.Config
	h := int64(cfg.HiddenSize)
	norms := (2*int64(cfg.NumLayers) + 1) * h
	matrices := cfg.ParamCount() - int64(cfg.VocabSize)*h - norms
	if want := matrices/32*34 + h/32*34 + 4*norms; got != want {
		t.Errorf("DecodeWeightBytes = %d, want %d", got, want)
	}
}
