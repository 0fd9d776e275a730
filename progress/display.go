package progress

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// LogInterval is the least time between two log lines of one step of more
// than LogEveryUnit units when the output is not a terminal; a step's
// first and last lines are always logged.
const LogInterval = 5 * time.Second

// LogEveryUnit is the most units a step may have for every unit to be
// logged when the output is not a terminal: one line per layer or tensor,
// while evaluation windows are sampled.
const LogEveryUnit = 128

// barWidth is the number of cells of the terminal bar.
const barWidth = 24

// Display shows progress on a terminal as one bar redrawn in place, with
// the time elapsed and an estimate of the time left; elsewhere (a pipe, a
// CI log) as log lines through logger: one per unit for steps of at most
// LogEveryUnit units, else the first and last of each step and at most one
// every LogInterval between them.
//
// On a terminal, send log output through the Display (it is an
// io.Writer) so that a log line clears the bar and the bar is redrawn
// below it.
type Display struct {
	mu     sync.Mutex
	out    io.Writer
	tty    bool
	logger *slog.Logger
	now    func() time.Time
	steps  map[string]*stepState
	bar    string // the line drawn on the terminal, "" when none
}

type stepState struct {
	start, lastLog time.Time
}

// NewDisplay shows progress on out when tty is set, and through logger
// (slog's default when nil) otherwise.
func NewDisplay(out io.Writer, tty bool, logger *slog.Logger) *Display {
	if logger == nil {
		logger = slog.Default()
	}
	return &Display{out: out, tty: tty, logger: logger, now: time.Now, steps: map[string]*stepState{}}
}

// Func returns the Func to hand to library code.
func (d *Display) Func() Func { return d.Report }

// Report records that done of total units of step are finished.
func (d *Display) Report(step string, done, total int) {
	if total <= 0 {
		return
	}
	done = min(max(done, 0), total)
	d.mu.Lock()
	now := d.now()
	st, ok := d.steps[step]
	if !ok {
		st = &stepState{start: now}
		d.steps[step] = st
	}
	finished := done == total
	if finished {
		delete(d.steps, step)
	}
	elapsed := now.Sub(st.start)
	if d.tty {
		d.draw(bar(step, done, total, elapsed), finished)
		d.mu.Unlock()
		return
	}
	logIt := !ok || finished || total <= LogEveryUnit || now.Sub(st.lastLog) >= LogInterval
	if logIt {
		st.lastLog = now
	}
	d.mu.Unlock()
	if logIt {
		attrs := []any{"step", step, "done", done, "total", total, "elapsed", seconds(elapsed)}
		if done > 0 && !finished {
			attrs = append(attrs, "eta", seconds(eta(elapsed, done, total)))
		}
		d.logger.Info("progress", attrs...)
	}
}

// draw replaces the bar with line; a finished step's bar stays on screen.
func (d *Display) draw(line string, finished bool) {
	fmt.Fprintf(d.out, "\r\033[K%s", line)
	d.bar = line
	if finished {
		fmt.Fprintln(d.out)
		d.bar = ""
	}
}

// Write writes p (log output) above the bar.
func (d *Display) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bar != "" {
		fmt.Fprint(d.out, "\r\033[K")
	}
	n, err := d.out.Write(p)
	if d.bar != "" {
		fmt.Fprint(d.out, d.bar)
	}
	return n, err
}

// bar renders "step [#####.....] 3/8 37% 12s, ETA 20s".
func bar(step string, done, total int, elapsed time.Duration) string {
	filled := barWidth * done / total
	line := fmt.Sprintf("%s [%s%s] %d/%d %3d%% %s", step,
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		done, total, 100*done/total, elapsed.Round(time.Second))
	switch {
	case done == total:
		return line
	case done == 0:
		return line + ", ETA -"
	}
	return line + ", ETA " + eta(elapsed, done, total).Round(time.Second).String()
}

// eta extrapolates the time left from the pace so far.
func eta(elapsed time.Duration, done, total int) time.Duration {
	return time.Duration(float64(elapsed) / float64(done) * float64(total-done))
}

// seconds rounds a duration to tenths of a second for log attributes.
func seconds(d time.Duration) float64 {
	return float64(d.Round(100*time.Millisecond)) / float64(time.Second)
}
