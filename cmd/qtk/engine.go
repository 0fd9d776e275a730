package main

import (
	"fmt"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/serving"
	"github.com/qtk-dev/qtk/tokenizer"
	"github.com/spf13/pflag"
)

// engineFlags are the serving engine's settings, shared by the commands
// that run one (bench, serve).
type engineFlags struct {
	pageSize       int
	kvMemory       string
	int8KV         bool
	maxBatchTokens int
	maxRunning     int
	draft          string
	draftTokens    int
}

func (f *engineFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&f.pageSize, "page-size", 16, "KV cache page size in tokens")
	fs.StringVar(&f.kvMemory, "kv-memory", "1GB", "KV cache budget (requests wait, or are preempted and recomputed, when it is full)")
	fs.BoolVar(&f.int8KV, "int8-kv", false, "store the KV cache as int8 with a scale per head vector")
	fs.IntVar(&f.maxBatchTokens, "max-batch-tokens", 512, "tokens per engine step (prefill chunks and decode tokens together)")
	fs.IntVar(&f.maxRunning, "max-running", 256, "sequences per engine step")
	fs.StringVar(&f.draft, "draft", "", "draft model for speculative decoding (must share the tokenizer)")
	fs.IntVar(&f.draftTokens, "draft-tokens", 4, "tokens the draft proposes per step")
}

// engine starts a serving engine for m; static > 0 selects static
// batching of that many requests instead of continuous batching. A draft
// model is held on be, like m.
func (f *engineFlags) engine(m *runtime.Model, tok *tokenizer.Tokenizer, static int, be compute.Backend) (*serving.Engine, error) {
	budget, err := parseSize(f.kvMemory)
	if err != nil {
		return nil, fmt.Errorf("--kv-memory: %w", err)
	}
	if f.pageSize < 1 || f.maxBatchTokens < 1 || f.maxRunning < 1 || f.draftTokens < 1 {
		return nil, fmt.Errorf("--page-size, --max-batch-tokens, --max-running and --draft-tokens must be positive")
	}
	cfg := serving.Config{
		PageSize:       f.pageSize,
		KVMemory:       budget,
		Int8KV:         f.int8KV,
		MaxBatchTokens: f.maxBatchTokens,
		MaxRunning:     f.maxRunning,
		StaticBatch:    static,
	}
	if f.draft != "" {
		if static > 0 {
			return nil, fmt.Errorf("--draft and --static do not combine: static batching does not speculate")
		}
		draft, draftTok, err := loadModel(f.draft, be)
		if err != nil {
			return nil, err
		}
		if err := serving.SameVocabulary(tok, draftTok); err != nil {
			return nil, fmt.Errorf("--draft %s: %w", f.draft, err)
		}
		cfg.Draft, cfg.DraftTokens = draft, f.draftTokens
	}
	return serving.New(m, cfg)
}
