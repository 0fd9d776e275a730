package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/qtk-dev/qtk/gate"
	"github.com/qtk-dev/qtk/report"
	"io"
	"os"
	"text/tabwriter"

	"github.com/qtk-dev/qtk/bench"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/serving"
	"github.com/qtk-dev/qtk/sizing"
	"github.com/qtk-dev/qtk/tokenizer"
	"github.com/spf13/cobra"
)

type benchOptions struct {
	engine      engineFlags
	concurrency int
	requests    int
	promptLen   int
	genLen      int
	lengths     string
	text        string
	seed        uint64
	temperature float64
	static      bool
	minTPS      float64
	jsonOut     bool
	device      string
}

func newBenchCmd() *cobra.Command {
	var opts benchOptions
	cmd := &cobra.Command{
		Use:   "bench MODEL",
		Short: "Measure serving throughput, latency and KV cache use under concurrent load",
		Long: `bench runs a closed loop of --concurrency clients, each sending its next
request when the previous one ends, through the serving engine (paged KV
cache, continuous batching, optional speculative decoding), and reports
throughput, time to first token, time per token and KV cache use.
Prompt and generation lengths are drawn around --prompt-len and --gen-len
(--lengths); generation runs to its length (no stop token).

With --device on a GPU that holds whole decoder layers, the whole forward
pass runs there, one sequence at a time (--concurrency 1): the batch-1
decode speed, reported with the weight bytes each decode step reads and
the bandwidth that makes at the median time per token.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(args[0], opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	opts.engine.register(f)
	f.IntVar(&opts.concurrency, "concurrency", 32, "concurrent clients")
	f.IntVar(&opts.requests, "requests", 64, "requests in all")
	f.IntVar(&opts.promptLen, "prompt-len", 128, "mean prompt length in tokens")
	f.IntVar(&opts.genLen, "gen-len", 128, "mean generation length in tokens")
	f.StringVar(&opts.lengths, "lengths", bench.Exponential, "length distribution: exponential (capped at 4x the mean), uniform (1 to 2x the mean) or fixed")
	f.StringVar(&opts.text, "text", "", "text file to cut prompts from (default: random token ids)")
	f.Uint64Var(&opts.seed, "seed", 1, "seed of the workload (and of sampling)")
	f.Float64Var(&opts.temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	f.BoolVar(&opts.static, "static", false, "static batching instead: wait for a full batch, pad to the longest, run until all are done")
	f.Float64Var(&opts.minTPS, "min-tokens-per-sec", 0, "fail (exit 3) when total throughput is below this many tokens/s")
	f.BoolVar(&opts.jsonOut, "json", false, "print one JSON object")
	f.StringVar(&opts.device, "device", "cpu", "where to compute: cpu, cuda or cuda:N (see above), or auto")
	return cmd
}

func runBench(dir string, opts benchOptions, stdout io.Writer) error {
	if opts.concurrency < 1 || opts.requests < 1 {
		return fmt.Errorf("--concurrency and --requests must be positive")
	}
	be, err := openDevice(opts.device)
	if err != nil {
		return err
	}
	defer be.Close()
	w, tok, err := openModel(dir)
	if err != nil {
		return err
	}
	defer w.Close()
	weightBytes, err := sizing.DecodeWeightBytes(w)
	if err != nil {
		return err
	}
	m, tok, err := loadWeights(dir, w, tok, be)
	if err != nil {
		return err
	}
	work := bench.Workload{
		Requests:     opts.requests,
		PromptLen:    opts.promptLen,
		GenLen:       opts.genLen,
		Lengths:      opts.lengths,
		Seed:         opts.seed,
		Vocab:        min(tok.VocabSize(), m.Config.VocabSize),
		MaxPositions: m.Config.MaxPositions,
		Sampling:     serving.Sampling{Temperature: opts.temperature, Seed: opts.seed},
	}
	if opts.text != "" {
		raw, err := os.ReadFile(opts.text)
		if err != nil {
			return err
		}
		if work.Text = tok.Encode(string(raw), false); len(work.Text) == 0 {
			return fmt.Errorf("%s: no tokens", opts.text)
		}
	}
	reqs, err := work.Build()
	if err != nil {
		return err
	}
	gen, batching, kvPerToken, err := benchGenerator(m, tok, reqs, opts, be)
	if err != nil {
		return err
	}
	defer gen.Close()
	logf("bench: %d requests from %d clients, %s lengths around %d prompt + %d generated tokens", opts.requests, opts.concurrency, opts.lengths, opts.promptLen, opts.genLen)
	res, err := bench.Run(context.Background(), gen, reqs, bench.Options{
		Concurrency:   opts.concurrency,
		BytesPerToken: kvPerToken,
		MaxPositions:  m.Config.MaxPositions,
	})
	if err != nil {
		return err
	}
	rep := benchReport{
		SchemaVersion:       report.SchemaVersion,
		Command:             "bench",
		Model:               dir,
		Device:              be.Name(),
		Draft:               opts.engine.draft,
		Batching:            batching,
		Lengths:             opts.lengths,
		WeightBytesPerToken: weightBytes,
		Result:              res,
	}
	if opts.concurrency == 1 && res.MsPerToken.P50 > 0 {
		rep.WeightBytesPerS = float64(weightBytes) * 1000 / res.MsPerToken.P50
	}
	if opts.minTPS > 0 {
		rep.Gates = []gate.Check{gate.MinTokensPerSecond(dir, res.ThroughputTokensPerS, opts.minTPS)}
	}
	if opts.jsonOut {
		if err := json.NewEncoder(stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		printBench(stdout, rep, m)
	}
	return gate.Failed(rep.Gates)
}

// generator is a serving.Generator that bench and generate stop when done.
type generator interface {
	serving.Generator
	Close()
}

// benchGenerator starts what bench drives: Single, one sequence at a time
// with the whole forward pass on the device, when m is resident there;
// else the serving engine. It says which batching that is and the KV
// cache bytes per token.
func benchGenerator(m *runtime.Model, tok *tokenizer.Tokenizer, reqs []serving.Request, opts benchOptions, be compute.Backend) (generator, string, int64, error) {
	if m.Resident() {
		if opts.concurrency != 1 || opts.static || opts.engine.draft != "" {
			return nil, "", 0, fmt.Errorf("on %s the whole forward pass runs one sequence at a time: use --concurrency 1, without --static or --draft", be.Name())
		}
		longest := 0
		for _, r := range reqs {
			longest = max(longest, len(r.Prompt)+r.MaxTokens)
		}
		s, err := serving.NewSingle(m, longest)
		return s, "single", runtime.KVPageBytes(m.Config, 1, false), err
	}
	static := 0
	if opts.static {
		static = opts.concurrency
	}
	e, err := opts.engine.engine(m, tok, static, be)
	if err != nil {
		return nil, "", 0, err
	}
	batching := "continuous"
	if opts.static {
		batching = "static"
	}
	mt := e.Metrics()
	return e, batching, mt.KVBytes / int64(mt.KVPages*opts.engine.pageSize), nil
}

// benchReport is the JSON output of qtk bench (docs/json.md).
type benchReport struct {
	SchemaVersion int    `json:"schema_version"`
	Command       string `json:"command"`
	Model         string `json:"model"`
	Device        string `json:"device"`
	Draft         string `json:"draft,omitempty"`
	Batching      string `json:"batching"`
	Lengths       string `json:"lengths"`
	// WeightBytesPerToken is what one decode step of one sequence reads
	// of the weights (sizing.DecodeWeightBytes); WeightBytesPerS that at
	// the median time per token, with --concurrency 1 only.
	WeightBytesPerToken int64   `json:"weight_bytes_per_token"`
	WeightBytesPerS     float64 `json:"weight_bytes_per_s,omitempty"`
	bench.Result
	Gates []gate.Check `json:"gates,omitempty"`
}

func printBench(w io.Writer, r benchReport, m *runtime.Model) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, args...)...)
	}
	row("device", "%s", r.Device)
	row("batching", "%s", r.Batching)
	row("requests", "%d (%d concurrent), %d prompt + %d generated tokens in %.2fs", r.Requests, r.Concurrency, r.PromptTokens, r.GeneratedTokens, r.Seconds)
	row("throughput", "%.1f tokens/s (prompt + generated)", r.ThroughputTokensPerS)
	row("decode", "%.1f generated tokens/s", r.DecodeTokensPerS)
	row("CPU time", "%.2fs (%.1f tokens per CPU-second)", r.CPUSeconds, r.TokensPerCPUSecond)
	row("prefill", "%.1f prompt tokens/s per request (prompt / time to first token)", r.PrefillTokensPerS)
	row("time to first token", "p50 %.1f ms, p99 %.1f ms", r.TTFTms.P50, r.TTFTms.P99)
	row("time per token", "p50 %.2f ms, p99 %.2f ms", r.MsPerToken.P50, r.MsPerToken.P99)
	row("weights per token", "%s read by each decode step", mib(r.WeightBytesPerToken))
	if r.WeightBytesPerS > 0 {
		row("weight bandwidth", "%.1f GB/s at the median time per token", r.WeightBytesPerS/1e9)
	}
	if kv := r.KV; kv.Samples > 0 {
		row("KV cache in use", "%s mean, %s peak, for %s of tokens held (%.3fx)", mib(kv.MeanBytesUsed), mib(kv.PeakBytesUsed), mib(kv.MeanBytesHeld), kv.UsedOverHeld)
		row("KV max-length prealloc", "%s for %d x %d positions (in use: %.3fx of it)", mib(kv.PreallocBytes), r.Concurrency, m.Config.MaxPositions, kv.UsedOverPrealloc)
	}
	row("preemptions", "%d", r.Preemptions)
	if r.DraftTokens > 0 {
		row("draft acceptance", "%.3f of %d proposed tokens", r.Acceptance, r.DraftTokens)
	}
	tw.Flush()
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
