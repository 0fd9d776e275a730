package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/qtk-dev/qtk/convert"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/report"
	"github.com/spf13/cobra"
)

type convertOptions struct {
	to      string
	typ     string
	out     string
	force   bool
	jsonOut bool
}

func newConvertCmd() *cobra.Command {
	var opts convertOptions
	cmd := &cobra.Command{
		Use:   "convert MODEL --to gguf --type TYPE -o OUT",
		Short: "Convert a checkpoint to another file format (GGUF)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConvert(args[0], opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.to, "to", "gguf", "output format: gguf")
	f.StringVar(&opts.typ, "type", "f16", "tensor type: f16, bf16, q8_0, q4_0, q4_1, q4_k_m or q6_k")
	f.StringVarP(&opts.out, "output", "o", "", "output file (required)")
	f.BoolVar(&opts.force, "force", false, "replace an existing output file")
	f.BoolVar(&opts.jsonOut, "json", false, "print one JSON object with the results")
	cmd.MarkFlagRequired("output")
	return cmd
}

func runConvert(dir string, opts convertOptions, stdout io.Writer) error {
	if opts.to != "gguf" {
		return fmt.Errorf("--to %q: only gguf is supported", opts.to)
	}
	ck, err := model.Open(dir)
	if err != nil {
		return err
	}
	defer ck.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := convert.WriteGGUF(ctx, ck, opts.out, convert.GGUFOptions{Type: opts.typ, Force: opts.force, Log: logf, Progress: showProgress})
	if err != nil {
		if ctx.Err() != nil {
			return exitError{code: exitInterrupted, err: fmt.Errorf("interrupted; nothing was written to %s", opts.out)}
		}
		return err
	}
	logf("wrote %s (%s %s, %d tensors %v, %.1f MB) in %.1fs", opts.out, rep.Arch, rep.Type, rep.Tensors, rep.TypeCount, float64(rep.Bytes)/1e6, rep.Seconds)
	if !opts.jsonOut {
		return nil
	}
	run := report.New("convert")
	run.Convert = &report.ConvertInfo{Type: rep.Type, Arch: rep.Arch, Tensors: rep.Tensors, TensorTypes: rep.TypeCount, Fallbacks: rep.Fallbacks, Seconds: rep.Seconds}
	v, err := report.DescribeFile(opts.out, "gguf "+rep.Type, ck.Config.ParamCount())
	if err != nil {
		return err
	}
	run.Variants = append(run.Variants, v)
	return run.WriteJSON(stdout)
}
