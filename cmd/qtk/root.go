package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "qtk",
		Short: "Quantize LLaMA-family checkpoints and check the result",
		Long: `qtk reads Hugging Face safetensors checkpoints, tokenizes exactly like the
Hugging Face tokenizers library, runs the model on the CPU and measures
perplexity and speed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newInspectCmd(), newTokenizeCmd(), newGenerateCmd(), newEvalCmd(), newQuantizeCmd(), newConvertCmd(), newSynthCmd())
	return root
}
