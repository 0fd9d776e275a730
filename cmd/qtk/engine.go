package main

import (
	"fmt"
	"os"

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
	draftVocab     int
	draftVocabText string
	draftMinProb   float64
}

func (f *engineFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&f.pageSize, "page-size", 16, "KV cache page size in tokens")
	fs.StringVar(&f.kvMemory, "kv-memory", "1GB", "KV cache budget (requests wait, or are preempted and recomputed, when it is full)")
	fs.BoolVar(&f.int8KV, "int8-kv", false, "store the KV cache as int8 with a scale per head vector")
	fs.IntVar(&f.maxBatchTokens, "max-batch-tokens", 512, "tokens per engine step (prefill chunks and decode tokens together)")
	fs.IntVar(&f.maxRunning, "max-running", 256, "sequences per engine step")
	fs.StringVar(&f.draft, "draft", "", "draft model for speculative decoding (must share the tokenizer)")
	fs.IntVar(&f.draftTokens, "draft-tokens", 4, "tokens the draft proposes per step")
	fs.Float64Var(&f.draftMinProb, "draft-min-prob", 0, "stop drafting for a step at a proposal the draft gives less than this probability")
	fs.IntVar(&f.draftVocab, "draft-vocab", 0, "the draft proposes only the N tokens most frequent in --draft-vocab-text (0: the whole vocabulary)")
	fs.StringVar(&f.draftVocabText, "draft-vocab-text", "", "text whose token frequencies choose the draft's tokens for --draft-vocab")
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
	if f.draftMinProb < 0 || f.draftMinProb > 1 {
		return nil, fmt.Errorf("--draft-min-prob %g: want a probability in [0, 1]", f.draftMinProb)
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
		draft, err := f.loadDraft(tok, be)
		if err != nil {
			return nil, err
		}
		cfg.Draft, cfg.DraftTokens, cfg.DraftMinProb = draft, f.draftTokens, f.draftMinProb
	}
	return serving.New(m, cfg)
}

// loadDraft loads the draft model, checks that it shares the target's
// tokenizer tok and restricts its output layer as --draft-vocab asks.
func (f *engineFlags) loadDraft(tok *tokenizer.Tokenizer, be compute.Backend) (*runtime.Model, error) {
	if (f.draftVocab > 0) != (f.draftVocabText != "") || f.draftVocab < 0 {
		return nil, fmt.Errorf("--draft-vocab N and --draft-vocab-text FILE go together (N > 0)")
	}
	w, draftTok, err := openModel(f.draft)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if err := serving.SameVocabulary(tok, draftTok); err != nil {
		return nil, fmt.Errorf("--draft %s: %w", f.draft, err)
	}
	draft, _, err := loadWeights(f.draft, w, draftTok, be)
	if err != nil || f.draftVocab == 0 {
		return draft, err
	}
	text, err := os.ReadFile(f.draftVocabText)
	if err != nil {
		return nil, fmt.Errorf("--draft-vocab-text: %w", err)
	}
	ids, err := serving.FrequentTokens(tok, string(text), f.draftVocab)
	if err != nil {
		return nil, fmt.Errorf("--draft-vocab-text %s: %w", f.draftVocabText, err)
	}
	if draft, err = draft.WithOutputs(be, w, ids); err != nil {
		return nil, fmt.Errorf("--draft %s: %w", f.draft, err)
	}
	logf("draft proposes the %d tokens most frequent in %s", len(ids), f.draftVocabText)
	return draft, nil
}
