package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/qtk-dev/qtk/progress"
	"github.com/spf13/cobra"
)

// outputOptions are the root flags that shape stderr.
type outputOptions struct {
	quiet     bool
	logFormat string
}

// showProgress receives the progress of the running command's long steps;
// nil (nothing shown) under --quiet.
var showProgress progress.Func

// setupOutput routes logs (log/slog, text or JSON) and progress to
// stderr: on a terminal progress is a bar redrawn in place and logs are
// written above it; otherwise progress is logged too.
func setupOutput(cmd *cobra.Command, opts outputOptions) error {
	stderr := cmd.ErrOrStderr()
	level := slog.LevelInfo
	if opts.quiet {
		level = slog.LevelWarn
	}
	tty := isTerminal(stderr)
	// On a terminal logs go through the bar's display, which clears the
	// bar before each log line; elsewhere progress goes through the logs.
	var bar *progress.Display
	logOut := stderr
	if tty {
		bar = progress.NewDisplay(stderr, true, nil)
		logOut = bar
	}
	handlerOpts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler
	switch opts.logFormat {
	case "text":
		handler = slog.NewTextHandler(logOut, handlerOpts)
	case "json":
		handler = slog.NewJSONHandler(logOut, handlerOpts)
	default:
		return fmt.Errorf("--log-format %q: want text or json", opts.logFormat)
	}
	logger := slog.New(handler)
	slog.SetDefault(logger)
	if !tty {
		bar = progress.NewDisplay(stderr, false, logger)
	}
	showProgress = bar.Func()
	if opts.quiet {
		showProgress = nil
	}
	return nil
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// logf logs one informational line.
func logf(format string, args ...any) {
	slog.Info(fmt.Sprintf(format, args...))
}
