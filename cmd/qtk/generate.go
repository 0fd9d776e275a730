package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/qtk-dev/qtk/runtime"
	"github.com/spf13/cobra"
)

type generateOptions struct {
	prompt      string
	tokens      int
	temperature float64
	topP        float64
	seed        uint64
	jsonOut     bool
	device      string
}

func newGenerateCmd() *cobra.Command {
	var opts generateOptions
	cmd := &cobra.Command{
		Use:   "generate MODEL -p PROMPT",
		Short: "Continue a prompt (greedy unless --temperature is set)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenerate(args[0], opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.prompt, "prompt", "p", "", "prompt text (required)")
	f.IntVarP(&opts.tokens, "tokens", "n", 32, "number of tokens to generate")
	f.Float64Var(&opts.temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	f.Float64Var(&opts.topP, "top-p", 1, "nucleus sampling threshold")
	f.Uint64Var(&opts.seed, "seed", 0, "random seed for sampling")
	f.BoolVar(&opts.jsonOut, "json", false, "print one JSON object with the ids and text")
	addDeviceFlag(f, &opts.device)
	cmd.MarkFlagRequired("prompt")
	return cmd
}

func runGenerate(dir string, opts generateOptions, stdout io.Writer) error {
	if opts.tokens < 1 {
		return fmt.Errorf("-n must be at least 1, got %d", opts.tokens)
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
	prompt := tok.Encode(opts.prompt, true)
	if len(prompt) == 0 {
		return fmt.Errorf("the prompt encodes to no tokens")
	}
	ctx := min(len(prompt)+opts.tokens, m.Config.MaxPositions)
	if len(prompt)+opts.tokens > ctx {
		return fmt.Errorf("prompt (%d tokens) plus %d new tokens exceed the model's context of %d", len(prompt), opts.tokens, ctx)
	}
	sampler := &runtime.Sampler{Temperature: opts.temperature, TopP: opts.topP, Rand: rand.New(rand.NewPCG(opts.seed, 0))}
	eos := m.Config.EOSTokenIDs
	stop := func(id int) bool { return slices.Contains(eos, id) }
	start := time.Now()
	var emit func(int)
	if !opts.jsonOut {
		// Stream text as tokens arrive: print the newly decoded suffix.
		var ids []int
		printed := 0
		emit = func(id int) {
			ids = append(ids, id)
			text := tok.Decode(ids, true)
			// Hold back a partial UTF-8 character until its bytes arrive.
			if len(text) > printed && !strings.HasSuffix(text, "\uFFFD") {
				fmt.Fprint(stdout, text[printed:])
				printed = len(text)
			}
		}
	}
	out, err := m.NewState(ctx).Generate(prompt, opts.tokens, sampler, stop, emit)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if opts.jsonOut {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"prompt_ids":        prompt,
			"ids":               out,
			"text":              tok.Decode(out, true),
			"tokens_per_second": float64(len(out)) / secs,
		})
	}
	fmt.Fprintln(stdout)
	logf("%d tokens in %.2fs (%.1f tokens/s)", len(out), secs, float64(len(out))/secs)
	return nil
}
