package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/tokenizer"
)

// loadTokenizer reads the tokenizer of a model directory, or a
// tokenizer.json given directly.
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		path = filepath.Join(path, "tokenizer.json")
	}
	return tokenizer.Load(path)
}

// loadModel opens a checkpoint, holds its weights on backend be for the
// runtime and reads its tokenizer, logging the time taken.
func loadModel(dir string, be compute.Backend) (*runtime.Model, *tokenizer.Tokenizer, error) {
	ck, err := model.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	defer ck.Close()
	return loadCheckpoint(ck, be)
}

// loadCheckpoint holds an open checkpoint's weights on backend be for the
// runtime and reads its tokenizer.
func loadCheckpoint(ck *model.Checkpoint, be compute.Backend) (*runtime.Model, *tokenizer.Tokenizer, error) {
	start := time.Now()
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		return nil, nil, err
	}
	if tok.VocabSize() > ck.Config.VocabSize {
		return nil, nil, fmt.Errorf("%s: tokenizer has %d tokens but the model's vocab_size is %d", ck.TokenizerPath(), tok.VocabSize(), ck.Config.VocabSize)
	}
	m, err := runtime.LoadOn(be, ck)
	if err != nil {
		return nil, nil, err
	}
	logf("loaded %s (%s, %d layers) in %.2fs", ck.Dir, ck.Config.ModelType, ck.Config.NumLayers, time.Since(start).Seconds())
	return m, tok, nil
}
