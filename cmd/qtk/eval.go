package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/qtk-dev/qtk/eval"
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
	jsonOut    bool
	device     string
}

func newEvalPPLCmd() *cobra.Command {
	var opts pplOptions
	cmd := &cobra.Command{
		Use:   "ppl MODEL --data FILE",
		Short: "Perplexity of a model on a text file",
		Long: `Tokenize FILE once and score it in windows of --ctx tokens.

Protocols:
  hf        non-overlapping windows, every position but the first scored
            (the GPTQ/AWQ evaluation convention)
  llamacpp  chunks whose first token is replaced by BOS when the tokenizer
            adds one; only the second half of each chunk is scored
            (llama.cpp's perplexity tool)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvalPPL(args[0], opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.data, "data", "", "text file to score (required)")
	f.StringVar(&opts.protocol, "protocol", "hf", "scoring protocol: hf or llamacpp")
	f.IntVar(&opts.ctx, "ctx", 512, "window length in tokens")
	f.IntVar(&opts.maxWindows, "max-windows", 0, "score at most this many windows (0: all)")
	f.BoolVar(&opts.jsonOut, "json", false, "print one JSON object")
	addDeviceFlag(f, &opts.device)
	cmd.MarkFlagRequired("data")
	return cmd
}

func runEvalPPL(dir string, opts pplOptions, stdout io.Writer) error {
	protocol, err := eval.ParseProtocol(opts.protocol)
	if err != nil {
		return err
	}
	if opts.maxWindows < 0 {
		return fmt.Errorf("--max-windows must not be negative")
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
	m, tok, err := loadModel(dir, be)
	if err != nil {
		return err
	}
	tokens := tok.Encode(text, true)
	bos, addBOS := tok.BOS()
	logf("%s: %d tokens", opts.data, len(tokens))
	progress := newProgress("windows")
	res, err := eval.Perplexity(m, tokens, eval.Options{
		Protocol:   protocol,
		Ctx:        opts.ctx,
		MaxWindows: opts.maxWindows,
		BOS:        bos,
		AddBOS:     addBOS,
		Progress:   progress.update,
	})
	progress.done()
	if err != nil {
		return fmt.Errorf("%s: %w", opts.data, err)
	}
	if opts.jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "ppl %.4f  (%s protocol, ctx %d, %d windows, %d tokens scored, %.0f tokens/s)\n",
		res.PPL, res.Protocol, res.Ctx, res.Windows, res.TokensScored, res.TokensPerSecond)
	return nil
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
