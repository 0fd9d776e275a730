package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/convert"
	"github.com/qtk-dev/qtk/eval"
	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/gate"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/report"
	"github.com/qtk-dev/qtk/tokenizer"
	"github.com/spf13/cobra"
)

type quantizeOptions struct {
	out          string
	force        bool
	resume       bool
	format       string
	ggufType     string
	bits         int
	groupSize    int
	sym          bool
	calib        string
	samples      int
	seqLen       int
	seed         uint64
	clip         bool
	damp         float64
	blockSize    int
	actOrder     bool
	staticGroups bool
	noTrueSeq    bool
	awqGPTQ      bool
	tf32         bool
	refit        bool
	maxShard     string
	evalData     string
	maxPPLDelta  string
	reportDir    string
	jsonOut      bool
	device       string
}

func newQuantizeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quantize",
		Short: "Quantize a checkpoint's linear layers to INT4/INT8",
	}
	for _, m := range []struct {
		method convert.Method
		short  string
	}{
		{convert.RTN, "Round to nearest (no calibration)"},
		{convert.GPTQ, "GPTQ: Hessian-based error compensation on calibration data"},
		{convert.AWQ, "AWQ: activation-aware channel scaling and clipping on calibration data"},
	} {
		cmd.AddCommand(newQuantizeMethodCmd(m.method, m.short))
	}
	return cmd
}

func newQuantizeMethodCmd(method convert.Method, short string) *cobra.Command {
	var opts quantizeOptions
	cmd := &cobra.Command{
		Use:   string(method) + " MODEL -o OUT",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuantize(method, args[0], opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.out, "output", "o", "", "output directory (required)")
	f.BoolVar(&opts.force, "force", false, "replace an existing output directory (or an interrupted run's layers)")
	f.BoolVar(&opts.resume, "resume", false, "continue an interrupted run from its finished layers (same model, options and calibration data)")
	f.StringVar(&opts.format, "format", "gptq", "output format: gptq, awq, compressed-tensors, or gguf (gptq and awq only; a file)")
	if method != convert.RTN {
		f.StringVar(&opts.ggufType, "type", "q4_k_m", "with --format gguf: q4_0 or q4_k_m")
	}
	f.IntVar(&opts.bits, "bits", 4, "bits per weight: 4 or 8")
	f.IntVar(&opts.groupSize, "group-size", 128, "input channels per scale (32, 64, 128, ...; -1: one per output channel)")
	f.BoolVar(&opts.sym, "sym", false, "symmetric quantization (default asymmetric)")
	f.BoolVar(&opts.clip, "clip", method != convert.RTN, "search each group's clipping range (AWQ: the reference auto_clip; RTN, GPTQ: weighted MSE)")
	f.StringVar(&opts.evalData, "eval", "", "text file: measure perplexity of the original and the quantized model")
	f.StringVar(&opts.maxPPLDelta, "max-ppl-delta", "", "with --eval, fail (exit 3) when perplexity rises more than this (\"1%\" or \"0.01\")")
	f.StringVar(&opts.reportDir, "report", "", "write report.json, report.md and chart.png into this directory")
	f.BoolVar(&opts.jsonOut, "json", false, "print one JSON object (docs/json.md)")
	addDeviceFlag(f, &opts.device)
	f.StringVar(&opts.maxShard, "max-shard-size", "5GB", "largest weight file; bigger checkpoints are sharded with an index (e.g. 500MB, 2GB)")
	if method != convert.RTN {
		f.StringVar(&opts.calib, "calib", "", "calibration text file (required)")
		f.IntVar(&opts.samples, "samples", 128, "calibration windows")
		f.IntVar(&opts.seqLen, "seqlen", 512, "tokens per calibration window")
		f.Uint64Var(&opts.seed, "seed", 0, "seed of the calibration window offsets")
		cmd.MarkFlagRequired("calib")
	}
	if method == convert.AWQ {
		f.BoolVar(&opts.awqGPTQ, "gptq", false, "round the AWQ-scaled weights with GPTQ instead of round-to-nearest")
		f.BoolVar(&opts.tf32, "tf32", true, "on a GPU, run the searches' products in TF32 on the tensor cores, several times faster; --tf32=false keeps them in float32 (no effect on the CPU)")
	}
	if method != convert.RTN {
		f.BoolVar(&opts.refit, "refit-scales", method == convert.GPTQ, "GPTQ: re-solve group scales for the chosen codes by least squares on the calibration error")
	}
	if method == convert.GPTQ {
		f.Float64Var(&opts.damp, "damp", 0.01, "Hessian damping as a fraction of its mean diagonal (raised automatically when needed)")
		f.IntVar(&opts.blockSize, "block-size", 128, "columns per lazy batch update")
		f.BoolVar(&opts.actOrder, "act-order", true, "quantize columns by decreasing Hessian diagonal (desc_act, writes g_idx)")
		f.BoolVar(&opts.staticGroups, "static-groups", false, "fix group parameters before the sweep (with --act-order)")
		f.BoolVar(&opts.noTrueSeq, "no-true-sequential", false, "calibrate all projections of a layer from one pass")
	}
	cmd.MarkFlagRequired("output")
	return cmd
}

func runQuantize(method convert.Method, dir string, opts quantizeOptions, stdout io.Writer) error {
	maxDelta := -1.0
	if opts.maxPPLDelta != "" {
		var err error
		if maxDelta, err = gate.ParseFraction(opts.maxPPLDelta); err != nil {
			return fmt.Errorf("--max-ppl-delta %w", err)
		}
	}
	maxShard, err := parseSize(opts.maxShard)
	if err != nil {
		return fmt.Errorf("--max-shard-size: %w", err)
	}
	if maxDelta >= 0 && opts.evalData == "" {
		return fmt.Errorf("--max-ppl-delta needs --eval")
	}
	be, err := openDevice(opts.device)
	if err != nil {
		return err
	}
	defer be.Close()
	var evalText string
	if opts.evalData != "" {
		if evalText, err = readText(opts.evalData); err != nil {
			return err
		}
	}
	ck, err := model.Open(dir)
	if err != nil {
		return err
	}
	defer ck.Close()
	if ck.Quant != nil {
		return fmt.Errorf("%s: already quantized (%s); quantize the original checkpoint", dir, ck.Quant.Format)
	}
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		return err
	}
	copts := convert.Options{
		Method: method,
		Format: hf.Format(opts.format),
		Scheme: quant.Scheme{Bits: opts.bits, GroupSize: opts.groupSize, Symmetric: opts.sym},
		Calib:  calibrate.Options{Samples: opts.samples, SeqLen: opts.seqLen, Seed: opts.seed},
		Clip:   opts.clip,
		GPTQ: convert.GPTQOptions{
			Damp: opts.damp, BlockSize: opts.blockSize, ActOrder: opts.actOrder,
			StaticGroups: opts.staticGroups, TrueSequential: !opts.noTrueSeq, RefitScales: opts.refit,
		},
		AWQThenGPTQ:   opts.awqGPTQ,
		AWQTF32:       opts.tf32,
		MaxShardBytes: maxShard,
		Resume:        opts.resume,
		Log:           logf,
		Progress:      showProgress,
	}
	if opts.actOrder && !opts.staticGroups && hf.Format(opts.format) == hf.AWQ {
		opts.staticGroups = true
		copts.GPTQ.StaticGroups = true
		logf("act-order into the AWQ format, which stores no g_idx: using static groups")
	}
	if method != convert.RTN {
		text, err := calibrate.ReadText(opts.calib)
		if err != nil {
			return err
		}
		copts.Tokens = tok.Encode(text, true)
		if copts.Tokens == nil {
			return fmt.Errorf("%s: no tokens", opts.calib)
		}
	}

	copts.Backend = be

	ctx, stop := interruptible()
	defer stop()
	if opts.format == "gguf" {
		return quantizeGGUF(ctx, ck, opts, copts, stdout)
	}
	rep, err := convert.Quantize(ctx, ck, opts.out, opts.force, copts)
	if err != nil {
		var stopped *convert.Interrupted
		switch {
		case errors.As(err, &stopped):
			return exitError{code: exitInterrupted, err: err}
		case ctx.Err() != nil:
			return exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; nothing was written to %s", opts.out)}
		}
		return err
	}
	peak := peakRSS()
	logf("wrote %s (%s, %s) in %.1fs, peak memory %.0f MB", opts.out, rep.Method, rep.Format, rep.Seconds, float64(peak)/1e6)

	run := report.New("quantize")
	run.Quantize = &report.QuantizeInfo{
		Method: string(rep.Method), Format: string(rep.Format),
		Bits: copts.Scheme.Bits, GroupSize: copts.Scheme.GroupSize, Symmetric: copts.Scheme.Symmetric,
		Layers: rep.Layers, CalibrationTokens: rep.CalibrationTokens, Seconds: rep.Seconds, PeakRSSBytes: peak,
	}
	noteDevice(run.Quantize, copts.Backend)
	if opts.evalData != "" {
		// hf protocol, 512-token windows: the GPTQ and AWQ papers' setting.
		run.Eval = &report.EvalSettings{Data: opts.evalData, Protocol: eval.ProtocolHF, Ctx: min(512, ck.Config.MaxPositions)}
	}
	for _, path := range []string{dir, opts.out} {
		v, err := measure(path, evalText, run.Eval, copts.Backend)
		if err != nil {
			return err
		}
		run.Variants = append(run.Variants, v)
	}
	report.UniqueNames(run.Variants)
	run.Compare(0, maxDelta)
	return finish(run, opts.reportDir, opts.jsonOut, stdout)
}

// quantizeGGUF writes a calibrated GGUF file.
func quantizeGGUF(ctx context.Context, ck *model.Checkpoint, opts quantizeOptions, copts convert.Options, stdout io.Writer) error {
	if opts.evalData != "" {
		return fmt.Errorf("--eval: measure a GGUF output with qtk eval ppl, or with llama.cpp (tools/llamacpp)")
	}
	if opts.resume {
		return fmt.Errorf("--resume applies to checkpoint outputs; a GGUF file is written in one run")
	}
	rep, err := convert.QuantizeGGUF(ctx, ck, opts.out, convert.GGUFOptions{Type: opts.ggufType, Force: opts.force, Log: logf, Progress: showProgress}, copts)
	if err != nil {
		if ctx.Err() != nil {
			return exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; nothing was written to %s", opts.out)}
		}
		return err
	}
	peak := peakRSS()
	logf("wrote %s (%s, calibrated %s, %d bytes) in %.1fs, peak memory %.0f MB", opts.out, copts.Method, rep.Type, rep.Bytes, rep.Seconds, float64(peak)/1e6)
	run := report.New("quantize")
	run.Quantize = &report.QuantizeInfo{
		Method: string(copts.Method), Format: "gguf " + rep.Type, Bits: 4, GroupSize: 32, // blocks (Q4_0) and sub-blocks (Q4_K) of 32
		Layers: ck.Config.NumLayers, Seconds: rep.Seconds, PeakRSSBytes: peak,
	}
	noteDevice(run.Quantize, copts.Backend)
	base, err := measure(ck.Dir, "", nil, copts.Backend)
	if err != nil {
		return err
	}
	out, err := report.DescribeFile(opts.out, "gguf "+rep.Type, ck.Config.ParamCount())
	if err != nil {
		return err
	}
	run.Variants = append(run.Variants, base, out)
	return finish(run, opts.reportDir, opts.jsonOut, stdout)
}

// interruptible returns a context cancelled by the first Ctrl-C or
// SIGTERM, which lets the layer in progress finish and be saved; a second
// signal stops the process at once (the layers saved so far stay).
func interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		if context.Cause(ctx) != context.Canceled {
			logf("stopping after the current layer (interrupt again to stop now)")
		}
		stop() // restores the default handling for the second signal
	}()
	return ctx, stop
}

// parseSize reads a byte count with an optional KB, MB or GB suffix
// (powers of 1000, as transformers' max_shard_size).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(s), u.suffix) {
			s, mult = s[:len(s)-len(u.suffix)], u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("want a positive size such as 500MB or 2GB")
	}
	return int64(v * float64(mult)), nil
}

// peakRSS is the most resident memory the process has used so far, in
// bytes (0 where the platform does not say).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024 // Linux reports kilobytes
}
