package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/tokenizer"
)

// loadTokenizer reads the tokenizer of a model directory or GGUF file, or a
// tokenizer.json given directly.
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	if isGGUF(path) {
		f, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		tok, err := tokenizer.FromGGUF(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return tok, nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		path = filepath.Join(path, "tokenizer.json")
	}
	return tokenizer.Load(path)
}

// openModel opens the weights and the tokenizer of a model directory or a
// GGUF file.
func openModel(path string) (model.Weights, *tokenizer.Tokenizer, error) {
	if isGGUF(path) {
		g, err := model.OpenGGUF(path)
		if err != nil {
			return nil, nil, err
		}
		tok, err := tokenizer.FromGGUF(g.File)
		if err != nil {
			g.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return g, tok, nil
	}
	ck, err := model.Open(path)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		ck.Close()
		return nil, nil, err
	}
	return ck, tok, nil
}

// loadModel opens a checkpoint directory or GGUF file, holds its weights on
// backend be for the runtime and reads its tokenizer, logging the time
// taken to stderr.
func loadModel(path string, be compute.Backend) (*runtime.Model, *tokenizer.Tokenizer, error) {
	w, tok, err := openModel(path)
	if err != nil {
		return nil, nil, err
	}
	defer w.Close()
	return loadWeights(path, w, tok, be)
}

// loadCheckpoint holds an open checkpoint's weights on backend be for the
// runtime and reads its tokenizer.
func loadCheckpoint(ck *model.Checkpoint, be compute.Backend) (*runtime.Model, *tokenizer.Tokenizer, error) {
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		return nil, nil, err
	}
	return loadWeights(ck.Dir, ck, tok, be)
}

// loadWeights holds w, read from path, on backend be for the runtime after
// checking its tokenizer against it.
func loadWeights(path string, w model.Weights, tok *tokenizer.Tokenizer, be compute.Backend) (*runtime.Model, *tokenizer.Tokenizer, error) {
	start := time.Now()
	cfg := w.ModelConfig()
	if tok.VocabSize() > cfg.VocabSize {
		return nil, nil, fmt.Errorf("%s: tokenizer has %d tokens but the model's vocabulary is %d", path, tok.VocabSize(), cfg.VocabSize)
	}
	m, err := runtime.LoadOn(be, w)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	logf("loaded %s (%s, %d layers) in %.2fs", path, cfg.ModelType, cfg.NumLayers, time.Since(start).Seconds())
	if _, ok := be.(compute.Resident); ok && !m.Resident() {
		logf("%s: o_proj or MLP biases keep the layers' orchestration on the CPU (only the projections run on %s)", path, be.Name())
	}
	return m, tok, nil
}
