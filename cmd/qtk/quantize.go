package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/qtk-dev/qtk/compute"
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
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/tokenizer"
	"github.com/spf13/cobra"
)

// Exit codes besides 1 (any error).
const (
	exitGate        = 3   // a quality gate (--max-ppl-delta) failed
	exitInterrupted = 130 // Ctrl-C or SIGTERM
)

type quantizeOptions struct {
	out          string
	force        bool
	format       string
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
	refit        bool
	maxShard     string
	evalData     string
	maxPPLDelta  string
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
	f.BoolVar(&opts.force, "force", false, "replace an existing output directory")
	f.StringVar(&opts.format, "format", "gptq", "output format: gptq, awq or compressed-tensors")
	f.IntVar(&opts.bits, "bits", 4, "bits per weight: 4 or 8")
	f.IntVar(&opts.groupSize, "group-size", 128, "input channels per scale (32, 64, 128, ...; -1: one per output channel)")
	f.BoolVar(&opts.sym, "sym", false, "symmetric quantization (default asymmetric)")
	f.BoolVar(&opts.clip, "clip", method != convert.RTN, "search each group's clipping range (AWQ: the reference auto_clip; RTN, GPTQ: weighted MSE)")
	f.StringVar(&opts.evalData, "eval", "", "text file: measure perplexity of the original and the quantized model")
	f.StringVar(&opts.maxPPLDelta, "max-ppl-delta", "", "with --eval, fail (exit 3) when perplexity rises more than this (\"1%\" or \"0.01\")")
	f.BoolVar(&opts.jsonOut, "json", false, "print one JSON object with the results")
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
	maxDelta, err := parseDelta(opts.maxPPLDelta)
	if err != nil {
		return err
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
		MaxShardBytes: maxShard,
		Log:           logf,
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := convert.Quantize(ctx, ck, opts.out, opts.force, copts)
	if err != nil {
		if ctx.Err() != nil {
			return exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; nothing was written to %s", opts.out)}
		}
		return err
	}
	peak := peakRSS()
	logf("wrote %s (%s, %s) in %.1fs, peak memory %.0f MB", opts.out, rep.Method, rep.Format, rep.Seconds, float64(peak)/1e6)
	result := map[string]any{"quantize": rep, "output": opts.out, "peak_rss_bytes": peak, "device": be.Name()}
	if dev := be.PeakMemory(); dev > 0 {
		logf("peak device memory in use %.2f GiB", float64(dev)/(1<<30))
		result["peak_device_bytes"] = dev
	}
	if opts.evalData == "" {
		if opts.jsonOut {
			return json.NewEncoder(stdout).Encode(result)
		}
		return nil
	}

	base, err := pplOf(ck, tok, evalText, be)
	if err != nil {
		return err
	}
	qck, err := model.Open(opts.out)
	if err != nil {
		return err
	}
	defer qck.Close()
	quantized, err := pplOf(qck, tok, evalText, be)
	if err != nil {
		return err
	}
	delta := quantized.PPL/base.PPL - 1
	result["ppl_original"], result["ppl_quantized"], result["ppl_delta"] = base.PPL, quantized.PPL, delta
	if opts.jsonOut {
		if err := json.NewEncoder(stdout).Encode(result); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "ppl original %.4f, quantized %.4f (%+.2f%%)\n", base.PPL, quantized.PPL, 100*delta)
	}
	if maxDelta >= 0 && delta > maxDelta {
		return exitError{code: exitGate, err: fmt.Errorf("perplexity rose %.2f%%, more than the allowed %.2f%%", 100*delta, 100*maxDelta)}
	}
	return nil
}

// pplOf measures perplexity under the hf protocol with 512-token windows.
func pplOf(ck *model.Checkpoint, tok *tokenizer.Tokenizer, text string, be compute.Backend) (eval.Result, error) {
	m, err := runtime.LoadOn(be, ck)
	if err != nil {
		return eval.Result{}, err
	}
	bos, addBOS := tok.BOS()
	ctx := min(512, m.Config.MaxPositions)
	progress := newProgress("eval " + ck.Dir)
	defer progress.done()
	return eval.Perplexity(m, tok.Encode(text, true), eval.Options{Protocol: eval.ProtocolHF, Ctx: ctx, BOS: bos, AddBOS: addBOS, Progress: progress.update})
}

// parseDelta reads "1%" or "0.01" as 0.01; "" gives -1 (no gate).
func parseDelta(s string) (float64, error) {
	if s == "" {
		return -1, nil
	}
	percent := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v < 0 {
		return 0, errors.New("--max-ppl-delta must be a non-negative number or percentage, like 1% or 0.01")
	}
	if percent {
		v /= 100
	}
	return v, nil
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
