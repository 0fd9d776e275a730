package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/qtk-dev/qtk/report"
	"io"
	"strings"
	"time"

	"github.com/qtk-dev/qtk/serving"
	"github.com/spf13/cobra"
)

type generateOptions struct {
	engine      engineFlags
	prompt      string
	tokens      int
	temperature float64
	topK        int
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
		Long: `generate continues a prompt through the serving engine (the one qtk bench
drives), stopping at the model's end-of-sequence token; --draft speeds it
up with speculative decoding without changing greedy output. On a GPU that
holds whole decoder layers (--device cuda), the whole forward pass runs
there instead, without the engine (unless --draft is given).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenerate(args[0], opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	opts.engine.register(f)
	f.StringVarP(&opts.prompt, "prompt", "p", "", "prompt text (required)")
	f.IntVarP(&opts.tokens, "tokens", "n", 32, "number of tokens to generate")
	f.Float64Var(&opts.temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	f.IntVar(&opts.topK, "top-k", 0, "keep only the k most likely tokens; 0 keeps all")
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
	if len(prompt)+opts.tokens > m.Config.MaxPositions {
		return fmt.Errorf("prompt (%d tokens) plus %d new tokens exceed the model's context of %d", len(prompt), opts.tokens, m.Config.MaxPositions)
	}
	var e generator
	if m.Resident() && opts.engine.draft == "" {
		e, err = serving.NewSingle(m, len(prompt)+opts.tokens)
	} else {
		e, err = opts.engine.engine(m, tok, 0, be)
	}
	if err != nil {
		return err
	}
	defer e.Close()
	start := time.Now()
	events, err := e.Submit(context.Background(), serving.Request{
		Prompt:    prompt,
		MaxTokens: opts.tokens,
		Sampling:  serving.Sampling{Temperature: opts.temperature, TopK: opts.topK, TopP: opts.topP, Seed: opts.seed},
		Stop:      m.Config.EOSTokenIDs,
	})
	if err != nil {
		return err
	}
	var out []int
	printed := 0
	for ev := range events {
		if ev.Done {
			if ev.Err != nil {
				return ev.Err
			}
			if ev.Finish == serving.FinishStop {
				out = append(out, ev.Token) // the end-of-sequence token
			}
			continue
		}
		out = append(out, ev.Token)
		if !opts.jsonOut {
			// Stream text as tokens arrive: print the newly decoded suffix,
			// holding back a partial UTF-8 character until its bytes arrive.
			text := tok.Decode(out, true)
			if len(text) > printed && !strings.HasSuffix(text, "\uFFFD") {
				fmt.Fprint(stdout, text[printed:])
				printed = len(text)
			}
		}
	}
	secs := time.Since(start).Seconds()
	if opts.jsonOut {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"schema_version":    report.SchemaVersion,
			"command":           "generate",
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
