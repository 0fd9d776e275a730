package main

import (
	"encoding/json"
	"fmt"
	"github.com/qtk-dev/qtk/report"
	"io"
	"text/tabwriter"

	"github.com/qtk-dev/qtk/model"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var jsonOut bool
	var sizes sizeOptions
	cmd := &cobra.Command{
		Use:   "inspect MODEL|FILE.gguf",
		Short: "Describe a checkpoint or GGUF file: architecture, sizes per format, KV cache and serving memory, tensors",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(args[0], jsonOut, sizes, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&jsonOut, "json", false, "print one JSON object")
	f.IntVar(&sizes.batch, "batch", 1, "sequences served at once, for the memory estimate")
	f.IntVar(&sizes.ctx, "ctx", 0, "tokens per sequence, for the memory estimate (default the model's context length)")
	f.IntVar(&sizes.groupSize, "group-size", 128, "group size of the INT4 layouts sized")
	f.StringVar(&sizes.kvDType, "kv-dtype", "f16", "KV cache value type for the estimate: f16, bf16 or f32 (qtk's CPU runtime)")
	return cmd
}

type tensorRow struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	Bytes int    `json:"bytes"`
}

type inspectReport struct {
	SchemaVersion int          `json:"schema_version"`
	Command       string       `json:"command"`
	Dir           string       `json:"dir"`
	ModelType     string       `json:"model_type"`
	Parameters    int64        `json:"parameters"`
	DType         string       `json:"dtype"`
	Layers        int          `json:"layers"`
	Hidden        int          `json:"hidden_size"`
	FFN           int          `json:"intermediate_size"`
	Heads         int          `json:"heads"`
	KVHeads       int          `json:"kv_heads"`
	HeadDim       int          `json:"head_dim"`
	Vocab         int          `json:"vocab_size"`
	Context       int          `json:"max_position_embeddings"`
	RopeTheta     float64      `json:"rope_theta"`
	RopeType      string       `json:"rope_type"`
	TiedEmbedded  bool         `json:"tie_word_embeddings"`
	Quantization  string       `json:"quantization,omitempty"`
	WeightBytes   int          `json:"weight_bytes"`
	Sizes         *sizesReport `json:"sizes"`
	Tensors       []tensorRow  `json:"tensors"`
}

func runInspect(dir string, jsonOut bool, sizes sizeOptions, stdout io.Writer) error {
	if isGGUF(dir) {
		return runInspectGGUF(dir, jsonOut, sizes, stdout)
	}
	ck, err := model.Open(dir)
	if err != nil {
		return err
	}
	defer ck.Close()
	cfg := ck.Config
	rep := inspectReport{
		Dir: dir, ModelType: cfg.ModelType, Parameters: cfg.ParamCount(), DType: cfg.DType,
		Layers: cfg.NumLayers, Hidden: cfg.HiddenSize, FFN: cfg.IntermediateSize,
		Heads: cfg.NumHeads, KVHeads: cfg.NumKVHeads, HeadDim: cfg.HeadDim, Vocab: cfg.VocabSize,
		Context: cfg.MaxPositions, RopeTheta: cfg.Rope.Theta, RopeType: cfg.Rope.Type,
		TiedEmbedded: cfg.TieWordEmbeddings,
	}
	if ck.Quant != nil {
		rep.Quantization = fmt.Sprintf("%s, %d-bit, group %d, symmetric %v", ck.Quant.Format, ck.Quant.Scheme.Bits, ck.Quant.Scheme.GroupSize, ck.Quant.Scheme.Symmetric)
	}
	stored, err := ck.StoredTensors()
	if err != nil {
		return err
	}
	for _, t := range stored {
		rep.Tensors = append(rep.Tensors, tensorRow{Name: t.Name, DType: string(t.DType), Shape: t.Shape, Bytes: len(t.Data)})
		rep.WeightBytes += len(t.Data)
	}
	if rep.Sizes, err = newSizesReport(cfg, sizes); err != nil {
		return err
	}
	if jsonOut {
		rep.SchemaVersion, rep.Command = report.SchemaVersion, "inspect"
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "%s: %s, %.2fM parameters, %s\n", dir, cfg.ModelType, float64(rep.Parameters)/1e6, cfg.DType)
	fmt.Fprintf(stdout, "  layers %d, hidden %d, ffn %d, heads %d (kv %d, dim %d), vocab %d, context %d\n",
		cfg.NumLayers, cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim, cfg.VocabSize, cfg.MaxPositions)
	fmt.Fprintf(stdout, "  rope %s theta %g, tied embeddings %v, weights %.1f MB\n", cfg.Rope.Type, cfg.Rope.Theta, cfg.TieWordEmbeddings, float64(rep.WeightBytes)/1e6)
	if rep.Quantization != "" {
		fmt.Fprintf(stdout, "  quantized: %s\n", rep.Quantization)
	}
	fmt.Fprintln(stdout)
	if err := rep.Sizes.print(stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tDTYPE\tSHAPE\tBYTES")
	for _, t := range rep.Tensors {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\n", t.Name, t.DType, t.Shape, t.Bytes)
	}
	return tw.Flush()
}
