package main

import (
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/qtk-dev/qtk/eval"
	"github.com/qtk-dev/qtk/gate"
	"github.com/qtk-dev/qtk/report"
	"github.com/spf13/cobra"
)

func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure a model",
	}
	cmd.AddCommand(newEvalPPLCmd())
	return cmd
}

type pplOptions struct {
	data       string
	protocol   string
	ctx        int
	maxWindows int
	maxDelta   string
	reportDir  string
	jsonOut    bool
	device     string
}

func newEvalPPLCmd() *cobra.Command {
	var opts pplOptions
	cmd := &cobra.Command{
		Use:   "ppl BASE [CANDIDATE...] --data FILE",
		Short: "Perplexity of models on a text file; gate candidates against a base",
		Long: `Tokenize FILE once per model and score it in windows of --ctx tokens.
With candidates, each is compared with the first model (the base);
--max-delta fails the run (exit 3) when a candidate's perplexity is more
than that much above the base's.

Protocols:
  hf        non-overlapping windows, every position but the first scored
            (the GPTQ/AWQ evaluation convention)
  llamacpp  chunks whose first token is replaced by BOS when the tokenizer
            adds one; only the second half of each chunk is scored
            (llama.cpp's perplexity tool)`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvalPPL(args, opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.data, "data", "", "text file to score (required)")
	f.StringVar(&opts.protocol, "protocol", "hf", "scoring protocol: hf or llamacpp")
	f.IntVar(&opts.ctx, "ctx", 512, "window length in tokens")
	f.IntVar(&opts.maxWindows, "max-windows", 0, "score at most this many windows (0: all)")
	f.StringVar(&opts.maxDelta, "max-delta", "", "fail (exit 3) when a candidate's perplexity exceeds the base's by more than this (\"1%\" or \"0.01\")")
	f.StringVar(&opts.reportDir, "report", "", "write report.json, report.md and chart.png into this directory")
	f.BoolVar(&opts.jsonOut, "json", false, "print one JSON object (docs/json.md)")
	addDeviceFlag(f, &opts.device)
	cmd.MarkFlagRequired("data")
	return cmd
}

func runEvalPPL(dirs []string, opts pplOptions, stdout io.Writer) error {
	protocol, err := eval.ParseProtocol(opts.protocol)
	if err != nil {
		return err
	}
	if opts.maxWindows < 0 {
		return fmt.Errorf("--max-windows must not be negative")
	}
	maxDelta := -1.0
	if opts.maxDelta != "" {
		if len(dirs) < 2 {
			return fmt.Errorf("--max-delta needs a base and at least one candidate")
		}
		if maxDelta, err = gate.ParseFraction(opts.maxDelta); err != nil {
			return fmt.Errorf("--max-delta %w", err)
		}
	}
	text, err := readText(opts.data)
	if err != nil {
		return err
	}
	be, err := openDevice(opts.device)
	if err != nil {
		return err
	}
	defer be.Close()
	run := report.New("eval ppl")
	run.Eval = &report.EvalSettings{Data: opts.data, Protocol: protocol, Ctx: opts.ctx, MaxWindows: opts.maxWindows}
	for _, dir := range dirs {
		v, err := measure(dir, text, run.Eval, be)
		if err != nil {
			return err
		}
		run.Variants = append(run.Variants, v)
	}
	report.UniqueNames(run.Variants)
	if len(dirs) > 1 {
		run.Compare(0, maxDelta)
	}
	return finish(run, opts.reportDir, opts.jsonOut, stdout)
}

// finish prints the run (JSON or one line per variant), writes its report
// directory and returns the gate failure, if any. The report is written
// whether or not the gates passed.
func finish(run *report.Run, reportDir string, jsonOut bool, stdout io.Writer) error {
	if jsonOut {
		if err := run.WriteJSON(stdout); err != nil {
			return err
		}
	} else {
		printVariants(run, stdout)
	}
	if reportDir != "" {
		if err := run.WriteDir(reportDir); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
		logf("wrote the report to %s", reportDir)
	}
	return run.Err()
}

// printVariants prints one line per measured variant.
func printVariants(run *report.Run, stdout io.Writer) {
	for _, v := range run.Variants {
		res := v.Perplexity
		if res == nil {
			continue
		}
		if len(run.Variants) > 1 {
			fmt.Fprintf(stdout, "%s: ", v.Name)
		}
		fmt.Fprintf(stdout, "ppl %.4f", res.PPL)
		if v.PPLDelta != nil {
			fmt.Fprintf(stdout, " (%+.2f%% vs %s)", 100**v.PPLDelta, run.Base)
		}
		fmt.Fprintf(stdout, "  (%s protocol, ctx %d, %d windows, %d tokens scored, %.0f tokens/s)\n",
			res.Protocol, res.Ctx, res.Windows, res.TokensScored, res.TokensPerSecond)
	}
}

// readText reads a UTF-8 text file, refusing empty or binary input.
func readText(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if info.IsDir() {
		return "", fmt.Errorf("%s: is a directory, expected a text file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(data) == 0 {
		return "", fmt.Errorf("%s: file is empty", path)
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("%s: not UTF-8 text", path)
	}
	return string(data), nil
}
