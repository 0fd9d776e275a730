package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/qtk-dev/qtk/tokenizer"
	"github.com/spf13/cobra"
)

type tokenizeOptions struct {
	text      string
	hasText   bool
	decode    bool
	noSpecial bool
}

func newTokenizeCmd() *cobra.Command {
	var opts tokenizeOptions
	cmd := &cobra.Command{
		Use:   "tokenize MODEL",
		Short: "Print the token ids of a text (stdin or --text), or decode ids with --decode",
		Long: `Encode text with the model's tokenizer and print the ids on one line,
separated by spaces, with the special tokens the tokenizer adds (BOS...).
With --decode, read ids (from --text or stdin) and print the text.
MODEL is a model directory, a GGUF file or a tokenizer.json file.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.hasText = cmd.Flags().Changed("text")
			return runTokenize(args[0], opts, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&opts.text, "text", "", "text to encode (default: read stdin)")
	cmd.Flags().BoolVar(&opts.decode, "decode", false, "decode token ids into text")
	cmd.Flags().BoolVar(&opts.noSpecial, "no-special", false, "encode without the special tokens the tokenizer adds; decode without special tokens")
	return cmd
}

func runTokenize(path string, opts tokenizeOptions, stdin io.Reader, stdout io.Writer) error {
	tok, err := loadTokenizer(path)
	if err != nil {
		return err
	}
	input := opts.text
	if !opts.hasText {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		input = string(data)
	}
	result, err := tokenizeResult(tok, input, opts)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(stdout, result); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return nil
}

// tokenizeResult is the line tokenize prints: the ids of input, or with
// opts.decode the text of the ids in input.
func tokenizeResult(tok *tokenizer.Tokenizer, input string, opts tokenizeOptions) (string, error) {
	var b strings.Builder
	if opts.decode {
		var ids []int
		for _, field := range strings.Fields(input) {
			id, err := strconv.Atoi(field)
			if err != nil || id < 0 || id >= tok.VocabSize() {
				return "", fmt.Errorf("--decode: %q is not a token id of this tokenizer (0..%d)", field, tok.VocabSize()-1)
			}
			ids = append(ids, id)
		}
		b.WriteString(tok.Decode(ids, opts.noSpecial))
	} else {
		for i, id := range tok.Encode(input, !opts.noSpecial) {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(id))
		}
	}
	b.WriteByte('\n')
	return b.String(), nil
}
