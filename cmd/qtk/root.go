package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	var out outputOptions
	root := &cobra.Command{
		Use:   "qtk",
		Short: "Quantize LLaMA-family checkpoints and check the result",
		Long: `qtk reads Hugging Face safetensors checkpoints, tokenizes exactly like the
Hugging Face tokenizers library, runs the model on the CPU and measures
perplexity and speed.

Results go to stdout (--json for one versioned JSON object), logs and
progress to stderr. Exit codes: 0 success, 1 error, 3 a gate failed,
130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setupOutput(cmd, out)
		},
	}
	f := root.PersistentFlags()
	f.BoolVarP(&out.quiet, "quiet", "q", false, "no progress and no informational logs on stderr (warnings and errors only)")
	f.StringVar(&out.logFormat, "log-format", "text", "log format on stderr: text or json (log/slog)")
	root.AddCommand(newInspectCmd(), newTokenizeCmd(), newGenerateCmd(), newEvalCmd(), newQuantizeCmd(), newConvertCmd(), newBenchCmd(), newEngineServeCmd(), newSynthCmd())
	return root
}
