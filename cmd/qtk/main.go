// Command qtk quantizes LLaMA-family checkpoints and measures the result.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/qtk-dev/qtk/gate"
)

// Exit codes besides 0 (success) and 1 (any other error); README lists
// them.
const (
	exitGate        = gate.ExitCode // a gate (--max-delta, --max-ppl-delta) failed
	exitInterrupted = 130           // Ctrl-C or SIGTERM
)

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "qtk: %v\n", err)
	os.Exit(exitCode(err))
}

// exitCode is the process status for an error returned by a command.
func exitCode(err error) int {
	var exit exitError
	switch {
	case errors.As(err, &exit):
		return exit.code
	case gate.IsFailure(err):
		return exitGate
	}
	return 1
}

// exitError carries a specific exit code to main.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
