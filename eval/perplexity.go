// Package eval measures models: perplexity over a text under the protocols
// of the Hugging Face and llama.cpp tooling.
package eval

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/qtk-dev/qtk/internal/fastmath"
	"github.com/qtk-dev/qtk/progress"
	"github.com/qtk-dev/qtk/runtime"
)

// Protocol selects how a token stream is cut into windows and scored.
type Protocol string

const (
	// ProtocolHF cuts the stream into non-overlapping windows of Ctx tokens
	// and scores every position but the first of each window, as the
	// GPTQ/AWQ papers' evaluation code does.
	ProtocolHF Protocol = "hf"
	// ProtocolLlamaCpp cuts chunks of Ctx tokens, replaces each chunk's
	// first token by BOS when the tokenizer adds one, and scores only the
	// second half of each chunk, as llama.cpp's perplexity tool does.
	ProtocolLlamaCpp Protocol = "llamacpp"
)

// ParseProtocol validates a protocol name.
func ParseProtocol(s string) (Protocol, error) {
	switch p := Protocol(s); p {
	case ProtocolHF, ProtocolLlamaCpp:
		return p, nil
	}
	return "", fmt.Errorf("unknown protocol %q (hf or llamacpp)", s)
}

// Options configures a perplexity run.
type Options struct {
	Protocol Protocol
	Ctx      int
	// MaxWindows caps the number of windows scored; 0 scores them all.
	MaxWindows int
	// BOS is prepended to chunks under the llama.cpp protocol when AddBOS.
	BOS    int
	AddBOS bool
	// Progress, when set, receives the windows scored.
	Progress progress.Func
}

// Result is the outcome of a perplexity run.
type Result struct {
	Protocol        Protocol `json:"protocol"`
	Ctx             int      `json:"ctx"`
	PPL             float64  `json:"ppl"`
	MeanNLL         float64  `json:"mean_nll"`
	Windows         int      `json:"windows"`
	TokensScored    int      `json:"tokens_scored"`
	Seconds         float64  `json:"seconds"`
	TokensPerSecond float64  `json:"tokens_per_second"`
}

// progressStep names the scoring of windows in progress reports.
const progressStep = "perplexity windows"

// ErrTooShort reports a token stream shorter than one window.
var ErrTooShort = errors.New("text is shorter than one window")

// Perplexity scores tokens, the whole text tokenized once (with BOS when
// the tokenizer adds one), with m: on the device when m is Resident. Only
// full windows are scored.
func Perplexity(m *runtime.Model, tokens []int, opts Options) (Result, error) {
	ctx := opts.Ctx
	if ctx < 2 {
		return Result{}, fmt.Errorf("context %d too small: need at least 2 tokens", ctx)
	}
	if ctx > m.Config.MaxPositions {
		return Result{}, fmt.Errorf("context %d exceeds the model's max_position_embeddings %d", ctx, m.Config.MaxPositions)
	}
	windows := len(tokens) / ctx
	if windows == 0 {
		return Result{}, fmt.Errorf("%w: %d tokens, window %d", ErrTooShort, len(tokens), ctx)
	}
	if opts.MaxWindows > 0 && windows > opts.MaxWindows {
		windows = opts.MaxWindows
	}
	// first is the first position whose logits are scored; position j
	// predicts token j+1, so the window's last position is never scored.
	var first int
	switch opts.Protocol {
	case ProtocolHF:
		first = 0
	case ProtocolLlamaCpp:
		first = ctx / 2
	default:
		return Result{}, fmt.Errorf("unknown protocol %q", opts.Protocol)
	}
	vocab := m.Config.VocabSize
	state, err := m.NewSequence(ctx)
	if err != nil {
		return Result{}, err
	}
	defer state.Release()
	logits := make([]float32, (ctx-first)*vocab)
	window := make([]int, ctx)
	start := time.Now()
	var nll float64
	scored := 0
	opts.Progress.Report(progressStep, 0, windows)
	for w := 0; w < windows; w++ {
		copy(window, tokens[w*ctx:(w+1)*ctx])
		if opts.Protocol == ProtocolLlamaCpp && opts.AddBOS {
			window[0] = opts.BOS
		}
		state.Reset()
		if err := state.Forward(window, first, logits); err != nil {
			return Result{}, err
		}
		nll += sumNLL(logits, window[first+1:], vocab)
		scored += ctx - 1 - first
		opts.Progress.Report(progressStep, w+1, windows)
	}
	secs := time.Since(start).Seconds()
	mean := nll / float64(scored)
	return Result{
		Protocol:        opts.Protocol,
		Ctx:             ctx,
		PPL:             math.Exp(mean),
		MeanNLL:         mean,
		Windows:         windows,
		TokensScored:    scored,
		Seconds:         secs,
		TokensPerSecond: float64(windows*ctx) / secs,
	}, nil
}

// sumNLL returns Σ -log p(targets[i]) where row i of logits predicts
// targets[i]; rows are split across two goroutines.
func sumNLL(logits []float32, targets []int, vocab int) float64 {
	const workers = 2
	var parts [workers]float64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(targets); i += workers {
				row := logits[i*vocab : (i+1)*vocab]
				parts[w] += fastmath.LogSumExp(row) - float64(row[targets[i]])
			}
		}()
	}
	wg.Wait()
	return parts[0] + parts[1]
}
