package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/qtk-dev/qtk/synth"
	"github.com/spf13/cobra"
)

type synthOptions struct {
	like     string
	out      string
	layers   int
	seed     uint64
	maxShard string
	force    bool
}

func newSynthCmd() *cobra.Command {
	var opts synthOptions
	cmd := &cobra.Command{
		Use:   "synth --like SHAPE -o DIR",
		Short: "Write a checkpoint of a real model's shape with seeded random weights",
		Long: `Write config.json, tokenizer.json (byte-level, one token per byte) and
float16 safetensors of a real model's shape, filled with seeded random
weights, to measure speed at real sizes. Shapes: ` + strings.Join(synth.ShapeNames(), ", ") + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSynth(opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.like, "like", "", "model shape to imitate (required)")
	f.StringVarP(&opts.out, "output", "o", "", "output directory (required)")
	f.IntVar(&opts.layers, "layers", 0, "number of decoder layers (0: the model's)")
	f.Uint64Var(&opts.seed, "seed", 0, "seed of the random weights")
	f.StringVar(&opts.maxShard, "max-shard-size", "5GB", "largest weight file")
	f.BoolVar(&opts.force, "force", false, "replace an existing output directory")
	cmd.MarkFlagRequired("like")
	cmd.MarkFlagRequired("output")
	return cmd
}

func runSynth(opts synthOptions, stdout io.Writer) error {
	shape, err := synth.Lookup(opts.like)
	if err != nil {
		return err
	}
	maxShard, err := parseSize(opts.maxShard)
	if err != nil {
		return fmt.Errorf("--max-shard-size: %w", err)
	}
	start := time.Now()
	err = synth.Write(opts.out, shape, synth.Options{Layers: opts.layers, Seed: opts.seed, MaxShardBytes: maxShard, Force: opts.force})
	if err != nil {
		return err
	}
	logf("wrote %s (%s shape) in %.1fs", opts.out, opts.like, time.Since(start).Seconds())
	fmt.Fprintln(stdout, opts.out)
	return nil
}
